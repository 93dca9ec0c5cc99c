package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twine-go/twine/backoff"
)

func ExampleExponential() {
	// The zero value: 100 ms, ×2, full jitter, capped at 10 s. Without
	// jitter, the delays are those of the package doc's table.
	p := backoff.Exponential{Jitter: backoff.NoJitter}
	for i, d := range p.Delays(nil) {
		if i == 9 {
			break
		}
		fmt.Print(d, " ")
	}
	fmt.Println()
	// Output:
	// 100ms 200ms 400ms 800ms 1.6s 3.2s 6.4s 10s 10s
}

func ExampleExponential_jitter() {
	// Each jitter mode, drawing from a seeded source: the same seed gives
	// the same delays.
	for _, j := range []backoff.Jitter{backoff.FullJitter, backoff.EqualJitter, backoff.DecorrelatedJitter, backoff.SmoothJitter} {
		p := backoff.Exponential{Base: time.Second, Max: 30 * time.Second, Jitter: j}
		q := p.Start(rand.NewPCG(1, 2))
		fmt.Printf("%-12s", j)
		for range 6 {
			fmt.Printf(" %5.2fs", q.Next().Seconds())
		}
		fmt.Println()
	}
	// Output:
	// full          0.77s  1.23s  3.14s  6.37s  3.75s  1.24s
	// equal         0.88s  1.62s  3.57s  7.19s  9.87s 15.62s
	// decorrelated  2.54s  5.08s 12.17s 29.28s 21.34s  3.60s
	// smooth        1.15s  1.02s  2.75s  5.01s  3.52s 10.08s
}

func ExampleConstant() {
	p := backoff.Constant{Delay: time.Second, Spread: 0.1}
	q := p.Start(rand.NewPCG(1, 2))
	for range 4 {
		fmt.Printf("%.3fs ", q.Next().Seconds())
	}
	fmt.Println("max", q.Max())
	// Output:
	// 1.054s 1.023s 1.057s 1.059s max 1.1s
}

func ExampleGRPC() {
	p := backoff.GRPC()
	fmt.Printf("%v ×%v %v ±%v%%\n", p.Base, p.Multiplier, p.Max, p.Spread*100)
	q := p.Start(rand.NewPCG(1, 2))
	for range 5 {
		fmt.Printf("%.2fs ", q.Next().Seconds())
	}
	fmt.Println()
	// Output:
	// 1s ×1.6 2m0s ±20%
	// 1.11s 1.67s 2.85s 4.58s 5.86s
}

func ExampleSequence() {
	// A loop that does its own retrying keeps a Sequence on its stack.
	q := backoff.Exponential{Base: 10 * time.Millisecond, Max: time.Second, Jitter: backoff.NoJitter}.Start(nil)
	for attempt := 1; attempt <= 3; attempt++ {
		fmt.Printf("attempt %d failed, next in %v\n", attempt, q.Next())
	}
	// Output:
	// attempt 1 failed, next in 10ms
	// attempt 2 failed, next in 20ms
	// attempt 3 failed, next in 40ms
}

func ExampleRetry() {
	calls := 0
	err := backoff.Retry(context.Background(), func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return nil
	},
		backoff.WithPolicy(backoff.Exponential{Base: time.Millisecond, Jitter: backoff.NoJitter}),
		backoff.MaxAttempts(5),
		backoff.Notify(func(attempt int, err error, next time.Duration) {
			fmt.Printf("attempt %d: %v; retrying in %v\n", attempt, err, next)
		}))
	fmt.Println("calls:", calls, "err:", err)
	// Output:
	// attempt 1: connection refused; retrying in 1ms
	// attempt 2: connection refused; retrying in 2ms
	// calls: 3 err: <nil>
}

func ExampleRetryValue() {
	calls := 0
	v, err := backoff.RetryValue(context.Background(), func(ctx context.Context) (string, error) {
		calls++
		if calls < 2 {
			return "", errors.New("timeout")
		}
		return "hello", nil
	}, backoff.WithPolicy(backoff.Constant{Delay: time.Millisecond}))
	fmt.Println(v, err, calls)
	// Output:
	// hello <nil> 2
}

