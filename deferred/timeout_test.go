package deferred

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a Clock driven by Advance, like Twisted's task.Clock.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*fakeTimer
}

type fakeTimer struct {
	clock   *fakeClock
	at      time.Duration
	f       func()
	stopped bool
	fired   bool
}

func (c *fakeClock) AfterFunc(delay time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now + delay, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves the clock and runs the timers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now += d
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.fired && t.at <= c.now {
			t.fired = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// active reports how many timers are neither stopped nor fired.
func (c *fakeClock) active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			n++
		}
	}
	return n
}

func TestTimeoutChainable(t *testing.T) {
	d := New[string]()
	assert.Same(t, d, d.AddTimeout(5*time.Second, &fakeClock{}))
	d.AddCallback(func(string) (string, error) { return "done", nil })
	require.NoError(t, d.Callback(""))
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, "done", v)
}

func TestSuccessResultBeforeTimeout(t *testing.T) {
	clock := &fakeClock{}
	d := New[string]()
	d.AddTimeout(10*time.Second, clock)
	inner := New[string]()
	var got string
	d.AddCallbackDeferred(func(v string) (*Deferred[string], error) { got = v; return inner, nil })
	require.NoError(t, d.Callback("results"))
	assert.Equal(t, "results", got)
	assert.Zero(t, clock.active(), "the timer stopped when the result came")
	clock.Advance(15 * time.Second)
	requireNoResult(t, inner)
}

func TestFailureBeforeTimeout(t *testing.T) {
	clock := &fakeClock{}
	d := New[int]()
	d.AddTimeout(10*time.Second, clock)
	require.NoError(t, d.Errback(errGeneric))
	clock.Advance(15 * time.Second)
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, errGeneric)
	assert.NotErrorIs(t, err, ErrTimeout)
	assert.Zero(t, clock.active())
}

func TestTimedOut(t *testing.T) {
	clock := &fakeClock{}
	d := New[int]()
	d.AddTimeout(10*time.Second, clock)
	clock.Advance(9 * time.Second)
	requireNoResult(t, d)
	clock.Advance(time.Second)
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.Contains(t, err.Error(), "10s")
}

func TestTimedOutProvidedCancelSuccess(t *testing.T) {
	clock := &fakeClock{}
	d := NewWithCanceller(func(d *Deferred[string]) { _ = d.Callback("I was cancelled!") })
	d.AddTimeout(10*time.Second, clock)
	requireNoResult(t, d)
	clock.Advance(15 * time.Second)
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, "I was cancelled!", v)
}

func TestTimedOutProvidedCancelFailure(t *testing.T) {
	clock := &fakeClock{}
	errWhat := errors.New("what!")
	d := NewWithCanceller(func(d *Deferred[int]) { _ = d.Errback(errWhat) })
	d.AddTimeout(10*time.Second, clock)
	clock.Advance(15 * time.Second)
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, errWhat)
	assert.NotErrorIs(t, err, ErrTimeout)
}

func TestCancelBeforeTimeout(t *testing.T) {
	clock := &fakeClock{}
	d := New[int]()
	d.AddTimeout(10*time.Second, clock)
	inner := New[int]()
	var seen error
	d.AddErrbackDeferred(func(err error) (*Deferred[int], error) { seen = err; return inner, nil })
	d.Cancel()
	assert.ErrorIs(t, seen, ErrCancelled)
	assert.NotErrorIs(t, seen, ErrTimeout, "a manual cancel is not a timeout")
	clock.Advance(15 * time.Second)
	requireNoResult(t, inner)
}

func TestErrbackAddedBeforeTimeout(t *testing.T) {
	clock := &fakeClock{}
	d := New[int]()
	var seen error
	d.AddErrback(func(err error) (int, error) { seen = err; return 0, err })
	d.AddTimeout(10*time.Second, clock)
	clock.Advance(15 * time.Second)
	assert.ErrorIs(t, seen, ErrCancelled)
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, ErrTimeout)
}

func TestErrbackAddedBeforeTimeoutSuppressesCancellation(t *testing.T) {
	clock := &fakeClock{}
	d := New[int]()
	var seen error
	d.AddErrback(func(err error) (int, error) {
		seen = err
		if errors.Is(err, ErrCancelled) {
			return 0, nil
		}
		return 0, err
	})
	d.AddTimeout(10*time.Second, clock)
	clock.Advance(15 * time.Second)
	assert.ErrorIs(t, seen, ErrCancelled)
	_, err := resultOf(t, d)
	assert.NoError(t, err)
}

func TestCallbackAddedToCancelerBeforeTimeout(t *testing.T) {
	clock := &fakeClock{}
	d := NewWithCanceller(func(d *Deferred[string]) { _ = d.Callback("success") })
	var seen string
	d.AddCallback(func(v string) (string, error) { seen = v; return v, nil })
	d.AddTimeout(10*time.Second, clock)
	clock.Advance(15 * time.Second)
	assert.Equal(t, "success", seen)
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, "success", v)
}

// TestTimeoutRealClock uses the real clock inside a synctest bubble, where
// time only advances when every goroutine is blocked: no flaky sleeps.
func TestTimeoutRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New[int]().AddTimeout(time.Second, nil)
		fast := New[int]().AddTimeout(time.Second, nil)
		require.NoError(t, fast.Callback(1))
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		requireNoResult(t, d)
		_, err := d.Wait(t.Context())
		assert.ErrorIs(t, err, ErrTimeout)
		v, err := fast.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1, v)
	})
}

