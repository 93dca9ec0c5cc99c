package deferred

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errUntranslated = errors.New("untranslated")
var errTranslated = errors.New("translated")

// TestAwaitErrorToErrorTranslation ports Twisted's doErrorToErrorTranslation
// and doErrbackCancelledErrorOnCancel (not stacked, and on the second
// awaited Deferred): cancelling the Go Deferred cancels what its body
// awaits; the body may translate that error into another, or let the
// cancellation fail the Go Deferred.
func TestAwaitErrorToErrorTranslation(t *testing.T) {
	cases := []struct {
		name      string
		canceller func(*Deferred[int])
		second    bool
		want      error
	}{
		{name: "ErrorToErrorTranslation", canceller: func(d *Deferred[int]) { _ = d.Errback(errUntranslated) }, want: errTranslated},
		{name: "ErrorToErrorTranslationOnSecondDeferred", canceller: func(d *Deferred[int]) { _ = d.Errback(errUntranslated) }, second: true, want: errTranslated},
		{name: "ErrbackCancelledErrorOnCancel", want: ErrCancelled},
		{name: "ErrbackCancelledErrorOnCancelOnSecondDeferred", second: true, want: ErrCancelled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				first := New[int]()
				child := NewWithCanceller(tc.canceller)
				d := Go(context.Background(), func(ctx context.Context) (int, error) {
					if tc.second {
						if _, err := Await(ctx, first); err != nil {
							return 0, err
						}
					}
					v, err := Await(ctx, child)
					if errors.Is(err, errUntranslated) {
						return 0, errTranslated
					}
					return v + 1, err
				})
				if tc.second {
					require.NoError(t, first.Callback(1))
				}
				synctest.Wait()
				requireNoResult(t, d)
				d.Cancel()
				synctest.Wait()
				_, err := resultOf(t, d)
				require.ErrorIs(t, err, tc.want)
				if tc.want == errTranslated {
					assert.NotErrorIs(t, err, ErrCancelled)
				}
			})
		})
	}
}

// TestCancelWaitingOnInner covers Twisted's cancel of a Deferred whose
// chain waits on another: the inner one is cancelled, whatever its
// canceller does, and the outer chain continues with its outcome; an inner
// Deferred that already fired (paused) is left alone.
func TestCancelWaitingOnInner(t *testing.T) {
	t.Run("canceller ignores", func(t *testing.T) {
		calls := 0
		inner := NewWithCanceller(func(*Deferred[int]) { calls++ })
		outer := Succeed(1).AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
		requireNoResult(t, outer)
		outer.Cancel()
		outer.Cancel()
		assert.Equal(t, 1, calls)
		_, err := resultOf(t, outer)
		assert.ErrorIs(t, err, ErrCancelled)
	})
	t.Run("canceller succeeds", func(t *testing.T) {
		inner := NewWithCanceller(func(d *Deferred[int]) { _ = d.Callback(7) })
		outer := Succeed(1).AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
		outer.Cancel()
		v, err := resultOf(t, outer)
		require.NoError(t, err)
		assert.Equal(t, 7, v)
	})
	t.Run("inner fired but paused", func(t *testing.T) {
		inner := New[int]()
		inner.Pause()
		require.NoError(t, inner.Callback(5))
		outer := Succeed(1).AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
		requireNoResult(t, outer)
		outer.Cancel()
		requireNoResult(t, outer)
		inner.Unpause()
		v, err := resultOf(t, outer)
		require.NoError(t, err)
		assert.Equal(t, 5, v)
	})
	t.Run("inner is a List", func(t *testing.T) {
		a, b := New[int](), New[int]()
		outer := Succeed([]Outcome[int]{}).AddCallbackDeferred(func([]Outcome[int]) (*Deferred[[]Outcome[int]], error) {
			return List([]*Deferred[int]{a, b}, ListOptions{}), nil
		})
		outer.Cancel()
		v, err := resultOf(t, outer)
		require.NoError(t, err)
		require.Len(t, v, 2)
		assert.ErrorIs(t, v[0].Err, ErrCancelled)
		assert.ErrorIs(t, v[1].Err, ErrCancelled)
	})
}

