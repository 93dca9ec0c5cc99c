package backoff

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by this package; test for them with errors.Is.
var (
	// ErrMaxAttempts is the Reason of the StopError that Retry returns when
	// the operation failed as many times as MaxAttempts allows.
	ErrMaxAttempts = errors.New("backoff: attempts exhausted")
	// ErrMaxElapsed is the Reason of the StopError that Retry returns when
	// the next retry would start later than MaxElapsed after the first call,
	// including when the first call alone took longer than that.
	ErrMaxElapsed = errors.New("backoff: elapsed-time cap reached")
	// ErrBudgetExhausted is the Reason of the StopError that Retry returns
	// when a Budget or a RateBudget refuses a retry.
	ErrBudgetExhausted = errors.New("backoff: retry budget exhausted")
	// ErrHintRefused is the Reason of the StopError that Retry returns when
	// the operation's error carries a negative retry-after hint: the server
	// asked not to retry.
	ErrHintRefused = errors.New("backoff: server asked not to retry")
	// ErrHintTooLong is the Reason of the StopError that Retry returns when
	// the operation's error carries a retry-after hint longer than MaxHint
	// allows: Retry never retries earlier than a hint, so it stops.
	ErrHintTooLong = errors.New("backoff: retry-after hint beyond MaxHint")
	// ErrInvalidPolicy is wrapped by Validate, and by the error that Retry
	// returns without calling the operation when the policy has invalid
	// fields; the message names the field.
	ErrInvalidPolicy = errors.New("backoff: invalid policy")
)

// Permanent wraps err to tell Retry not to retry it. Retry returns err
// itself, without the wrapper. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// StopError is the error Retry returns when it gives up on an operation that
// keeps failing. Reason says why: ErrMaxAttempts, ErrMaxElapsed,
// ErrBudgetExhausted, ErrHintRefused, ErrHintTooLong, or the context's error
// (context.Canceled or context.DeadlineExceeded) when the context ended.
// Err is the operation's last error. errors.Is and errors.As look through
// both, and through the context's cause when it differs from its error:
// errors.Is(err, backoff.ErrMaxAttempts) and errors.Is(err, lastErr) both
// hold.
type StopError struct {
	// Reason is why Retry stopped; see above.
	Reason error
	// Err is the last error of the operation.
	Err error
	// Attempts is how many times the operation ran.
	Attempts int
	// cause is context.Cause when the context ended with a cause that
	// differs from its error.
	cause error
}

// Error returns the reason, the number of attempts and the last error, as
// in "backoff: attempts exhausted after 3 attempts: connection refused".
func (e *StopError) Error() string {
	reason := e.Reason.Error()
	if e.cause != nil {
		reason += ": " + e.cause.Error()
	}
	plural := "s"
	if e.Attempts == 1 {
		plural = ""
	}
	return fmt.Sprintf("%s after %d attempt%s: %v", reason, e.Attempts, plural, e.Err)
}

// Unwrap returns the reason, the context's cause if any, and the last
// error, for errors.Is and errors.As.
func (e *StopError) Unwrap() []error {
	errs := make([]error, 0, 3)
	for _, err := range []error{e.Reason, e.cause, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Hinter is implemented by errors that carry a server's hint of when to
// retry, such as an HTTP 429 or 503 response with a Retry-After header or a
// gRPC retry pushback. Retry waits RetryAfter() instead of the policy's
// delay, even beyond the policy's Max: it never retries earlier than the
// server asked. A hint longer than MaxHint (DefaultMaxHint unless set) stops
// the loop with ErrHintTooLong instead, and a negative hint means "do not
// retry", as a negative gRPC pushback does (ErrHintRefused). Retry finds the
// first Hinter anywhere in the error's tree, as errors.As would, without
// allocating.
type Hinter interface {
	// RetryAfter returns how long the server asked the client to wait.
	RetryAfter() time.Duration
}

// RetryAfter wraps err with a retry-after hint d, which Retry honours as
// described at [Hinter]. The result unwraps to err. RetryAfter(nil, d) is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, d: d}
}

type hintError struct {
	err error
	d   time.Duration
}

func (e *hintError) Error() string             { return e.err.Error() }
func (e *hintError) Unwrap() error             { return e.err }
func (e *hintError) RetryAfter() time.Duration { return e.d }

// inspect walks err's tree (as errors.Is does, depth first) looking for a
// permanent marker and the first retry-after hint. It does what errors.As
// would without allocating a target.
func inspect(err error, depth int) (permanent bool, hint time.Duration, hinted bool) {
	for err != nil && depth < 64 {
		depth++
		if _, ok := err.(*permanentError); ok {
			permanent = true
		}
		if h, ok := err.(Hinter); ok && !hinted {
			hint, hinted = h.RetryAfter(), true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				p, h, ok := inspect(e, depth)
				permanent = permanent || p
				if ok && !hinted {
					hint, hinted = h, true
				}
			}
			return permanent, hint, hinted
		default:
			return permanent, hint, hinted
		}
	}
	return permanent, hint, hinted
}
