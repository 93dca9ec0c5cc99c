package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/twine-go/twine/backoff"
)

// defaultMaxAttempts is the number of calls a Transport makes for one
// request when MaxAttempts is zero: the first and three retries, within the
// "at most 3 retries, one retrying layer" advice of the Google SRE book.
const defaultMaxAttempts = 4

// drainLimit bounds how much of a failed response's body is read before it
// is closed, so that its connection can be reused without reading a huge
// error page.
const drainLimit = 64 << 10

// Transport is an http.RoundTripper that retries idempotent requests which
// fail with a network error or a retryable status (408, 429, 500, 502, 503,
// 504), waiting between attempts as its backoff policy says, or as the
// server's Retry-After header says (capped at the policy's maximum).
//
// A request is retried only when it is idempotent (GET, HEAD, OPTIONS,
// TRACE, PUT, DELETE, or any method with an Idempotency-Key header) and its
// body can be replayed (no body, or Request.GetBody set, as
// http.NewRequest does for in-memory bodies). Other 4xx statuses are
// permanent: the response is returned at once. When the attempts, the
// Budget or the policy run out, the last response is returned as it is, so
// that the caller sees the server's final answer; a network error on the
// last attempt is returned as an error (joined with
// backoff.ErrBudgetExhausted when the Budget refused the retry). The
// request's context bounds everything: when it ends during a wait,
// RoundTrip returns at once with an error for which
// errors.Is(err, context.Canceled) (or DeadlineExceeded) holds.
//
// The zero value is usable: http.DefaultTransport, backoff.Exponential{}
// (100 ms, ×2, full jitter, at most 10 s), 4 attempts and no budget. Set the
// fields before first use. A Transport is safe for concurrent use by
// multiple goroutines; share one Budget among all the Transports that call
// one service.
type Transport struct {
	// Base makes the actual requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Policy gives the delays between attempts; nil means
	// backoff.Exponential{}.
	Policy backoff.Policy
	// Budget, when set, refuses retries once too many calls fail.
	Budget *backoff.Budget
	// MaxAttempts is the number of calls per request, the first included;
	// zero means 4.
	MaxAttempts int
	// Notify, when set, is called on the requesting goroutine before each
	// wait, with the attempt that failed (from 1), why, and the delay.
	Notify func(req *http.Request, attempt int, err error, next time.Duration)
}

// statusError is the failure of an attempt that got a response with an
// unwanted status.
type statusError struct{ code int }

func (e *statusError) Error() string {
	return fmt.Sprintf("retryclient: %d %s", e.code, http.StatusText(e.code))
}

// RoundTrip implements http.RoundTripper; see Transport for the rules.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if !replayable(req) {
		return base.RoundTrip(req)
	}
	policy := t.Policy
	if policy == nil {
		policy = backoff.Exponential{}
	}
	attempts := t.MaxAttempts
	if attempts <= 0 {
		attempts = defaultMaxAttempts
	}
	opts := []backoff.Option{
		backoff.WithPolicy(policy),
		backoff.WithBudget(t.Budget),
		backoff.MaxAttempts(attempts),
	}
	if t.Notify != nil {
		opts = append(opts, backoff.Notify(func(attempt int, err error, next time.Duration) {
			t.Notify(req, attempt, err, next)
		}))
	}

	// last is the latest response, kept open until the next attempt starts
	// so that it can be returned if there is no next attempt.
	var last *http.Response
	n := 0
	op := func(ctx context.Context) error {
		n++
		if last != nil {
			discard(last)
			last = nil
		}
		r := req
		if n > 1 {
			var err error
			if r, err = rewind(req); err != nil {
				return backoff.Permanent(err)
			}
		}
		resp, err := base.RoundTrip(r)
		if err != nil {
			return err
		}
		last = resp
		switch {
		case retryableStatus(resp.StatusCode):
			err := error(&statusError{resp.StatusCode})
			if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				err = backoff.RetryAfter(err, d)
			}
			return err
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			return backoff.Permanent(&statusError{resp.StatusCode})
		}
		return nil
	}
	err := backoff.Retry(req.Context(), op, opts...)
	var se *statusError
	switch {
	case err == nil:
		return last, nil
	case req.Context().Err() != nil:
		// The caller gave up: the pending response is of no use to them.
		if last != nil {
			discard(last)
		}
		return nil, err
	case errors.As(err, &se) && last != nil:
		return last, nil
	}
	if last != nil {
		discard(last)
	}
	return nil, err
}

// replayable reports whether req may be sent more than once: it is
// idempotent and its body, if any, can be obtained again.
func replayable(req *http.Request) bool {
	if !idempotent(req) {
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// idempotent reports whether repeating req has the same effect as sending
// it once (RFC 9110, section 9.2.2), or whether the client says so with an
// Idempotency-Key header.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	_, keyed := req.Header["Idempotency-Key"]
	return keyed
}

// retryableStatus reports whether a response status means "try again
// later" rather than "this request is wrong".
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// rewind returns a copy of req with a fresh body for another attempt.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("retryclient: replay body: %w", err)
		}
		r.Body = body
	}
	return r, nil
}

// discard reads a little of resp's body and closes it, so that the
// connection can be reused.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	_ = resp.Body.Close()
}
