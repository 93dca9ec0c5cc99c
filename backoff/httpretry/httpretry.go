// Package httpretry retries HTTP requests that are safe to repeat: an
// [http.RoundTripper] that waits between attempts with the policies, budgets
// and stop rules of package backoff, honours Retry-After, replays request
// bodies and drains the responses it discards so that connections are
// reused. It uses the standard library only.
//
// Wrap an existing client with [Wrap], or set a [*Transport] as a client's
// Transport:
//
//	client := httpretry.Wrap(http.DefaultClient, &httpretry.Transport{
//		Policy: backoff.Exponential{Base: 200 * time.Millisecond},
//		Budget: budget, // one *backoff.Budget per downstream service
//	})
//
// With the defaults a request is tried at most 4 times, with the delays of
// backoff.Exponential{} (100 ms, ×2, full jitter, capped at 10 s), on a
// connection error or a 429, 502, 503 or 504 answer:
//
//	retry   delay without Retry-After   with "Retry-After: 2"
//	    1   0–100 ms                    2 s
//	    2   0–200 ms                    2 s
//	    3   0–400 ms                    2 s
//
// A Retry-After longer than one minute (Transport.MaxHint) is not waited:
// the answer that carried it is returned at once.
//
// A Transport sends every attempt, waits and calls OnAttempt on the
// goroutine that called RoundTrip, and starts no goroutine of its own; with
// AttemptTimeout set, each attempt arms a timer (time.AfterFunc) that
// cancels the attempt from the time package's goroutine when it fires
// before the headers arrive, and is stopped once they have.
package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/twine-go/twine/backoff"
)

// Errors of this package; test for them with errors.Is.
var (
	// ErrAttemptTimeout is wrapped by the error of an attempt that got no
	// response headers within Transport.AttemptTimeout. Such an attempt is
	// retried like a connection error.
	ErrAttemptTimeout = errors.New("httpretry: attempt timed out")
)

// DefaultMaxAttempts is the number of attempts per request when
// Transport.MaxAttempts is zero: the first and three retries, within the
// "at most 3 retries, in one layer only" advice of Google's SRE book.
const DefaultMaxAttempts = 4

// DrainLimit bounds how much of a discarded response's body the transport
// reads before closing it: a short error page is read to its end, so that
// its connection goes back to the pool; a longer one costs its connection
// rather than the time to read it.
const DrainLimit = 64 << 10

