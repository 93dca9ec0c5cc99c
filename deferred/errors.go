package deferred

import (
	"errors"
	"fmt"
	"strings"
)

// Errors reported by this package. Each is matched with errors.Is; the
// messages are prefixed with the package name.
var (
	// ErrAlreadyCalled is returned by Callback and Errback when the
	// Deferred has already been fired (Twisted's AlreadyCalledError). In
	// debug mode (see SetDebug) the returned error also names where the
	// Deferred was created and first fired.
	ErrAlreadyCalled = errors.New("deferred: already called")

	// ErrCancelled is the error a Deferred fails with when Cancel is called
	// before it has a result and its canceller (if any) did not fire it
	// (Twisted's CancelledError).
	ErrCancelled = errors.New("deferred: cancelled")

	// ErrTimeout is the error a Deferred fails with when AddTimeout's delay
	// elapsed before it had a result (Twisted's TimeoutError).
	ErrTimeout = errors.New("deferred: timed out")

	// ErrCircularChain is the error a chain switches to when a callback
	// returns the very Deferred it was added to: waiting on itself could
	// never end.
	ErrCircularChain = errors.New("deferred: circular chain: a callback returned its own Deferred")

	// ErrNilError is what Errback(nil) fails the Deferred with (and returns):
	// a nil error is a programming mistake, never a success.
	ErrNilError = errors.New("deferred: Errback called with a nil error")

	// ErrNilDeferred is the error a chain switches to when a callback added
	// with AddCallbackDeferred, AddErrbackDeferred or AddBothDeferred returns
	// a nil *Deferred together with a nil error.
	ErrNilDeferred = errors.New("deferred: callback returned a nil *Deferred and a nil error")

	// ErrQueueOverflow is returned by Queue.Put when the queue already holds
	// its size limit of values and nobody is waiting (Twisted's QueueOverflow).
	ErrQueueOverflow = errors.New("deferred: queue overflow")

	// ErrQueueUnderflow is returned by Queue.Get when the queue is empty and
	// its backlog limit of waiting Gets is reached (Twisted's QueueUnderflow).
	ErrQueueUnderflow = errors.New("deferred: queue underflow")
)

// PanicError is the error a chain switches to when a callback, an errback,
// a canceller or a Go body panics. It keeps the panic value and the stack of
// the panicking goroutine, so the crash site is never lost.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the goroutine's stack as printed by runtime/debug.Stack at
	// the point of recovery; it includes the frame that panicked.
	Stack []byte
}

// Error reports the panic value and the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("deferred: panic in callback: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error (as with
// panic(err)), so errors.Is and errors.As see through the panic; otherwise
// it returns nil.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// FirstError is the error a List or First with FireOnOneErrback, a Gather
// and a Map fail with: the first input to fail, by position, and its error
// (Twisted's FirstError).
type FirstError struct {
	// Index is the position of the failed Deferred in the input slice.
	Index int
	// Err is the error that Deferred failed with.
	Err error
}

// Error reports the index and the wrapped error.
func (e *FirstError) Error() string {
	return fmt.Sprintf("deferred: first error at index %d: %v", e.Index, e.Err)
}

// Unwrap returns Err.
func (e *FirstError) Unwrap() error { return e.Err }

// CancelError is the error a Deferred fails with when CancelCause (or
// Bind's context ending) cancelled it with a cause. It matches ErrCancelled
// and, through Unwrap, the cause.
type CancelError struct {
	// Cause is the cause given to CancelCause; for Bind, the context's
	// error joined with context.Cause.
	Cause error
}

// Error reports the cancellation and its cause (without a cause, it is
// ErrCancelled's message).
func (e *CancelError) Error() string {
	if e.Cause == nil {
		return ErrCancelled.Error()
	}
	return ErrCancelled.Error() + ": " + e.Cause.Error()
}

// Is reports whether target is ErrCancelled.
func (e *CancelError) Is(target error) bool { return target == ErrCancelled }

// Unwrap returns Cause.
func (e *CancelError) Unwrap() error { return e.Cause }

// RaceError is the error Race fails with when every input Deferred failed
// (Twisted's FailureGroup). Errs holds one error per input, in input order.
// Race of no Deferreds fails at once with a RaceError holding no errors.
type RaceError struct {
	// Errs are the failures, Errs[i] being the error of input i.
	Errs []error
}

// Error lists every failure.
func (e *RaceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deferred: race: all %d failed", len(e.Errs))
	for i, err := range e.Errs {
		fmt.Fprintf(&b, "; [%d] %v", i, err)
	}
	return b.String()
}

// Unwrap returns every failure, so errors.Is and errors.As match any of them.
func (e *RaceError) Unwrap() []error { return e.Errs }
