package deferred

import "runtime/debug"

// Cancel asks the Deferred to give up (Twisted's cancel):
//
//   - With no result yet, the canceller given to NewWithCanceller runs once,
//     on the calling goroutine; if it did not fire the Deferred, Cancel fails
//     it with ErrCancelled. Without a canceller, the Deferred fails with
//     ErrCancelled at once and the next Callback or Errback (from the
//     producer that did not know) is swallowed.
//   - While the Deferred waits on an inner Deferred returned by one of its
//     callbacks, the inner Deferred is cancelled instead (transitively,
//     without recursion), and the chain continues with its outcome.
//   - The Deferreds List and Gather return forward the cancellation: each
//     Cancel before they fired cancels every input, and they fire as the
//     inputs' outcomes dictate, never with ErrCancelled of their own
//     (Twisted's DeferredList.cancel).
//   - Once the Deferred has a result, Cancel does nothing.
//
// The callbacks run on the calling goroutine before Cancel returns. A
// canceller that panics fails the Deferred with a *PanicError.
func (d *Deferred[T]) Cancel() { d.cancel(nil) }

// CancelCause is Cancel with a cause: where Cancel would fail a Deferred
// with ErrCancelled, CancelCause fails it with a *CancelError that matches
// both ErrCancelled and cause under errors.Is (and exposes cause to
// errors.As), like context.WithCancelCause. The cause travels with the
// cancellation: to the inner Deferred this one waits on, to the inputs of
// List, Gather, First and Race, to the Deferred Then was called on, and to
// the context of a Go body (context.Cause reports it). A canceller given to
// NewWithCanceller can read it with CancelCauseOf. A nil cause is Cancel.
func (d *Deferred[T]) CancelCause(cause error) { d.cancel(cause) }

// CancelCauseOf returns the cause given to CancelCause while the
// Deferred's canceller runs (and afterwards), or nil after a plain Cancel
// or before any. Cancellers use it to pass the cause on to the work they
// stop.
func CancelCauseOf[T any](d *Deferred[T]) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.extra == nil {
		return nil
	}
	return d.extra.cause
}

// cancelError is the error a cancellation with cause fails a Deferred with.
func cancelError(cause error) error {
	if cause == nil {
		return ErrCancelled
	}
	return &CancelError{Cause: cause}
}

// cancel is Cancel and CancelCause.
func (d *Deferred[T]) cancel(cause error) { d.cancelIf(cause, nil) }

// cancelIf is cancel for AddTimeout and Bind: when claim is not nil, it is
// called once, with d.mu held, at the moment the cancellation would take
// effect on d (d has no result yet, or waits on an inner Deferred), and the
// cancellation goes ahead only if claim returns true. A d that has a result
// and waits on nothing is left alone without calling claim. Taking the
// decision under d.mu orders it against the firing of d and against the
// running of d's callbacks: a timeout can never act on a result that came
// first. claim must not call user code.
func (d *Deferred[T]) cancelIf(cause error, claim func() bool) {
	var zero T
	for d != nil {
		d.mu.Lock()
		if d.flags&fFired != 0 {
			// Already fired: forward to the Deferred we wait on, if any.
			w := d.waiting
			if w != nil && claim != nil && !claim() {
				w = nil
			}
			claim = nil
			d.mu.Unlock()
			d = w
			continue
		}
		if d.flags&fCancelling != 0 {
			// The canceller is running on another goroutine (or ran and
			// the Deferred is about to fail): one cancellation is enough.
			d.mu.Unlock()
			return
		}
		if claim != nil && !claim() {
			d.mu.Unlock()
			return
		}
		claim = nil
		if cause != nil {
			if d.extra == nil {
				d.extra = &extra{}
			}
			d.extra.cause = cause
		}
		c := d.canceller
		if d.flags&fForward != 0 {
			// List, Gather, First, Go: pass the cancellation on and let
			// the outcomes decide, as Twisted's DeferredList.cancel does.
			d.mu.Unlock()
			if perr := runCanceller(c, d); perr != nil {
				_ = d.Errback(perr)
			}
			return
		}
		if c == nil {
			d.flags |= fSuppress
			_ = d.fireLocked(zero, cancelError(cause))
			return
		}
		d.flags |= fCancelling
		d.mu.Unlock()
		if perr := runCanceller(c, d); perr != nil {
			_ = d.Errback(perr)
		}
		// ErrAlreadyCalled here means the canceller (or a racing producer)
		// fired the Deferred: that result stands.
		_ = d.Errback(cancelError(cause))
		return
	}
}

// runCanceller calls c(d), turning a panic into a *PanicError.
func runCanceller[T any](c func(*Deferred[T]), d *Deferred[T]) (perr error) {
	defer func() {
		if r := recover(); r != nil {
			perr = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	c(d)
	return nil
}
