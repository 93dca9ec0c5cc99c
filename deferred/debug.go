package deferred

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
)

// debugMode is the documented, opt-in debug switch (see SetDebug).
var debugMode atomic.Bool

// SetDebug turns debug mode on or off for Deferreds created or fired from
// now on (Twisted's setDebugging). In debug mode a Deferred records the
// stack where it was created and where it was first fired; the error a second
// Callback or Errback returns then names both sites (it still matches
// ErrAlreadyCalled), and unhandled-error reports carry the creation site.
// Recording a stack costs a few microseconds per Deferred: leave it off in
// production.
func SetDebug(on bool) { debugMode.Store(on) }

// Debugging reports whether debug mode is on.
func Debugging() bool { return debugMode.Load() }

func debugging() bool { return debugMode.Load() }

// extra holds what most Deferreds never need: debug sites, the
// unhandled-error tracker, the Done channel of a Deferred that someone
// waited on before it had a result, and the channel Wait blocks on while
// the chain is not at rest.
type extra struct {
	created string
	fired   string
	track   *tracker
	done    chan struct{}
	// rest is closed, and reset to nil, each time the chain comes to rest;
	// Wait makes it when it finds the chain not at rest.
	rest chan struct{}
	// cause is the cause given to CancelCause.
	cause error
	// chainedTo is the Deferred whose result Chain forwards to this one
	// (a *Deferred of the same type), until this one fires; String names
	// it, as Twisted's repr names the Deferred another one waits on.
	chainedTo any
}

func (d *Deferred[T]) recordCreation() {
	if d.extra == nil {
		d.extra = &extra{}
	}
	d.extra.created = callers(3)
}

// recordFire records the first-fire site in debug mode. Called with d.mu
// held (or before d is shared).
func (d *Deferred[T]) recordFire() {
	if !debugging() {
		return
	}
	if d.extra == nil {
		d.extra = &extra{}
	}
	d.extra.fired = callers(4)
}

// alreadyCalled returns the error for a second fire. Called with d.mu held.
func (d *Deferred[T]) alreadyCalled() error {
	if d.extra == nil || (d.extra.created == "" && d.extra.fired == "") {
		return ErrAlreadyCalled
	}
	return &alreadyCalledError{created: d.extra.created, fired: d.extra.fired}
}

// alreadyCalledError is ErrAlreadyCalled with the debug-mode sites.
type alreadyCalledError struct {
	created, fired string
}

func (e *alreadyCalledError) Error() string {
	var b strings.Builder
	b.WriteString(ErrAlreadyCalled.Error())
	if e.created != "" {
		fmt.Fprintf(&b, "\ncreated at:\n%s", e.created)
	}
	if e.fired != "" {
		fmt.Fprintf(&b, "\nfirst fired at:\n%s", e.fired)
	}
	return b.String()
}

func (e *alreadyCalledError) Unwrap() error { return ErrAlreadyCalled }

// callers formats the caller's stack, skipping skip frames and the frames
// of this package's own (non-test) files, one "function\n\tfile:line" per
// frame.
func callers(skip int) string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(skip, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var b strings.Builder
	for {
		f, more := frames.Next()
		if !internalFrame(f) {
			fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
		}
		if !more {
			break
		}
	}
	return b.String()
}

// internalFrame reports whether f is in a non-test file of this package.
func internalFrame(f runtime.Frame) bool {
	return strings.HasPrefix(f.Function, "github.com/twine-go/twine/deferred.") &&
		!strings.HasSuffix(f.File, "_test.go")
}
