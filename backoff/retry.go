package backoff

import (
	"context"
	"errors"
	"math"
	"time"
)

// Option configures one call of Retry or RetryValue. Options are plain
// values: building and passing them allocates nothing, and one slice of
// options may be shared by many goroutines. The zero Option changes nothing.
type Option struct {
	kind   optionKind
	n      int64
	spec   spec
	budget *Budget
	rate   *RateBudget
	notify func(attempt int, err error, next time.Duration)
	retry  func(err error) bool
	// fn is the function of a Func policy. It is kept out of spec and of
	// the Sequence that Retry uses, whose contents escape (through the
	// rand.Source it may call), so that calling it lets nothing escape.
	fn func(int) time.Duration
}

type optionKind uint8

const (
	optNone optionKind = iota
	optPolicy
	optMaxAttempts
	optMaxElapsed
	optAttemptTimeout
	optBudget
	optRateBudget
	optNotify
	optSeed
	optRetryIf
	optMaxHint
)

// DefaultMaxHint is the longest retry-after hint that Retry honours when
// MaxHint is not set: a minute, beyond which a caller in a request path is
// usually better told that the server is unavailable.
const DefaultMaxHint = time.Minute

// WithPolicy sets the delay policy. The default, also used for a nil p, is
// Exponential{}: 100 ms, ×2, full jitter, capped at 10 s.
func WithPolicy(p Policy) Option {
	if p == nil {
		return Option{}
	}
	f, _ := p.(Func)
	return Option{kind: optPolicy, spec: p.spec(), fn: f}
}

// MaxAttempts stops after n calls of the operation (the first call and n−1
// retries), with a StopError whose Reason is ErrMaxAttempts. Zero or less means no
// limit: then the other conditions listed at Retry end the loop, the
// context's deadline first among them. Google's SRE book advises at most 3
// attempts per request, and retrying in one layer only.
func MaxAttempts(n int) Option { return Option{kind: optMaxAttempts, n: int64(n)} }

// MaxElapsed stops retrying when the next delay would end more than d after
// the first call started, with a StopError whose Reason is ErrMaxElapsed;
// so does a first call that alone takes longer than d. Zero or less means no
// limit.
func MaxElapsed(d time.Duration) Option { return Option{kind: optMaxElapsed, n: int64(d)} }

// AttemptTimeout gives each call of the operation a context that expires
// after d; an attempt that times out is retried like any other failure.
// Zero or less means none. It costs a context per attempt.
func AttemptTimeout(d time.Duration) Option {
	return Option{kind: optAttemptTimeout, n: int64(d)}
}

// WithBudget makes the loop report each outcome to b (a Permanent error
// counts as neither success nor failure) and ask b before each retry; when
// b refuses, Retry stops with a StopError whose Reason is
// ErrBudgetExhausted. A nil b means no budget.
func WithBudget(b *Budget) Option { return Option{kind: optBudget, budget: b} }

// WithRateBudget makes the loop deposit into b for its first attempt and
// withdraw from b for each retry; when b has nothing left, Retry stops with
// a StopError whose Reason is ErrBudgetExhausted. A nil b means no rate
// budget. It combines with WithBudget.
func WithRateBudget(b *RateBudget) Option { return Option{kind: optRateBudget, rate: b} }

// Notify sets a hook called after each failed attempt that will be retried,
// with the attempt's number (1 for the first call), its error and the delay
// before the next attempt. It runs on the goroutine that called Retry,
// before the wait; use it for logging and metrics.
func Notify(f func(attempt int, err error, next time.Duration)) Option {
	return Option{kind: optNotify, notify: f}
}

// RetryIf sets a predicate that decides, for each error of the operation,
// whether it may be retried; when f returns false, Retry returns the error
// as it is, as for a Permanent error (neither counts for a Budget). f runs
// on the goroutine that called Retry, after the Permanent check and before
// the other stop conditions. A nil f means every error but a Permanent one
// may be retried.
func RetryIf(f func(err error) bool) Option { return Option{kind: optRetryIf, retry: f} }

