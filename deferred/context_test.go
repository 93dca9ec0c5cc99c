package deferred

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errShutdown = errors.New("shutting down")

func TestCancelCause(t *testing.T) {
	cases := []struct {
		name string
		make func() *Deferred[int]
	}{
		{"no canceller", New[int]},
		{"canceller that does not fire", func() *Deferred[int] { return NewWithCanceller(func(*Deferred[int]) {}) }},
		{"waiting on an inner Deferred", func() *Deferred[int] {
			inner := New[int]()
			return Succeed(0).AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
		}},
		{"Then", func() *Deferred[int] { return Then(New[string](), func(string) (int, error) { return 1, nil }) }},
		{"Gather input", func() *Deferred[int] {
			g := Gather([]*Deferred[int]{New[int]()}, ListOptions{})
			return Then(g, func([]int) (int, error) { return 0, nil })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.make()
			d.CancelCause(errShutdown)
			_, err := resultOf(t, d)
			assert.ErrorIs(t, err, ErrCancelled)
			assert.ErrorIs(t, err, errShutdown, "the cause travels with the cancellation")
			var ce *CancelError
			require.ErrorAs(t, err, &ce)
		})
	}
	d := New[int]()
	d.CancelCause(nil)
	_, err := resultOf(t, d)
	assert.Equal(t, ErrCancelled, err, "a nil cause is Cancel")
}

func TestCancelCauseOf(t *testing.T) {
	var seen error
	d := NewWithCanceller(func(d *Deferred[int]) { seen = CancelCauseOf(d) })
	assert.NoError(t, CancelCauseOf(d))
	d.CancelCause(errShutdown)
	assert.Equal(t, errShutdown, seen)
}

func TestBind(t *testing.T) {
	t.Run("context cancelled with a cause", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			d := New[int]().Bind(ctx)
			cancel(errShutdown)
			synctest.Wait()
			_, err := resultOf(t, d)
			assert.ErrorIs(t, err, ErrCancelled)
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, err, errShutdown)
		})
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			d := New[int]().Bind(ctx)
			time.Sleep(time.Second)
			synctest.Wait()
			_, err := resultOf(t, d)
			assert.ErrorIs(t, err, ErrCancelled)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		})
	})
	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := resultOf(t, New[int]().Bind(ctx))
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("result first releases the binding", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			d := New[int]().Bind(ctx)
			require.NoError(t, d.Callback(1))
			cancel()
			synctest.Wait()
			v, err := resultOf(t, d)
			require.NoError(t, err)
			assert.Equal(t, 1, v)
		})
	})
}

// lateContext is a context that the test ends by hand (context.AfterFunc
// uses its AfterFunc method to learn of the end) and whose Err, after the
// first two calls (those context's own machinery makes when the context
// ends, for Err and Cause), blocks until the test opens gate. It holds the function that
// context.AfterFunc runs on its goroutine at the point where it asks why
// the context ended: that function has started, so stop can no longer
// prevent it, but it has not cancelled anything yet.
type lateContext struct {
	context.Context
	fns   []func()
	ended atomic.Bool
	calls atomic.Int32
	gate  chan struct{}
}

func (c *lateContext) Done() <-chan struct{} { return make(chan struct{}) }

func (c *lateContext) Err() error {
	if !c.ended.Load() {
		return nil
	}
	if c.calls.Add(1) > 2 {
		<-c.gate
	}
	return context.Canceled
}

func (c *lateContext) AfterFunc(f func()) (stop func() bool) {
	c.fns = append(c.fns, f)
	return func() bool { return false }
}

func (c *lateContext) end() {
	c.ended.Store(true)
	for _, f := range c.fns {
		f()
	}
}

// TestBindRacingResult: when the context ends just as the result comes, so
// that the binding's function has started but not acted when the result's
// link stops it, the function does nothing: Bind covers none of the
// callbacks added after it, so the inner Deferred a later callback returned
// is not cancelled.
func TestBindRacingResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := &lateContext{Context: context.Background(), gate: make(chan struct{})}
		d := New[int]().Bind(ctx)
		ctx.end()
		synctest.Wait() // the binding's function now waits in Err
		inner := New[int]()
		d.AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
		require.NoError(t, d.Callback(1))
		close(ctx.gate)
		synctest.Wait()
		requireNoResult(t, inner)
		require.NoError(t, inner.Callback(2))
		v, err := resultOf(t, d)
		require.NoError(t, err)
		assert.Equal(t, 2, v)
	})
}
