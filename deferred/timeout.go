package deferred

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Clock schedules a function after a delay. AddTimeout uses it so tests can
// drive time by hand. time.AfterFunc behind RealClock satisfies it.
type Clock interface {
	// AfterFunc calls f once, on a goroutine of its choosing, after delay
	// has passed, unless the returned Timer is stopped first.
	AfterFunc(delay time.Duration, f func()) Timer
}

// Timer is a scheduled call of a Clock.
type Timer interface {
	// Stop prevents the call if it has not started and reports whether it
	// did so.
	Stop() bool
}

// RealClock is the Clock of package time.
type RealClock struct{}

// AfterFunc calls time.AfterFunc.
func (RealClock) AfterFunc(delay time.Duration, f func()) Timer {
	return time.AfterFunc(delay, f)
}

// AddTimeout cancels d if it has no result after timeout (Twisted's
// addTimeout) and turns the resulting ErrCancelled into an error matching
// ErrTimeout. The timeout covers the callbacks added before AddTimeout and
// none added after; when the result comes first the timer is stopped, and
// a timer that fires as the result arrives does nothing. d times out only
// if the timer finds it without a result, or waiting on an inner Deferred
// (which it then cancels): a d that had its result but was paused does not
// time out. A timeout ≤ 0 times out as soon as the clock runs the timer. A
// nil clock means RealClock, whose timer fires on a goroutine of package
// time: then the cancellation and the callbacks it triggers run there. A
// canceller that fires d with its own result wins over the timeout error.
// It returns d.
func (d *Deferred[T]) AddTimeout(timeout time.Duration, clock Clock) *Deferred[T] {
	return d.AddTimeoutFunc(timeout, clock, nil)
}

// AddTimeoutFunc is AddTimeout with Twisted's onTimeoutCancel hook: when
// the timeout cancelled d, onTimeout is called with the result the chain
// then has (usually an error matching ErrCancelled, but whatever the
// canceller or the callbacks added before made of it, a success included)
// and the timeout, and what it returns becomes the result. It is not called
// when d got its result before the timeout, nor when d was cancelled some
// other way. onTimeout runs as a callback of d, so a panic in it becomes a
// *PanicError. A nil onTimeout is AddTimeout's translation of ErrCancelled
// into ErrTimeout. It returns d.
func (d *Deferred[T]) AddTimeoutFunc(timeout time.Duration, clock Clock, onTimeout func(v T, err error, timeout time.Duration) (T, error)) *Deferred[T] {
	if clock == nil {
		clock = RealClock{}
	}
	if onTimeout == nil {
		onTimeout = cancelledToTimeout[T]
	}
	var race firstOf
	t := clock.AfterFunc(timeout, func() {
		d.cancelIf(nil, race.interrupt)
	})
	return d.AddBoth(func(v T, err error) (T, error) {
		t.Stop()
		if race.complete() {
			return v, err
		}
		return onTimeout(v, err, timeout)
	})
}

// firstOf decides, once, whether a Deferred's result or an interruption
// (AddTimeout's timer, Bind's context) came first. Stopping the timer is
// not enough to decide it: a timer whose function has already started
// cannot be stopped, and without this its cancellation would reach an
// inner Deferred that a callback added after AddTimeout returned.
type firstOf struct{ state atomic.Int32 }

const (
	firstNone int32 = iota
	firstResult
	firstInterrupt
)

// complete is called by the link AddTimeout or Bind adds: it reports
// whether the result came first (true) or the interruption did (false).
func (f *firstOf) complete() bool {
	return f.state.CompareAndSwap(firstNone, firstResult)
}

// interrupt is the claim given to cancelIf: it reports whether the
// interruption came first and may cancel.
func (f *firstOf) interrupt() bool {
	return f.state.CompareAndSwap(firstNone, firstInterrupt)
}

// cancelledToTimeout is the default onTimeout (Twisted's
// _cancelledToTimedOutError): ErrCancelled becomes ErrTimeout, anything
// else passes through.
func cancelledToTimeout[T any](v T, err error, timeout time.Duration) (T, error) {
	if err != nil && errors.Is(err, ErrCancelled) {
		return v, fmt.Errorf("%w after %v", ErrTimeout, timeout)
	}
	return v, err
}