// MaxHint bounds the retry-after hints that Retry honours. Retry never
// retries earlier than a hint, even one longer than the policy's Max; a hint
// longer than d stops the loop with a StopError whose Reason is
// ErrHintTooLong. Zero means DefaultMaxHint (one minute); a negative d means
// no bound.
func MaxHint(d time.Duration) Option { return Option{kind: optMaxHint, n: int64(d)} }

// WithSeed seeds the loop's PCG generator with seed instead of a draw from
// the global generator of math/rand/v2: the same seed gives the same delays,
// which makes tests and simulations reproducible. (A seed
// rather than a rand.Source keeps the options free of interfaces, which
// would make every value they carry escape to the heap.)
func WithSeed(seed uint64) Option { return Option{kind: optSeed, n: int64(seed)} }

// config is the resolved set of options of one Retry call.
type config struct {
	spec        spec
	hasSpec     bool
	maxAttempts int64
	maxElapsed  time.Duration
	timeout     time.Duration
	budget      *Budget
	rate        *RateBudget
	notify      func(int, error, time.Duration)
	retryIf     func(error) bool
	fn          func(int) time.Duration
	maxHint     time.Duration
	seed        uint64
	seeded      bool
}

// resolve applies opts to the defaults. It returns the config by value:
// storing the options' pointers through a *config would make them escape.
func resolve(opts []Option) config {
	var c config
	for i := range opts {
		o := &opts[i]
		switch o.kind {
		case optPolicy:
			c.spec, c.fn, c.hasSpec = o.spec, o.fn, true
		case optMaxAttempts:
			c.maxAttempts = o.n
		case optMaxElapsed:
			c.maxElapsed = time.Duration(o.n)
		case optAttemptTimeout:
			c.timeout = time.Duration(o.n)
		case optBudget:
			c.budget = o.budget
		case optRateBudget:
			c.rate = o.rate
		case optNotify:
			c.notify = o.notify
		case optSeed:
			c.seed, c.seeded = uint64(o.n), true
		case optRetryIf:
			c.retryIf = o.retry
		case optMaxHint:
			c.maxHint = time.Duration(o.n)
		}
	}
	switch {
	case c.maxHint == 0:
		c.maxHint = DefaultMaxHint
	case c.maxHint < 0:
		c.maxHint = math.MaxInt64
	}
	if !c.hasSpec {
		c.spec = Exponential{}.spec()
	}
	return c
}

// Retry calls op until it succeeds and returns nil, or until one of these
// ends the loop:
//
//   - op returns a Permanent error, or an error that the RetryIf predicate
//     refuses: Retry returns that error as it is (without the Permanent
//     wrapper);
//   - MaxAttempts or MaxElapsed is reached, the Budget or the RateBudget
//     refuses a retry, or op's error carries a retry-after hint that is
//     negative or longer than MaxHint: Retry returns a *[StopError] whose
//     Reason is ErrMaxAttempts, ErrMaxElapsed, ErrBudgetExhausted,
//     ErrHintRefused or ErrHintTooLong, and whose Err is op's last error;
//   - ctx ends, during a wait or before a call: Retry returns promptly with
//     a *StopError whose Reason is ctx.Err() (errors.Is also finds the
//     context's cause and op's last error); if op never ran, with ctx.Err()
//     itself, joined with the context's cause if that differs.
//
// Between attempts Retry waits the policy's next delay, or the error's
// retry-after hint (see [Hinter]), which may exceed the policy's Max. It
// uses at most one timer, created at the first non-zero delay and reused; a zero
// delay touches no timer, and a loop that needs none allocates nothing.
// op runs on the calling goroutine; Retry starts no goroutines. It returns
// the policy's Validate error, which wraps ErrInvalidPolicy and names the
// invalid field, without calling op if the policy fails its Validate. It
// panics if op is nil.
func Retry(ctx context.Context, op func(context.Context) error, opts ...Option) error {
	if op == nil {
		panic("backoff: Retry with nil op")
	}
	c := resolve(opts)
	return c.run(ctx, op)
}