// TestCancelListKeepErrors is test_cancelDeferredList with Twisted's
// default consumeErrors=False: each input keeps its ErrCancelled and the
// list fires with both; a second Cancel changes nothing.
func TestCancelListKeepErrors(t *testing.T) {
	a, b := New[int](), New[int]()
	dl := List([]*Deferred[int]{a, b}, ListOptions{KeepErrors: true})
	dl.Cancel()
	dl.Cancel()
	_, err := resultOf(t, a)
	assert.ErrorIs(t, err, ErrCancelled)
	_, err = resultOf(t, b)
	assert.ErrorIs(t, err, ErrCancelled)
	v, err := resultOf(t, dl)
	require.NoError(t, err)
	require.Len(t, v, 2)
	assert.ErrorIs(t, v[0].Err, ErrCancelled)
	assert.ErrorIs(t, v[1].Err, ErrCancelled)
}

// TestCancelListTwiceWithStubbornInput: an input whose canceller neither
// fires it nor lets it come to rest (it is paused) keeps the List waiting;
// every Cancel before the List fired cancels the inputs again, as
// Twisted's DeferredList.cancel does.
func TestCancelListTwiceWithStubbornInput(t *testing.T) {
	calls := 0
	a := NewWithCanceller(func(*Deferred[int]) { calls++ })
	b := New[int]()
	b.Pause()
	dl := List([]*Deferred[int]{a, b}, ListOptions{})
	dl.Cancel()
	requireNoResult(t, dl)
	dl.Cancel()
	assert.Equal(t, 1, calls, "a already failed with ErrCancelled")
	requireNoResult(t, dl)
	b.Unpause()
	v, err := resultOf(t, dl)
	require.NoError(t, err)
	assert.ErrorIs(t, v[1].Err, ErrCancelled)
}

// TestTimeoutWhileWaitingOnInner: the timeout cancels the Deferred the
// chain waits on and the chain reports ErrTimeout.
func TestTimeoutWhileWaitingOnInner(t *testing.T) {
	clock := &fakeClock{}
	inner := New[int]()
	d := Succeed(1).AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
	d.AddTimeout(time.Second, clock)
	requireNoResult(t, d)
	clock.Advance(2 * time.Second)
	_, err := resultOf(t, inner)
	assert.NoError(t, err, "inner's result went to d")
	_, err = resultOf(t, d)
	assert.ErrorIs(t, err, ErrTimeout)
}

// TestTimeoutAlreadyFired: AddTimeout on a Deferred that has its result
// stops the timer at once.
func TestTimeoutAlreadyFired(t *testing.T) {
	clock := &fakeClock{}
	d := Succeed(3).AddTimeout(time.Second, clock)
	assert.Zero(t, clock.active())
	clock.Advance(2 * time.Second)
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, 3, v)
}

// TestAwaitPausedAfterFire: Await waits while the awaited chain is paused
// and returns the result once it is unpaused.
func TestAwaitPausedAfterFire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := Succeed(1)
		d.Pause()
		got := make(chan int, 1)
		go func() {
			v, _ := Await(context.Background(), d)
			got <- v
		}()
		synctest.Wait()
		assert.Empty(t, got)
		d.Unpause()
		synctest.Wait()
		assert.Equal(t, 1, <-got)
	})
}

// TestFirstCancel: cancelling First cancels every input and lets their
// outcomes decide (test_cancelDeferredListWithFireOnOneCallback and its
// variant whose canceller succeeds).
func TestFirstCancel(t *testing.T) {
	a := NewWithCanceller(func(d *Deferred[int]) { _ = d.Callback(9) })
	b := New[int]()
	f := First([]*Deferred[int]{b, a}, ListOptions{})
	f.Cancel()
	v, err := resultOf(t, f)
	require.NoError(t, err)
	assert.Equal(t, Outcome[int]{Index: 1, Value: 9}, v)
	_, err = resultOf(t, b)
	assert.NoError(t, err, "consumed")

	c, e := New[int](), New[int]()
	f = First([]*Deferred[int]{c, e}, ListOptions{})
	f.Cancel()
	_, err = resultOf(t, f)
	var re *RaceError
	require.ErrorAs(t, err, &re)
	require.Len(t, re.Errs, 2)
	assert.ErrorIs(t, re.Errs[0], ErrCancelled)
}

