package deferred

import (
	"context"
	"runtime/debug"
	"sync/atomic"
)

// Go runs body on a new goroutine and returns a Deferred that fires with its
// outcome (Twisted's deferToThread). The callbacks then run on that
// goroutine. body gets a context derived from ctx that is cancelled when
// the Deferred is cancelled (Cancel fails the Deferred at once with
// ErrCancelled; what body returns afterwards is discarded) and when body
// returns. The goroutine ends when body returns; a body that ignores its
// context keeps it running. A panic in body fails the Deferred with a
// *PanicError. Go panics if body is nil.
func Go[T any](ctx context.Context, body func(context.Context) (T, error)) *Deferred[T] {
	if body == nil {
		panic("deferred: Go with a nil body")
	}
	bctx, cancel := context.WithCancel(ctx)
	var cancelled atomic.Bool
	d := NewWithCanceller(func(*Deferred[T]) {
		cancelled.Store(true)
		cancel()
	})
	go func() {
		defer cancel()
		v, err := callBody(bctx, body)
		if cancelled.Load() {
			// Cancel started before body returned: Cancel fails the
			// Deferred with ErrCancelled (maybe it already did), and the
			// outcome is dropped rather than racing that Errback.
			return
		}
		// If Cancel started after the check, this result wins and
		// Cancel's Errback gets ErrAlreadyCalled, as with any Deferred
		// that fired first.
		if err != nil {
			_ = d.Errback(err)
		} else {
			_ = d.Callback(v)
		}
	}()
	return d
}

func callBody[T any](ctx context.Context, body func(context.Context) (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			v, err = zero, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return body(ctx)
}

// MaybeDeferred calls f on the calling goroutine and returns its outcome as
// a Deferred that already fired (Twisted's maybeDeferred): Succeed with the
// value, Fail with the error, or Fail with a *PanicError if f panicked. To
// adapt a function that returns a Deferred, call it directly or chain it
// with AddCallbackDeferred. MaybeDeferred panics if f is nil.
func MaybeDeferred[T any](f func() (T, error)) *Deferred[T] {
	if f == nil {
		panic("deferred: MaybeDeferred with a nil function")
	}
	v, err := callBody(context.Background(), func(context.Context) (T, error) { return f() })
	if err != nil {
		return Fail[T](err)
	}
	return Succeed(v)
}