// RetryValue is Retry for an operation that returns a value: it returns the
// value of the successful call, or the zero T and the error that Retry would
// return. It panics if op is nil.
func RetryValue[T any](ctx context.Context, op func(context.Context) (T, error), opts ...Option) (T, error) {
	if op == nil {
		panic("backoff: RetryValue with nil op")
	}
	c := resolve(opts)
	var v T
	err := c.run(ctx, func(ctx context.Context) error {
		var err error
		v, err = op(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// run is the retry loop shared by Retry and RetryValue.
func (c *config) run(ctx context.Context, op func(context.Context) error) error {
	if c.spec.invalid {
		return c.spec.fault.err()
	}
	if ctx.Err() != nil {
		return ctxError(ctx, nil, 0)
	}
	var start time.Time
	if c.maxElapsed > 0 {
		start = time.Now()
	}
	seq := newSequence(c.spec, nil)
	if c.seeded {
		seq.seed(c.seed)
	}
	if c.rate != nil {
		c.rate.RecordRequest()
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for attempt := int64(1); ; attempt++ {
		var err error
		if c.timeout > 0 {
			err = c.callWithTimeout(ctx, op)
		} else {
			err = op(ctx)
		}
		if err == nil {
			if c.budget != nil {
				c.budget.RecordSuccess()
			}
			return nil
		}
		// Classify the failure.
		permanent, hint, hinted := inspect(err, 0)
		if permanent {
			if p, ok := err.(*permanentError); ok {
				return p.err
			}
			return err
		}
		if c.retryIf != nil && !c.retryIf(err) {
			return err
		}
		if c.budget != nil {
			c.budget.RecordFailure()
		}
		if ctx.Err() != nil {
			return ctxError(ctx, err, attempt)
		}
		if hinted && hint < 0 {
			return stop(ErrHintRefused, err, attempt)
		}
		if c.maxAttempts > 0 && attempt >= c.maxAttempts {
			return stop(ErrMaxAttempts, err, attempt)
		}
		// Choose the delay: the policy's, or the server's hint, never
		// shortened. The sequence advances either way so that stateful
		// jitter keeps its own history.
		var delay time.Duration
		if c.fn != nil {
			delay = max(c.fn(int(attempt-1)), 0)
		} else {
			delay = seq.Next()
		}
		if hinted {
			if hint > c.maxHint {
				return stop(ErrHintTooLong, err, attempt)
			}
			delay = hint
		}
		if c.maxElapsed > 0 && time.Since(start)+delay > c.maxElapsed {
			return stop(ErrMaxElapsed, err, attempt)
		}
		if (c.budget != nil && !c.budget.Allow()) || (c.rate != nil && !c.rate.TryRetry()) {
			return stop(ErrBudgetExhausted, err, attempt)
		}
		if c.notify != nil {
			c.notify(int(attempt), err, delay)
		}
		// Wait on the one timer; a zero delay skips it.
		if delay > 0 {
			if timer == nil {
				timer = time.NewTimer(delay)
			} else {
				timer.Reset(delay)
			}
			select {
			case <-ctx.Done():
				return ctxError(ctx, err, attempt)
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return ctxError(ctx, err, attempt)
		}
	}
}

// callWithTimeout runs one attempt under its own timeout.
func (c *config) callWithTimeout(ctx context.Context, op func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return op(actx)
}

// stop returns the StopError for reason after attempts calls of the
// operation, the last of which failed with last. It is out of line so that
// the loop, which only fails through it, stays small.
//
//go:noinline
func stop(reason, last error, attempts int64) error {
	return &StopError{Reason: reason, Err: last, Attempts: int(attempts)}
}

// ctxError returns the StopError for ctx's end after attempts calls of the
// operation, with the context's cause if it differs from its error.
//
//go:noinline
func ctxError(ctx context.Context, last error, attempts int64) error {
	err := ctx.Err()
	cause := context.Cause(ctx)
	if cause == err {
		cause = nil
	}
	if last == nil {
		// The operation never ran: the context's error, and its cause.
		if cause == nil {
			return err
		}
		return errors.Join(err, cause)
	}
	return &StopError{Reason: err, Err: last, Attempts: int(attempts), cause: cause}
}