// Transport is an http.RoundTripper that retries requests safe to repeat.
// An attempt is retried when Retryable says so (by default: a connection
// error, or a 429, 502, 503 or 504 answer), the request is Repeatable (by
// default: GET, HEAD, OPTIONS, TRACE, PUT, DELETE, or any request with an
// Idempotency-Key header) and its body can be sent again (no body, or
// Request.GetBody set, as http.NewRequest does for in-memory bodies). Other
// requests are sent once, as they are.
//
// Between attempts the transport waits the Policy's delay, or the time the
// server asked for with Retry-After (in seconds or as an HTTP-date), and
// never less than that; a Retry-After longer than MaxHint stops the retries.
// Each discarded response is drained (at most DrainLimit bytes) and closed.
// Once a response is handed to the caller nothing is retried, not even a
// body that breaks off halfway.
//
// RoundTrip returns the response of the last attempt when it has one, even
// a 503 after the attempts, the time or the budget ran out: the caller sees
// the server's last answer (OnAttempt tells why the retries stopped). It
// returns an error when the last attempt had no response: the error of
// backoff.Retry, a *backoff.StopError whose Reason tells why it stopped
// (errors.Is(err, backoff.ErrMaxAttempts), ErrBudgetExhausted, ...) and
// which unwraps to the last connection error. When the request's context
// ends, RoundTrip returns at once, with an error for which
// errors.Is(err, context.Canceled) (or DeadlineExceeded) holds, and
// discards any response it holds.
//
// The zero value is usable: http.DefaultTransport, backoff.Exponential{},
// 4 attempts, no per-attempt timeout and no budget. Set the fields before
// first use and do not change them afterwards. A Transport is safe for
// concurrent use by multiple goroutines; share one Budget or RateBudget
// among all the transports that call one service. An http.Client's Timeout
// bounds the whole request, retries and waits included. A Transport must
// not be copied after first use.
type Transport struct {
	// Base sends each attempt; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Policy gives the delays between attempts; nil means
	// backoff.Exponential{}.
	Policy backoff.Policy
	// MaxAttempts is the number of attempts per request, the first
	// included; zero means DefaultMaxAttempts (4), a negative value no
	// limit (then set a Budget, a context deadline or Client.Timeout).
	MaxAttempts int
	// AttemptTimeout bounds each attempt until its response headers
	// arrive; zero means no bound. An attempt that times out is retried.
	// It does not bound the reading of the body handed to the caller, which
	// only the request's context does: the attempt's context ends when that
	// body is closed.
	AttemptTimeout time.Duration
	// MaxHint is the longest Retry-After that the transport waits; zero
	// means backoff.DefaultMaxHint (one minute), a negative value no bound.
	// A longer Retry-After ends the retries, and the answer that carried it
	// is returned.
	MaxHint time.Duration
	// Budget, when set, refuses retries once too many attempts fail.
	Budget *backoff.Budget
	// RateBudget, when set, caps retries at a share of requests.
	RateBudget *backoff.RateBudget
	// Retryable decides whether an attempt's outcome, a response or a
	// connection error (exactly one of resp and err is nil), is worth
	// another attempt; nil means DefaultRetryable. It must not read
	// resp.Body.
	Retryable func(resp *http.Response, err error) bool
	// Repeatable reports whether sending req more than once is safe; nil
	// means Idempotent. A request whose body cannot be replayed is never
	// repeated, whatever Repeatable says.
	Repeatable func(req *http.Request) bool
	// OnAttempt, when set, is called after each attempt, on the goroutine
	// that called RoundTrip, before any wait; use it for logging and
	// metrics. It must not read or close the response's body.
	OnAttempt func(Attempt)

	// opts[:nopts] are the loop's options, built from the fields at first
	// use; options that would change nothing are left out, which keeps
	// backoff's resolving of them short.
	once  sync.Once
	opts  [5]backoff.Option
	nopts int
}

// Attempt describes one attempt, for Transport.OnAttempt.
type Attempt struct {
	// Request is the request as sent for this attempt: the caller's
	// request, or a copy with a replayed body and the attempt's context.
	Request *http.Request
	// Number counts the attempts of the request, from 1.
	Number int
	// Response is the attempt's response, or nil after a connection error.
	Response *http.Response
	// Err is the attempt's connection error (wrapping ErrAttemptTimeout
	// when AttemptTimeout expired), or nil.
	Err error
	// Retry tells whether another attempt follows, after Delay.
	Retry bool
	// Delay is the wait before the next attempt when Retry is set.
	Delay time.Duration
	// Stop, on the last attempt of a retryable failure, is the
	// *backoff.StopError that ended the retries: errors.Is(a.Stop,
	// backoff.ErrMaxAttempts), ErrBudgetExhausted, ErrHintTooLong, ... It is
	// nil when the last attempt succeeded or was not worth retrying.
	Stop error
}

// StatusError is an attempt's failure by a retryable status, as backoff
// sees it; it is found in Attempt.Stop and in a Budget's view of the
// request, never returned by RoundTrip, which returns the response itself.
type StatusError struct {
	// StatusCode is the response's status code, such as 503.
	StatusCode int
}

// Error returns the status, as in "httpretry: 503 Service Unavailable".
func (e *StatusError) Error() string {
	return fmt.Sprintf("httpretry: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Wrap returns a copy of c whose transport is a new Transport with the
// settings of t. Unless t.Base is set, the attempts go through c's own
// transport (http.DefaultTransport if that is nil). A nil c means
// http.DefaultClient, a nil t the defaults. Neither c nor t is changed.
func Wrap(c *http.Client, t *Transport) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	if t == nil {
		t = &Transport{}
	}
	n := &Transport{
		Base: t.Base, Policy: t.Policy, MaxAttempts: t.MaxAttempts,
		AttemptTimeout: t.AttemptTimeout, MaxHint: t.MaxHint,
		Budget: t.Budget, RateBudget: t.RateBudget,
		Retryable: t.Retryable, Repeatable: t.Repeatable, OnAttempt: t.OnAttempt,
	}
	if n.Base == nil {
		n.Base = c.Transport
	}
	w := *c
	w.Transport = n
	return &w
}

// CloseIdleConnections closes the idle connections of the Base transport,
// if it has such a method; http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base == nil {
		return http.DefaultTransport
	}
	return t.Base
}