func ExamplePermanent() {
	errNotFound := errors.New("not found")
	calls := 0
	err := backoff.Retry(context.Background(), func(ctx context.Context) error {
		calls++
		return backoff.Permanent(errNotFound) // retrying will not help
	})
	fmt.Println(calls, err, err == errNotFound)
	// Output:
	// 1 not found true
}

func ExampleRetryAfter() {
	// A 503 with "Retry-After: 0.02" asks for 20 ms: longer than the
	// policy's Max (5 ms), but Retry never retries earlier than a hint.
	// A hint beyond MaxHint (here 1 s) stops the loop instead.
	errUnavailable := errors.New("503 service unavailable")
	hints := []time.Duration{20 * time.Millisecond, time.Hour}
	calls := 0
	err := backoff.Retry(context.Background(), func(ctx context.Context) error {
		calls++
		return backoff.RetryAfter(errUnavailable, hints[calls-1])
	},
		backoff.WithPolicy(backoff.Exponential{Base: time.Millisecond, Max: 5 * time.Millisecond}),
		backoff.MaxHint(time.Second),
		backoff.Notify(func(_ int, err error, next time.Duration) {
			fmt.Printf("%v: waiting %v\n", err, next)
		}))
	fmt.Println(err)
	fmt.Println(errors.Is(err, backoff.ErrHintTooLong), errors.Is(err, errUnavailable))
	// Output:
	// 503 service unavailable: waiting 20ms
	// backoff: retry-after hint beyond MaxHint after 2 attempts: 503 service unavailable
	// true true
}

func ExampleRetryIf() {
	// Retry timeouts only; any other error is returned at once.
	errTimeout := errors.New("timeout")
	errDenied := errors.New("permission denied")
	errs := []error{errTimeout, errDenied}
	calls := 0
	err := backoff.Retry(context.Background(), func(ctx context.Context) error {
		calls++
		return errs[calls-1]
	},
		backoff.WithPolicy(backoff.Constant{}),
		backoff.RetryIf(func(err error) bool { return errors.Is(err, errTimeout) }))
	fmt.Println(calls, err)
	// Output:
	// 2 permission denied
}

func ExampleStopError() {
	errRefused := errors.New("connection refused")
	err := backoff.Retry(context.Background(), func(ctx context.Context) error {
		return errRefused
	}, backoff.WithPolicy(backoff.Constant{}), backoff.MaxAttempts(3))
	fmt.Println(err)
	var stop *backoff.StopError
	if errors.As(err, &stop) {
		fmt.Println(stop.Reason == backoff.ErrMaxAttempts, stop.Attempts, stop.Err == errRefused)
	}
	fmt.Println(errors.Is(err, backoff.ErrMaxAttempts), errors.Is(err, errRefused))
	// Output:
	// backoff: attempts exhausted after 3 attempts: connection refused
	// true 3 true
	// true true
}

func ExampleMaxHint() {
	// Honour hints of up to two minutes, longer than the one-minute default.
	calls := 0
	err := backoff.Retry(context.Background(), func(ctx context.Context) error {
		calls++
		return backoff.RetryAfter(errors.New("429 too many requests"), 90*time.Second)
	}, backoff.MaxHint(2*time.Minute), backoff.MaxElapsed(time.Minute))
	// MaxElapsed stops before a 90 s wait that would end past its minute.
	fmt.Println(calls, errors.Is(err, backoff.ErrMaxElapsed))
	// Output:
	// 1 true
}

func ExampleFunc() {
	// A policy of one's own: the Fibonacci delays, in tens of milliseconds.
	fib := backoff.Func(func(n int) time.Duration {
		a, b := 1, 1
		for range n {
			a, b = b, a+b
		}
		return time.Duration(a) * 10 * time.Millisecond
	})
	q := fib.Start(nil)
	for range 6 {
		fmt.Print(q.Next(), " ")
	}
	fmt.Println()
	// Output:
	// 10ms 10ms 20ms 30ms 50ms 80ms
}

