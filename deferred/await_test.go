package deferred

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAwaitCancelCaptured ports Twisted's test_inlineCallbacksCancelCaptured:
// cancelling the Go Deferred while its body awaits cancels the awaited
// Deferred; a body that catches the cancellation carries on and the Go
// Deferred has no result; a second Cancel cancels what it awaits next, and
// the uncaught cancellation fails the Go Deferred.
func TestAwaitCancelCaptured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls1, calls2 int
		d1 := NewWithCanceller(func(*Deferred[int]) { calls1++ })
		d2 := NewWithCanceller(func(*Deferred[int]) { calls2++ })
		funcD := Go(context.Background(), func(ctx context.Context) (int, error) {
			_, _ = Await(ctx, d1) // the error is caught
			return Await(ctx, d2)
		})
		synctest.Wait()
		requireNoResult(t, funcD)
		funcD.Cancel()
		synctest.Wait()
		assert.Equal(t, 1, calls1)
		assert.Zero(t, calls2)
		requireNoResult(t, funcD)
		funcD.Cancel()
		synctest.Wait()
		assert.Equal(t, 1, calls2)
		_, err := resultOf(t, funcD)
		assert.ErrorIs(t, err, ErrCancelled)
	})
}

// TestAwaitErrorToSuccessTranslation ports Twisted's
// doErrorToSuccessTranslation: the body turns the cancellation of what it
// awaits into a value, which the Go Deferred fires with.
func TestAwaitErrorToSuccessTranslation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		child := New[int]()
		d := Go(context.Background(), func(ctx context.Context) (int, error) {
			v, err := Await(ctx, child)
			if errors.Is(err, ErrCancelled) {
				return 4321, nil
			}
			return v, err
		})
		synctest.Wait()
		d.CancelCause(errShutdown)
		synctest.Wait()
		_, err := resultOf(t, child)
		assert.ErrorIs(t, err, errShutdown, "the awaited Deferred was cancelled with the cause")
		v, err := resultOf(t, d)
		require.NoError(t, err)
		assert.Equal(t, 4321, v)
	})
}

// TestAwaitAsynchronousCancellation ports Twisted's
// doAsynchronousCancellation: when the awaited Deferred's chain turns the
// cancellation into another wait, the Go Deferred waits for that too.
func TestAwaitAsynchronousCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		more := New[int]()
		child := New[int]().AddErrbackDeferred(func(err error) (*Deferred[int], error) {
			if !errors.Is(err, ErrCancelled) {
				return nil, err
			}
			return more, nil
		})
		d := Go(context.Background(), func(ctx context.Context) (int, error) {
			v, err := Await(ctx, child)
			return v + 1, err
		})
		synctest.Wait()
		d.Cancel()
		synctest.Wait()
		requireNoResult(t, d)
		require.NoError(t, more.Callback(6543))
		synctest.Wait()
		v, err := resultOf(t, d)
		require.NoError(t, err)
		assert.Equal(t, 6544, v)
	})
}

// TestGoCancelOutsideAwait: a Cancel while the body does not await fails
// the Deferred at once (deferToThread) and cancels the body's context with
// the cause.
func TestGoCancelOutsideAwait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		causes := make(chan error, 1)
		d := Go(context.Background(), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return 1, nil
		})
		synctest.Wait()
		d.CancelCause(errShutdown)
		_, err := resultOf(t, d)
		assert.ErrorIs(t, err, ErrCancelled)
		assert.ErrorIs(t, err, errShutdown)
		assert.Equal(t, errShutdown, <-causes)
	})
}

// TestAwaitContext: outside Go, Await cancels the awaited Deferred when
// ctx ends and returns its outcome.
func TestAwaitContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		d := NewWithCanceller(func(d *Deferred[string]) { _ = d.Callback("partial") })
		got := make(chan string, 1)
		go func() {
			v, err := Await(ctx, d)
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		cancel(errShutdown)
		assert.Equal(t, "partial", <-got)

		v, err := Await(context.Background(), Succeed("ready"))
		require.NoError(t, err)
		assert.Equal(t, "ready", v)
	})
}

// TestAwaitCascadeStacked ports Twisted's doCascadeCancellingOnCancel and
// doErrbackCancelledErrorOnCancel with stacked inlineCallbacks: the outer
// body awaits a Go whose body awaits a child; cancelling the outer Deferred
// cancels the child through both, and the uncaught ErrCancelled fails
// both. On the second awaited Deferred too (cancelOnSecondDeferred).
func TestAwaitCascadeStacked(t *testing.T) {
	for _, second := range []bool{false, true} {
		t.Run(map[bool]string{false: "first", true: "second"}[second], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				first := New[int]()
				var childErr error
				child := New[int]().AddErrback(func(err error) (int, error) {
					childErr = err
					return 0, err
				})
				var inner *Deferred[int]
				outer := Go(context.Background(), func(ctx context.Context) (int, error) {
					if second {
						if _, err := Await(ctx, first); err != nil {
							return 0, err
						}
					}
					inner = Go(ctx, func(ctx context.Context) (int, error) { return Await(ctx, child) })
					return Await(ctx, inner)
				})
				if second {
					synctest.Wait()
					require.NoError(t, first.Callback(1))
				}
				synctest.Wait()
				outer.Cancel()
				synctest.Wait()
				assert.ErrorIs(t, childErr, ErrCancelled, "the cancellation cascaded to the child")
				_, err := resultOf(t, inner)
				assert.ErrorIs(t, err, ErrCancelled)
				_, err = resultOf(t, outer)
				assert.ErrorIs(t, err, ErrCancelled)
			})
		})
	}
}