func TestTimeoutNonPositive(t *testing.T) {
	clock := &fakeClock{}
	d := New[int]().AddTimeout(-time.Second, clock)
	clock.Advance(0)
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, ErrTimeout)
}

// overrideOnTimeout is Twisted's _overrideFunc: it turns any timed-out
// outcome into a value.
func overrideOnTimeout(string, error, time.Duration) (string, error) { return "OVERRIDDEN", nil }

// TestAddTimeoutFunc ports Twisted's *Custom addTimeout tests: the hook
// runs only when the timeout cancelled the Deferred, whatever the outcome
// then was, and its result becomes the Deferred's.
func TestAddTimeoutFunc(t *testing.T) {
	errWhat := errors.New("what!")
	cases := []struct {
		name      string
		canceller func(*Deferred[string])
		before    func(d *Deferred[string]) // fires or cancels before the timeout
		prepare   func(d *Deferred[string]) // callbacks added before AddTimeoutFunc
		want      string
		wantErr   error
	}{
		{name: "timedOutCustom", want: "OVERRIDDEN"},
		{name: "providedCancelCalledBeforeTimeoutCustom", canceller: func(d *Deferred[string]) { _ = d.Errback(errWhat) }, want: "OVERRIDDEN"},
		{name: "callbackAddedToCancelerBeforeTimeoutCustom", canceller: func(d *Deferred[string]) { _ = d.Callback("success") },
			prepare: func(d *Deferred[string]) { d.AddCallback(func(v string) (string, error) { return v + "!", nil }) }, want: "OVERRIDDEN"},
		{name: "errbackAddedBeforeTimeoutSuppressesCancellationCustom",
			prepare: func(d *Deferred[string]) { d.AddErrback(func(error) (string, error) { return "", nil }) }, want: "OVERRIDDEN"},
		{name: "successResultBeforeTimeoutCustom", before: func(d *Deferred[string]) { _ = d.Callback("results") }, want: "results"},
		{name: "failureBeforeTimeoutCustom", before: func(d *Deferred[string]) { _ = d.Errback(errWhat) }, wantErr: errWhat},
		{name: "cancelBeforeTimeoutCustom", before: func(d *Deferred[string]) { d.Cancel() }, wantErr: ErrCancelled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{}
			d := NewWithCanceller(tc.canceller)
			if tc.prepare != nil {
				tc.prepare(d)
			}
			var hookErr error
			d.AddTimeoutFunc(10*time.Second, clock, func(v string, err error, timeout time.Duration) (string, error) {
				hookErr = err
				assert.Equal(t, 10*time.Second, timeout)
				return overrideOnTimeout(v, err, timeout)
			})
			requireNoResult(t, d)
			if tc.before != nil {
				tc.before(d)
			}
			clock.Advance(15 * time.Second)
			v, err := resultOf(t, d)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.NotErrorIs(t, err, ErrTimeout)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, v)
			if tc.name == "timedOutCustom" {
				assert.ErrorIs(t, hookErr, ErrCancelled, "the hook sees the cancellation")
			}
		})
	}
}

// lateClock is a Clock whose timers cannot be stopped: Stop reports false,
// as time.Timer.Stop does once the timer's function has started, and the
// test then runs the function by hand. It models a timeout that fires on
// another goroutine at the moment the result arrives.
type lateClock struct{ fns []func() }

type lateTimer struct{}

func (lateTimer) Stop() bool { return false }

func (c *lateClock) AfterFunc(_ time.Duration, f func()) Timer {
	c.fns = append(c.fns, f)
	return lateTimer{}
}

func (c *lateClock) fire() {
	for _, f := range c.fns {
		f()
	}
}

// TestTimeoutRacingResult: when the result comes first, a timer that could
// not be stopped in time does nothing: it does not cancel the inner
// Deferred a later callback returned (the timeout covers none of the
// callbacks added after AddTimeout), and the hook does not run on the
// result.
func TestTimeoutRacingResult(t *testing.T) {
	clock := &lateClock{}
	d := New[int]()
	hookCalled := false
	d.AddTimeoutFunc(time.Second, clock, func(v int, err error, _ time.Duration) (int, error) {
		hookCalled = true
		return -1, nil
	})
	inner := New[int]()
	d.AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
	require.NoError(t, d.Callback(1))
	clock.fire()
	requireNoResult(t, inner)
	assert.False(t, hookCalled)
	require.NoError(t, inner.Callback(2))
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
}

// TestTimeoutAfterPausedResult: a Deferred that got its result before the
// timeout but was paused (so the callbacks before AddTimeout had not run)
// did not time out: the timer finds nothing to cancel, and neither the
// hook nor the ErrTimeout translation applies when it is unpaused, even to
// an ErrCancelled from a cancellation made before the timeout.
func TestTimeoutAfterPausedResult(t *testing.T) {
	t.Run("value", func(t *testing.T) {
		clock := &fakeClock{}
		d := New[string]()
		d.AddTimeoutFunc(time.Second, clock, overrideOnTimeout)
		d.Pause()
		require.NoError(t, d.Callback("results"))
		clock.Advance(2 * time.Second)
		d.Unpause()
		v, err := resultOf(t, d)
		require.NoError(t, err)
		assert.Equal(t, "results", v)
	})
	t.Run("cancelled before the timeout", func(t *testing.T) {
		clock := &fakeClock{}
		d := New[int]()
		d.AddTimeout(time.Second, clock)
		d.Pause()
		d.Cancel()
		clock.Advance(2 * time.Second)
		d.Unpause()
		_, err := resultOf(t, d)
		assert.ErrorIs(t, err, ErrCancelled)
		assert.NotErrorIs(t, err, ErrTimeout)
	})
}
