package backoff

import (
	"errors"
	"time"
)

// Errors returned by this package; test for them with errors.Is.
var (
	// ErrBudgetExhausted is joined with the last error of the operation when
	// a Budget or a RateBudget refuses a retry.
	ErrBudgetExhausted = errors.New("backoff: retry budget exhausted")
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

// Hinter is implemented by errors that carry a server's hint of when to
// retry, such as an HTTP 429 or 503 response with a Retry-After header or a
// gRPC retry pushback. Retry waits RetryAfter() instead of the policy's delay,
// capped at the policy's maximum; a negative hint means "do not retry", as a
// negative gRPC pushback does. Retry finds the first Hinter anywhere in the
// error's tree, as errors.As would, without allocating.
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
