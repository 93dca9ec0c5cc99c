package deferred

import (
	"log/slog"
	"runtime"
	"sync/atomic"
)

// UnhandledError describes an error that was still the result at the end of
// a chain when its Deferred was garbage collected: nobody added an errback
// that handled it, read it with Wait or Result, or took it over by
// returning the Deferred from another Deferred's callback.
type UnhandledError struct {
	// Err is the unhandled error.
	Err error
	// Created is the stack where the Deferred was created, when debug mode
	// (SetDebug) was on at creation; empty otherwise.
	Created string
}

// unhandledHandler is the documented hook (see SetUnhandledErrorHandler).
var unhandledHandler atomic.Pointer[func(UnhandledError)]

func init() {
	h := logUnhandled
	unhandledHandler.Store(&h)
}

// logUnhandled is the default handler: one slog error record, as Twisted
// logs "Unhandled error in Deferred".
func logUnhandled(u UnhandledError) {
	attrs := []any{"err", u.Err}
	if u.Created != "" {
		attrs = append(attrs, "created", u.Created)
	}
	slog.Error("deferred: unhandled error in Deferred", attrs...)
}

// SetUnhandledErrorHandler installs h as the hook that receives errors left
// unhandled at the end of a chain when the Deferred holding them is garbage
// collected, and returns the previous hook. The default hook logs through
// log/slog's default logger. A nil h turns tracking off altogether for
// Deferreds that fail from then on (no garbage-collector cleanup is
// registered for them).
//
// The hook runs on the runtime's cleanup goroutine (runtime.AddCleanup), at
// an unspecified time after the Deferred became unreachable; it must not
// block for long. Errors handled by an errback, read with Wait or Result,
// consumed by List, Gather or First (their default), or handed to an outer Deferred through
// implicit chaining are never reported.
//
// The limit: to hand the error to h after the Deferred became unreachable,
// the tracker must keep the error value reachable until then. An error that
// refers back to its own Deferred (an error type with a field holding the
// *Deferred, or wrapping something that does) therefore keeps that
// Deferred reachable for as long as the error is unhandled: it is never
// reported, and the Deferred and the error stay in memory. Go's runtime
// offers no way around this (runtime.AddCleanup never runs when its
// argument reaches the object, and a finalizer never runs on a cycle); a
// tracker that held only the error's text would cost an Error call on
// every failure. Handling the error (an errback, Result, Wait) releases
// both at once; Deferreds that fail while tracking is off (nil h) are not
// tracked at all.
func SetUnhandledErrorHandler(h func(UnhandledError)) (previous func(UnhandledError)) {
	var p *func(UnhandledError)
	if h != nil {
		p = &h
	}
	if old := unhandledHandler.Swap(p); old != nil {
		return *old
	}
	return nil
}

// tracker holds the error a Deferred's chain rests with. It is referenced by
// the Deferred and by the cleanup, never the other way round, so that the
// Deferred can be collected.
type tracker struct {
	err     atomic.Pointer[error]
	created string
}

// trackUnhandled makes the tracker follow the result the chain rests with.
// Called with d.mu held when the chain comes to rest.
func (d *Deferred[T]) trackUnhandled() {
	if d.err == nil {
		d.markHandled()
		return
	}
	var t *tracker
	if d.extra != nil {
		t = d.extra.track
	}
	if t == nil {
		if unhandledHandler.Load() == nil {
			return
		}
		if d.extra == nil {
			d.extra = &extra{}
		}
		t = &tracker{created: d.extra.created}
		d.extra.track = t
		runtime.AddCleanup(d, reportUnhandled, t)
	}
	err := d.err
	t.err.Store(&err)
}

// markHandled clears the tracked error. Called with d.mu held.
func (d *Deferred[T]) markHandled() {
	if d.extra != nil && d.extra.track != nil {
		d.extra.track.err.Store(nil)
	}
}

// reportUnhandled is the cleanup: it reports the tracked error, if any.
func reportUnhandled(t *tracker) {
	p := t.err.Load()
	if p == nil {
		return
	}
	if h := unhandledHandler.Load(); h != nil {
		(*h)(UnhandledError{Err: *p, Created: t.created})
	}
}
