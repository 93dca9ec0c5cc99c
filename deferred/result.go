package deferred

import (
	"context"
	"fmt"
	"strings"
)

// closedChan is the channel Done returns once the result is known, so that a
// Deferred nobody waited on never allocates one. It is never written to.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done returns a channel that is closed when the Deferred's result is first
// known: the Deferred has been fired, it is not paused, it is not waiting on
// an inner Deferred, and every callback added so far has run. A Deferred
// paused before it fired, or waiting on an inner Deferred, closes Done only
// after Unpause or after the inner Deferred fired and the chain caught up.
// The channel is made on the first call, so a Deferred that nobody waits on
// costs no channel. The close happens after the last of those callbacks
// returned (in Go memory model terms: a receive from Done is synchronized
// after everything those callbacks did).
//
// Done closes once. Callbacks added afterwards run on the adding goroutine
// and change the result that Result and Wait report from then on; one that
// makes the chain wait on an inner Deferred, or a Pause, leaves Done closed
// but makes Result report no result and Wait wait again until the chain is
// back at rest.
func (d *Deferred[T]) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.flags&fRested != 0 {
		return closedChan
	}
	if d.extra == nil {
		d.extra = &extra{}
	}
	if d.extra.done == nil {
		d.extra.done = make(chan struct{})
	}
	return d.extra.done
}

// Result reads the result without waiting. ok is true only while the
// chain is at rest with a result: the Deferred was fired, it is not
// paused, it does not wait on an inner Deferred, and no callback is running
// or pending. Then v and err are the current result (the value is the zero
// value when err is not nil). Otherwise ok is false, also after Done
// closed: a callback added later that returns an inner Deferred without a
// result, or a Pause, or a callback still running on another goroutine,
// means there is no result to report, as in Twisted, where such a Deferred
// has none until the inner one fires. Reading an error this way counts as
// handling it: it will not be reported as unhandled.
func (d *Deferred[T]) Result() (v T, err error, ok bool) {
	d.mu.Lock()
	if !d.atRest() {
		d.mu.Unlock()
		return v, nil, false
	}
	v, err = d.result, d.err
	if err != nil {
		d.markHandled()
	}
	d.mu.Unlock()
	return v, err, true
}

// Wait blocks until the chain is at rest with a result (as Result defines
// it) and returns that result, or until ctx is done and returns ctx.Err().
// A Deferred that came to rest once and then left it (a callback added
// afterwards waits on an inner Deferred, or Pause held a new callback)
// makes Wait wait again, until the inner Deferred fired or Unpause ran the
// callbacks. When another goroutine adds a callback while Wait is
// blocked or about to return, Wait returns the result from before that
// callback or from after it, whichever rest it observes first, never one
// from the middle of the chain. Wait only stops waiting when ctx ends; it
// does not cancel the Deferred (call Cancel for that). An error returned
// this way counts as handled.
func (d *Deferred[T]) Wait(ctx context.Context) (T, error) {
	for {
		v, rest, err := d.resultOrRest()
		if rest == nil {
			return v, err
		}
		select {
		case <-rest:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

// resultOrRest returns the result, handled, when the chain is at rest;
// otherwise a channel that is closed when it next comes to rest.
func (d *Deferred[T]) resultOrRest() (v T, rest <-chan struct{}, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.atRest() {
		if d.err != nil {
			d.markHandled()
		}
		return d.result, nil, d.err
	}
	if d.extra == nil {
		d.extra = &extra{}
	}
	if d.extra.rest == nil {
		d.extra.rest = make(chan struct{})
	}
	return v, d.extra.rest, nil
}

// String describes the Deferred's state, like Twisted's repr:
// "<Deferred at 0x…>" with no result yet, then " current result: …",
// " current error: …", " waiting on Deferred at 0x…" (a Deferred its
// chain waits on, or, before it fired, the one Chain forwards to it) or
// " running callbacks", and " paused" when paused. It reads the state under the lock
// and formats it after releasing it, so a result's own String method may
// use the Deferred.
func (d *Deferred[T]) String() string {
	d.mu.Lock()
	flags, v, err, w := d.flags, d.result, d.err, d.waiting
	var chainedTo any
	if d.extra != nil {
		chainedTo = d.extra.chainedTo
	}
	paused := d.paused.Load()
	d.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "<Deferred at %p", d)
	switch {
	case w != nil:
		fmt.Fprintf(&b, " waiting on Deferred at %p", w)
	case chainedTo != nil:
		fmt.Fprintf(&b, " waiting on Deferred at %p", chainedTo)
	case flags&fFired == 0:
	case flags&fRunning != 0:
		b.WriteString(" running callbacks")
	case err != nil:
		fmt.Fprintf(&b, " current error: %v", err)
	default:
		fmt.Fprintf(&b, " current result: %#v", v)
	}
	if paused > 0 {
		b.WriteString(" paused")
	}
	b.WriteString(">")
	return b.String()
}
