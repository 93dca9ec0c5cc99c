package deferred

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// concurrency counts the calls running at once and their maximum.
type concurrency struct{ now, max atomic.Int32 }

func (c *concurrency) enter() {
	n := c.now.Add(1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			return
		}
	}
}

func (c *concurrency) leave() { c.now.Add(-1) }

func TestMapOrderAndLimit(t *testing.T) {
	for _, tc := range []struct{ n, limit, wantMax int }{
		{n: 100, limit: 8, wantMax: 8},
		{n: 3, limit: 8, wantMax: 3},
		{n: 20, limit: 0, wantMax: 20}, // no limit
		{n: 20, limit: -1, wantMax: 20},
		{n: 5, limit: 1, wantMax: 1},
	} {
		t.Run(fmt.Sprintf("n=%d/limit=%d", tc.n, tc.limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				inputs := make([]int, tc.n)
				for i := range inputs {
					inputs[i] = i
				}
				var c concurrency
				release := make(chan struct{})
				d := Map(context.Background(), tc.limit, inputs, func(_ context.Context, v int) (int, error) {
					c.enter()
					defer c.leave()
					<-release
					return v * v, nil
				})
				synctest.Wait() // every worker is blocked in a call
				assert.Equal(t, int32(tc.wantMax), c.max.Load())
				requireNoResult(t, d)
				close(release)
				synctest.Wait()
				vs, err := resultOf(t, d)
				require.NoError(t, err)
				require.Len(t, vs, tc.n)
				for i, v := range vs {
					assert.Equal(t, i*i, v)
				}
			})
		})
	}
}

func TestMapFirstErrorCancelsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inputs := make([]int, 100)
		for i := range inputs {
			inputs[i] = i
		}
		var calls atomic.Int32
		causes := make(chan error, 1)
		d := Map(context.Background(), 2, inputs, func(ctx context.Context, v int) (int, error) {
			calls.Add(1)
			switch v {
			case 0:
				<-ctx.Done() // running when input 1 fails
				causes <- context.Cause(ctx)
				return 0, ctx.Err()
			case 1:
				return 0, errGeneric
			}
			return v, nil
		})
		synctest.Wait()
		_, err := resultOf(t, d)
		var fe *FirstError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, 1, fe.Index)
		assert.ErrorIs(t, err, errGeneric)
		assert.Equal(t, int32(2), calls.Load(), "no input starts after the first error")
		cause := <-causes
		require.ErrorAs(t, cause, &fe, "the calls' context names the first error")
		assert.ErrorIs(t, cause, errGeneric)
	})
}

func TestMapCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ended atomic.Int32
		d := Map(context.Background(), 4, make([]int, 10), func(ctx context.Context, _ int) (int, error) {
			defer ended.Add(1)
			<-ctx.Done()
			return 0, nil // ignore the cancellation: Map still reports it
		})
		synctest.Wait()
		d.CancelCause(errShutdown)
		requireNoResult(t, d) // the running calls see their context end first
		synctest.Wait()
		_, err := resultOf(t, d)
		assert.ErrorIs(t, err, ErrCancelled)
		assert.ErrorIs(t, err, errShutdown)
		assert.Equal(t, int32(4), ended.Load(), "only the four running calls ran")
	})
}

func TestMapContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		d := Map(ctx, 1, []int{1, 2, 3}, func(ctx context.Context, v int) (int, error) {
			cancel()
			return v, nil
		})
		synctest.Wait()
		_, err := resultOf(t, d)
		assert.ErrorIs(t, err, ErrCancelled)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestMapPanicAndEmpty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := Map(context.Background(), 2, []int{1, 2}, func(_ context.Context, v int) (int, error) {
			if v == 2 {
				panic("bug")
			}
			return v, nil
		})
		synctest.Wait()
		_, err := resultOf(t, d)
		var pe *PanicError
		assert.ErrorAs(t, err, &pe)
	})
	vs, err := resultOf(t, Map(context.Background(), 2, nil, func(context.Context, int) (int, error) { return 0, nil }))
	require.NoError(t, err)
	assert.Empty(t, vs)
	assert.Empty(t, MapEach(context.Background(), 2, nil, func(context.Context, int) (int, error) { return 0, nil }))
	assert.Panics(t, func() { Map[int, int](context.Background(), 1, nil, nil) })
	assert.Panics(t, func() { MapEach[int, int](context.Background(), 1, nil, nil) })
}

func TestMapEach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		ds := MapEach(context.Background(), 1, []int{0, 1, 2, 3}, func(_ context.Context, v int) (int, error) {
			if v == 0 {
				<-gate
			}
			if v == 2 {
				return 0, errGeneric
			}
			return v * 10, nil
		})
		require.Len(t, ds, 4)
		synctest.Wait()
		ds[1].Cancel() // not started yet: it never runs
		close(gate)
		synctest.Wait()
		v, err := resultOf(t, ds[0])
		require.NoError(t, err)
		assert.Equal(t, 0, v)
		_, err = resultOf(t, ds[1])
		assert.Equal(t, ErrCancelled, err)
		_, err = resultOf(t, ds[2])
		assert.ErrorIs(t, err, errGeneric)
		_, err = resultOf(t, ds[3])
		assert.ErrorIs(t, err, ErrCancelled, "skipped after the first error")
		assert.ErrorIs(t, err, errGeneric)
		var fe *FirstError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, 2, fe.Index)
	})
}

func TestMapEachContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		ds := MapEach(ctx, 1, []int{1, 2}, func(ctx context.Context, v int) (int, error) {
			cancel(errShutdown)
			return v, nil
		})
		synctest.Wait()
		v, err := resultOf(t, ds[0])
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		_, err = resultOf(t, ds[1])
		assert.ErrorIs(t, err, ErrCancelled)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, errShutdown)
		assert.False(t, errors.Is(err, errGeneric))
	})
}