// RoundTrip sends req, retrying as described at [Transport]. Like every
// RoundTripper it closes req.Body, and it does not change req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := call{t: t, base: t.base(), req: req}
	if !t.repeatable(req) {
		return c.once()
	}
	t.once.Do(t.init)
	// The first attempt runs outside the loop, so that a request that
	// succeeds at once costs no more than the attempt itself; it keeps the
	// budgets' books as the loop would.
	first := c.attempt(req.Context())
	if first == nil {
		if t.RateBudget != nil {
			t.RateBudget.RecordRequest()
		}
		if t.Budget != nil {
			t.Budget.RecordSuccess()
		}
		c.report(nil)
		return c.keep(), nil
	}
	// A failure: the loop takes over, and its first call replays it.
	c.first = first
	var err error
	if t.OnAttempt == nil {
		err = backoff.Retry(req.Context(), c.attempt, t.opts[:t.nopts]...)
	} else {
		var opts [len(t.opts) + 1]backoff.Option
		copy(opts[:], t.opts[:t.nopts])
		opts[t.nopts] = backoff.Notify(c.notify)
		err = backoff.Retry(req.Context(), c.attempt, opts[:t.nopts+1]...)
	}
	return c.finish(err)
}

// init builds the options of the retry loop from the fields.
func (t *Transport) init() {
	attempts := t.MaxAttempts
	if attempts == 0 {
		attempts = DefaultMaxAttempts
	}
	add := func(o backoff.Option) {
		t.opts[t.nopts] = o
		t.nopts++
	}
	add(backoff.WithPolicy(t.Policy))
	add(backoff.MaxAttempts(attempts))
	if t.MaxHint != 0 {
		add(backoff.MaxHint(t.MaxHint))
	}
	if t.Budget != nil {
		add(backoff.WithBudget(t.Budget))
	}
	if t.RateBudget != nil {
		add(backoff.WithRateBudget(t.RateBudget))
	}
}

// repeatable reports whether req may be sent more than once.
func (t *Transport) repeatable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if t.Repeatable != nil {
		return t.Repeatable(req)
	}
	return Idempotent(req)
}

// call is the state of one RoundTrip.
type call struct {
	t    *Transport
	base http.RoundTripper
	req  *http.Request
	n    int // attempts so far
	// last is the latest response, kept open until the next attempt starts
	// so that it can be handed over if there is no next attempt; cancel
	// ends its attempt's context (nil without AttemptTimeout).
	last   *http.Response
	cancel context.CancelCauseFunc
	// err is the latest connection error.
	err error
	// first is the outcome of the first attempt, made before the loop,
	// for the loop's first call to return.
	first error
	// pending is the latest attempt, not yet reported to OnAttempt.
	pending    Attempt
	hasPending bool
}

// once sends a request that may not be repeated.
func (c *call) once() (*http.Response, error) {
	_ = c.attempt(c.req.Context())
	c.report(nil)
	if c.last != nil {
		return c.keep(), nil
	}
	return nil, c.err
}

// errNotRetried never leaves the package: attempt returns it (as a
// Permanent error) for a connection error that is not worth retrying, so
// that finish returns the connection error itself.
var errNotRetried = errors.New("httpretry: not retried")