func ExampleBudget() {
	// One Budget per downstream service, shared by every call to it.
	budget := &backoff.Budget{MaxTokens: 4, TokenRatio: 0.5}
	down := errors.New("down")
	for i := 1; i <= 3; i++ {
		calls := 0
		err := backoff.Retry(context.Background(), func(ctx context.Context) error {
			calls++
			return down
		}, backoff.WithPolicy(backoff.Constant{}), backoff.MaxAttempts(3), backoff.WithBudget(budget))
		fmt.Printf("request %d: %d calls, budget exhausted: %v, tokens left: %v\n",
			i, calls, errors.Is(err, backoff.ErrBudgetExhausted), budget.Tokens())
	}
	// Output:
	// request 1: 2 calls, budget exhausted: true, tokens left: 2
	// request 2: 1 calls, budget exhausted: true, tokens left: 1
	// request 3: 1 calls, budget exhausted: true, tokens left: 0
}

func ExampleWithSeed() {
	// The same seed gives the same jitter: useful in tests and simulations.
	delays := func(seed uint64) []time.Duration {
		var out []time.Duration
		calls := 0
		_ = backoff.Retry(context.Background(), func(ctx context.Context) error {
			if calls++; calls < 4 {
				return errors.New("busy")
			}
			return nil
		},
			backoff.WithPolicy(backoff.Exponential{Base: time.Microsecond}),
			backoff.WithSeed(seed),
			backoff.Notify(func(_ int, _ error, next time.Duration) { out = append(out, next) }))
		return out
	}
	fmt.Println(delays(42))
	fmt.Println(slices.Equal(delays(42), delays(42)))
	// Output:
	// [454ns 1.945µs 2.876µs]
	// true
}

func ExampleRateBudget() {
	// Retries limited to 10 % of requests, plus 1 per second, over 10 s.
	budget := &backoff.RateBudget{Percent: 0.1, MinPerSecond: 1}
	for range 50 {
		budget.RecordRequest() // what Retry does for each first attempt
	}
	fmt.Println("retries allowed:", budget.Tokens())
	calls := 0
	err := backoff.Retry(context.Background(), func(ctx context.Context) error {
		calls++
		return errors.New("overloaded")
	}, backoff.WithPolicy(backoff.Constant{}), backoff.WithRateBudget(budget))
	fmt.Println(calls, "calls;", errors.Is(err, backoff.ErrBudgetExhausted))
	// Output:
	// retries allowed: 15
	// 16 calls; true
}

// statusError is an error type of the caller's own that carries the
// server's Retry-After hint by implementing backoff.Hinter.
type statusError struct {
	code  int
	after time.Duration
}

func (e *statusError) Error() string             { return fmt.Sprintf("HTTP %d", e.code) }
func (e *statusError) RetryAfter() time.Duration { return e.after }

func ExampleHinter() {
	calls := 0
	err := backoff.Retry(context.Background(), func(ctx context.Context) error {
		calls++
		switch calls {
		case 1:
			return &statusError{code: 429, after: 2 * time.Millisecond}
		case 2:
			// Wrapped errors are searched too, as errors.As would.
			return fmt.Errorf("fetch: %w", &statusError{code: 503, after: 3 * time.Millisecond})
		}
		return nil
	},
		backoff.WithPolicy(backoff.Exponential{Base: time.Millisecond, Max: 10 * time.Millisecond}),
		backoff.Notify(func(_ int, err error, next time.Duration) {
			fmt.Printf("%v: retry in %v\n", err, next)
		}))
	fmt.Println(calls, err)
	// Output:
	// HTTP 429: retry in 2ms
	// fetch: HTTP 503: retry in 3ms
	// 3 <nil>
}