// TestMapCancelCallsReturnContextError: when the running calls answer the
// cancellation by returning their context's error, as they usually do, Map
// still fails with the cancellation (matching ErrCancelled and the cause),
// not with a *FirstError for an error the cancellation caused; the same
// when the caller's context ends.
func TestMapCancelCallsReturnContextError(t *testing.T) {
	honour := func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	t.Run("cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := Map(context.Background(), 2, make([]int, 2), honour)
			synctest.Wait()
			d.CancelCause(errShutdown)
			synctest.Wait()
			_, err := resultOf(t, d)
			assert.ErrorIs(t, err, ErrCancelled)
			assert.ErrorIs(t, err, errShutdown)
			var fe *FirstError
			assert.False(t, errors.As(err, &fe), "no input failed on its own: %v", err)
		})
	})
	t.Run("context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			d := Map(ctx, 0, make([]int, 3), honour)
			synctest.Wait()
			cancel(errShutdown)
			synctest.Wait()
			_, err := resultOf(t, d)
			assert.ErrorIs(t, err, ErrCancelled)
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, err, errShutdown)
		})
	})
	t.Run("first error still wins", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := Map(context.Background(), 0, []int{0, 1}, func(ctx context.Context, i int) (int, error) {
				if i == 1 {
					return 0, errGeneric
				}
				<-ctx.Done()
				return 0, ctx.Err()
			})
			synctest.Wait()
			_, err := resultOf(t, d)
			var fe *FirstError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, 1, fe.Index)
			assert.ErrorIs(t, err, errGeneric)
		})
	})
}

// TestCancelErrorWithoutCause: a CancelError built without a cause is a
// plain cancellation; its Error method does not panic.
func TestCancelErrorWithoutCause(t *testing.T) {
	err := &CancelError{}
	assert.Equal(t, ErrCancelled.Error(), err.Error())
	assert.ErrorIs(t, err, ErrCancelled)
	assert.NoError(t, err.Unwrap())
}

// TestPausedChaineeResumes extends test_pausedDeferredChained: the paused
// outer Deferred has no result although its inner one fired, and gets that
// result on Unpause.
func TestPausedChaineeResumes(t *testing.T) {
	first, second := New[int](), New[int]()
	first.AddCallbackDeferred(returning(second))
	require.NoError(t, first.Callback(0))
	first.Pause()
	require.NoError(t, second.Callback(5))
	requireNoResult(t, first)
	first.Unpause()
	v, err := resultOf(t, first)
	require.NoError(t, err)
	assert.Equal(t, 5, v)

	// Paused while waiting, the inner one failing: the error waits too.
	a, b := New[int](), New[int]()
	a.AddCallbackDeferred(returning(b))
	require.NoError(t, a.Callback(0))
	a.Pause()
	a.Pause()
	require.NoError(t, b.Errback(errGeneric))
	a.Unpause()
	requireNoResult(t, a)
	a.Unpause()
	_, err = resultOf(t, a)
	assert.ErrorIs(t, err, errGeneric)
}

// TestReprWithExplicitChaining ports test_reprWithChaining,
// test_chainDeferredRecordsExplicitChain and
// test_explicitChainClearedWhenResolved: after b.Chain(a), a says it waits
// on b until b's result reaches it.
func TestReprWithExplicitChaining(t *testing.T) {
	a, b := New[int](), New[int]()
	b.Chain(a)
	assert.Equal(t, fmt.Sprintf("<Deferred at %p waiting on Deferred at %p>", a, b), a.String())
	require.NoError(t, b.Callback(4))
	assert.Equal(t, fmt.Sprintf("<Deferred at %p current result: 4>", a), a.String())

	// Cancelled before b fires: a no longer waits on anything.
	c, e := New[int](), New[int]()
	e.Chain(c)
	c.Cancel()
	assert.NotContains(t, c.String(), "waiting on")
	require.NoError(t, e.Callback(1), "the late result is swallowed by c")
}

// TestAddTimeoutFuncPanics: a panicking onTimeout fails the Deferred with a
// *PanicError, as any callback would.
func TestAddTimeoutFuncPanics(t *testing.T) {
	clock := &fakeClock{}
	d := New[int]().AddTimeoutFunc(time.Second, clock, func(int, error, time.Duration) (int, error) { panic("hook") })
	clock.Advance(time.Second)
	_, err := resultOf(t, d)
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "hook", pe.Value)
}

// TestTimeoutPausedDeferred: a timeout that cancels a paused Deferred
// reports ErrTimeout once it is unpaused.
func TestTimeoutPausedDeferred(t *testing.T) {
	clock := &fakeClock{}
	d := New[int]()
	d.Pause()
	d.AddTimeout(time.Second, clock)
	clock.Advance(time.Second)
	requireNoResult(t, d)
	d.Unpause()
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, ErrTimeout)
}