// attempt is the operation that backoff.Retry repeats: one round trip.
// It returns nil for a response to hand over, a retryable error for a
// failure worth another attempt, and a Permanent error otherwise.
func (c *call) attempt(ctx context.Context) error {
	if err := c.first; err != nil {
		c.first = nil
		return err
	}
	c.n++
	r := c.req
	if c.n > 1 {
		// A copy with a fresh body; the caller's request is never changed.
		rr := *c.req
		if c.req.GetBody != nil {
			body, err := c.req.GetBody()
			if err != nil {
				return backoff.Permanent(fmt.Errorf("httpretry: replay body: %w", err))
			}
			rr.Body = body
		}
		r = &rr
	}
	c.discard()

	// The attempt's own context, when it has a timeout: a timer bounds the
	// wait for the headers only, and the context ends with the body.
	var (
		cancel context.CancelCauseFunc
		timer  *time.Timer
	)
	if d := c.t.AttemptTimeout; d > 0 {
		var actx context.Context
		actx, cancel = context.WithCancelCause(ctx)
		timer = time.AfterFunc(d, func() { cancel(ErrAttemptTimeout) })
		r = r.WithContext(actx)
	}
	resp, err := c.base.RoundTrip(r)
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		if cancel != nil {
			if ctx.Err() == nil && errors.Is(context.Cause(r.Context()), ErrAttemptTimeout) {
				err = fmt.Errorf("%w after %v: %w", ErrAttemptTimeout, c.t.AttemptTimeout, err)
			}
			cancel(nil)
		}
		c.err = err
		c.record(r, nil, err)
		if !c.retryable(nil, err) {
			return backoff.Permanent(errNotRetried)
		}
		return err
	}
	c.last, c.cancel = resp, cancel
	c.record(r, resp, nil)
	if !c.retryable(resp, nil) {
		return nil
	}
	serr := error(&StatusError{StatusCode: resp.StatusCode})
	if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		serr = backoff.RetryAfter(serr, d)
	}
	return serr
}

func (c *call) retryable(resp *http.Response, err error) bool {
	if c.t.Retryable != nil {
		return c.t.Retryable(resp, err)
	}
	return DefaultRetryable(resp, err)
}

// record keeps the outcome of the attempt just made for OnAttempt.
func (c *call) record(r *http.Request, resp *http.Response, err error) {
	if c.t.OnAttempt == nil {
		return
	}
	c.pending = Attempt{Request: r, Number: c.n, Response: resp, Err: err}
	c.hasPending = true
}

// notify is backoff's Notify hook: the pending attempt will be retried.
func (c *call) notify(_ int, _ error, next time.Duration) {
	c.pending.Retry, c.pending.Delay = true, next
	c.report(nil)
}

// report calls OnAttempt with the pending attempt, if any.
func (c *call) report(stop error) {
	if !c.hasPending {
		return
	}
	a := c.pending
	a.Stop = stop
	c.pending, c.hasPending = Attempt{}, false
	c.t.OnAttempt(a)
}

// finish turns the loop's result into RoundTrip's.
func (c *call) finish(err error) (*http.Response, error) {
	if err == nil {
		c.report(nil)
		return c.keep(), nil
	}
	var stop *backoff.StopError
	if errors.As(err, &stop) {
		c.report(err)
	} else {
		c.report(nil)
	}
	if c.req.Context().Err() != nil {
		// The caller gave up: a pending response is of no use to them.
		c.discard()
		return nil, err
	}
	if c.last != nil {
		// The retries stopped on a retryable answer: hand it over.
		return c.keep(), nil
	}
	if errors.Is(err, errNotRetried) {
		return nil, c.err
	}
	return nil, err
}

// keep hands the last response over: its attempt's context, if any, now
// ends when the caller closes the body.
func (c *call) keep() *http.Response {
	resp := c.last
	if c.cancel != nil && resp.Body != nil {
		if _, ok := resp.Body.(io.Writer); !ok { // keep 101 Switching Protocols bodies writable
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: c.cancel}
		}
	}
	c.last, c.cancel = nil, nil
	return resp
}

// discard drains (at most DrainLimit bytes) and closes the last response,
// so that its connection can be reused, and ends its attempt's context.
func (c *call) discard() {
	if c.last != nil && c.last.Body != nil {
		_, _ = io.CopyN(io.Discard, c.last.Body, DrainLimit)
		_ = c.last.Body.Close()
	}
	if c.cancel != nil {
		c.cancel(nil)
	}
	c.last, c.cancel = nil, nil
}

// cancelBody ends an attempt's context when the caller closes the body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
