package backoff

import (
	"context"
	"errors"
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
)

// WithPolicy sets the delay policy. The default, also used for a nil p, is
// Exponential{}: 100 ms, ×2, full jitter, capped at 10 s.
func WithPolicy(p Policy) Option {
	if p == nil {
		return Option{}
	}
	return Option{kind: optPolicy, spec: p.spec()}
}

// MaxAttempts stops after n calls of the operation (the first call and n−1
// retries) and returns the last error as it is. Zero or less means no
// limit: then the other conditions listed at Retry end the loop, the
// context's deadline first among them. Google's SRE book advises at most 3
// attempts per request, and retrying in one layer only.
func MaxAttempts(n int) Option { return Option{kind: optMaxAttempts, n: int64(n)} }

// MaxElapsed stops retrying when the next delay would end more than d after
// the first call started, and returns the last error as it is. Zero or less
// means no limit.
func MaxElapsed(d time.Duration) Option { return Option{kind: optMaxElapsed, n: int64(d)} }

// AttemptTimeout gives each call of the operation a context that expires
// after d; an attempt that times out is retried like any other failure.
// Zero or less means none. It costs a context per attempt.
func AttemptTimeout(d time.Duration) Option {
	return Option{kind: optAttemptTimeout, n: int64(d)}
}

// WithBudget makes the loop report each outcome to b (a Permanent error
// counts as neither success nor failure) and ask b before each retry; when
// b refuses, Retry stops and returns ErrBudgetExhausted joined with the last
// error. A nil b means no budget.
func WithBudget(b *Budget) Option { return Option{kind: optBudget, budget: b} }

// WithRateBudget makes the loop deposit into b for its first attempt and
// withdraw from b for each retry; when b has nothing left, Retry stops and
// returns ErrBudgetExhausted joined with the last error. A nil b means no
// rate budget. It combines with WithBudget.
func WithRateBudget(b *RateBudget) Option { return Option{kind: optRateBudget, rate: b} }

// Notify sets a hook called after each failed attempt that will be retried,
// with the attempt's number (1 for the first call), its error and the delay
// before the next attempt. It runs on the goroutine that called Retry,
// before the wait; use it for logging and metrics.
func Notify(f func(attempt int, err error, next time.Duration)) Option {
	return Option{kind: optNotify, notify: f}
}

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
			c.spec, c.hasSpec = o.spec, true
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
		}
	}
	if !c.hasSpec {
		c.spec = Exponential{}.spec()
	}
	return c
}

// Retry calls op until it succeeds and returns nil, or until one of these
// ends the loop:
//
//   - op returns a Permanent error: Retry returns the error inside it;
//   - MaxAttempts or MaxElapsed is reached: Retry returns op's last error;
//   - the Budget or the RateBudget refuses a retry: Retry returns
//     ErrBudgetExhausted joined with op's last error;
//   - op's error carries a negative retry-after hint: Retry returns it;
//   - ctx ends, during a wait or before a call: Retry returns promptly with
//     ctx.Err() (and its cause, if different) joined with op's last error,
//     so that errors.Is finds both; if op never ran, with ctx.Err() alone.
//
// Between attempts Retry waits the policy's next delay, or the error's
// retry-after hint (see [Hinter]) capped at the policy's maximum. It uses at
// most one timer, created at the first non-zero delay and reused; a zero
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
		return ctxError(ctx, nil)
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
		if c.budget != nil {
			c.budget.RecordFailure()
		}
		if ctx.Err() != nil {
			return ctxError(ctx, err)
		}
		if hinted && hint < 0 {
			return err
		}
		if c.maxAttempts > 0 && attempt >= c.maxAttempts {
			return err
		}
		// Choose the delay: the policy's, or the server's hint capped at
		// the policy's maximum. The sequence advances either way so that
		// stateful jitter keeps its own history.
		delay := seq.Next()
		if hinted {
			delay = min(hint, c.spec.maxDur)
		}
		if c.maxElapsed > 0 && time.Since(start)+delay > c.maxElapsed {
			return err
		}
		if (c.budget != nil && !c.budget.Allow()) || (c.rate != nil && !c.rate.TryRetry()) {
			return errors.Join(ErrBudgetExhausted, err)
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
				return ctxError(ctx, err)
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return ctxError(ctx, err)
		}
	}
}

// callWithTimeout runs one attempt under its own timeout.
func (c *config) callWithTimeout(ctx context.Context, op func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return op(actx)
}

// ctxError joins ctx's error, its cause if different, and the last error
// of the operation (if any).
func ctxError(ctx context.Context, last error) error {
	err := ctx.Err()
	cause := context.Cause(ctx)
	if cause == err {
		cause = nil
	}
	if last == nil && cause == nil {
		return err
	}
	return errors.Join(err, cause, last)
}
