package deferred

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResultWhileWaitingOnInner is issue 12, item 1: a fired Deferred whose
// chain waits on an inner Deferred has no result until the inner one fires,
// as in Twisted, even though it had one before the callback was added.
func TestResultWhileWaitingOnInner(t *testing.T) {
	inner := New[string]()
	d := Succeed("start").AddCallbackDeferred(func(string) (*Deferred[string], error) { return inner, nil })
	requireNoResult(t, d)
	assert.Contains(t, d.String(), "waiting on Deferred")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled, "Wait must not report the intermediate value")

	require.NoError(t, inner.Callback("inner"))
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, "inner", v)
}

// TestResultWhilePaused: Pause then AddCallback on a fired Deferred holds
// the callback, and the result is unknown until Unpause runs it.
func TestResultWhilePaused(t *testing.T) {
	d := Succeed(1)
	d.Pause()
	requireNoResult(t, d)
	d.AddCallback(func(v int) (int, error) { return v + 1, nil })
	requireNoResult(t, d)
	d.Unpause()
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
}

// TestWaitWaitsForInnerAfterRest: a goroutine blocked in Wait on a
// Deferred that came to rest once, and then started waiting on an inner
// Deferred, returns the final result, not the one before.
func TestWaitWaitsForInnerAfterRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := New[string]()
		d := Succeed("start")
		<-d.Done()
		d.AddCallbackDeferred(func(string) (*Deferred[string], error) { return inner, nil })
		got := make(chan string, 1)
		go func() {
			v, err := d.Wait(context.Background())
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		select {
		case v := <-got:
			t.Fatalf("Wait returned %q before the inner Deferred fired", v)
		default:
		}
		require.NoError(t, inner.Callback("inner"))
		assert.Equal(t, "inner", <-got)
	})
}

// TestWaitDuringRunningCallback: while a callback added to a fired
// Deferred runs on one goroutine, Result on another reports no result and
// Wait returns the value the callback produced.
func TestWaitDuringRunningCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := Succeed(1)
		entered, release := make(chan struct{}), make(chan struct{})
		go d.AddCallback(func(v int) (int, error) {
			close(entered)
			<-release
			return v + 1, nil
		})
		<-entered
		requireNoResult(t, d)
		got := make(chan int, 1)
		go func() {
			v, _ := d.Wait(context.Background())
			got <- v
		}()
		synctest.Wait()
		close(release)
		assert.Equal(t, 2, <-got)
	})
}
