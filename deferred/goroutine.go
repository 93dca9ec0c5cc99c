package deferred

import (
	"context"
	"runtime/debug"
	"sync"
)

// Go runs body on a new goroutine and returns a Deferred that fires with its
// outcome (Twisted's deferToThread, and with Await its inlineCallbacks). The
// callbacks then run on that goroutine. body gets a context derived from
// ctx that is cancelled when body returns, and when the Deferred is
// cancelled while body is not in Await: Cancel then fails the Deferred at
// once with ErrCancelled (CancelCause: a *CancelError, and context.Cause of
// body's context is the cause), and what body returns afterwards is
// discarded. A Cancel that comes while body waits in Await is forwarded to
// the awaited Deferred instead, as Twisted's inlineCallbacks does: Await
// returns that Deferred's outcome (typically ErrCancelled), body's context
// stays live, and the Deferred fires with whatever body returns, so body may
// turn the cancellation into a value or carry on. The goroutine ends when
// body returns; a body that ignores its context keeps it running. A panic in
// body fails the Deferred with a *PanicError. Go panics if body is nil.
func Go[T any](ctx context.Context, body func(context.Context) (T, error)) *Deferred[T] {
	if body == nil {
		panic("deferred: Go with a nil body")
	}
	st := &goState{}
	bctx, cancel := context.WithCancelCause(context.WithValue(ctx, goKey{}, st))
	var d *Deferred[T]
	d = newForwarding[T](func(cause error) {
		st.mu.Lock()
		if aw := st.awaiting; aw != nil {
			st.mu.Unlock()
			aw(cause)
			return
		}
		st.cancelled = true
		st.mu.Unlock()
		cancel(cause)
		_ = d.Errback(cancelError(cause))
	})
	go func() {
		defer cancel(nil)
		v, err := callBody(bctx, body)
		st.mu.Lock()
		cancelled := st.cancelled
		st.mu.Unlock()
		if cancelled {
			// Cancel failed the Deferred while body ran outside Await:
			// the outcome is dropped rather than racing that Errback.
			return
		}
		// If Cancel comes after this point, this result wins and Cancel
		// finds the Deferred fired, as with any Deferred that fired first.
		if err != nil {
			_ = d.Errback(err)
		} else {
			_ = d.Callback(v)
		}
	}()
	return d
}

// goKey is the context key under which Go leaves its goState for Await.
type goKey struct{}

// goState is what a Go body's Deferred and Await share.
type goState struct {
	mu sync.Mutex
	// awaiting cancels the Deferred the body waits for in Await, if any.
	awaiting func(cause error)
	// cancelled: Cancel came while the body was not in Await.
	cancelled bool
}

// Await waits for d's result and returns it, on the calling goroutine
// (Twisted's yield in inlineCallbacks, for a Go body). It returns when d's
// chain is at rest with a result, as Wait does. When ctx ends first, Await
// cancels d with CancelCause (the cause being ctx's error joined with
// context.Cause) and goes on waiting for d's outcome, which it then returns:
// d's canceller decides, and the work behind d is stopped rather than
// abandoned. Inside the body of Go, with the body's context (or one derived
// from it), cancelling Go's Deferred while Await waits cancels d (with the
// same cause) and leaves the decision to the body: it gets d's outcome,
// typically an error matching ErrCancelled, and may turn it into a value.
// Await starts no goroutine. An error returned this way counts as handled.
// Await honours ctx through d's cancellation: if d does not come to rest
// when cancelled (it is paused, or waits on a Deferred that ignores the
// cancellation), Await goes on waiting until it does.
func Await[T any](ctx context.Context, d *Deferred[T]) (T, error) {
	if st, _ := ctx.Value(goKey{}).(*goState); st != nil {
		st.mu.Lock()
		prev := st.awaiting
		st.awaiting = d.CancelCause
		st.mu.Unlock()
		defer func() {
			st.mu.Lock()
			st.awaiting = prev
			st.mu.Unlock()
		}()
	}
	done := ctx.Done()
	for {
		v, rest, err := d.resultOrRest()
		if rest == nil {
			return v, err
		}
		select {
		case <-rest:
		case <-done:
			done = nil // cancel once, then wait for d's outcome
			d.CancelCause(contextCause(ctx))
		}
	}
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
