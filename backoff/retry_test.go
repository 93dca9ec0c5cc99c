package backoff

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errTemp = errors.New("temporary")

// failing returns an op that fails n times with err, then succeeds, and a
// pointer to its call count.
func failing(n int, err error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= n {
			return err
		}
		return nil
	}, &calls
}

func TestRetryTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		op, calls := failing(3, errTemp)
		var delays []time.Duration
		var attempts []int
		start := time.Now()
		err := Retry(t.Context(), op,
			WithPolicy(Exponential{Base: 100 * time.Millisecond, Jitter: NoJitter}),
			Notify(func(a int, err error, d time.Duration) {
				assert.ErrorIs(t, err, errTemp)
				attempts = append(attempts, a)
				delays = append(delays, d)
			}))
		require.NoError(t, err)
		assert.Equal(t, 4, *calls)
		assert.Equal(t, 700*time.Millisecond, time.Since(start))
		assert.Equal(t, []int{1, 2, 3}, attempts)
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms}, delays)
	})
}

func TestRetryStops(t *testing.T) {
	tests := []struct {
		name    string
		op      func(context.Context) error
		opts    []Option
		calls   int
		elapsed time.Duration
		is      []error
	}{
		{
			name:  "max attempts",
			op:    func(context.Context) error { return errTemp },
			opts:  []Option{WithPolicy(Constant{Delay: time.Second}), MaxAttempts(3)},
			calls: 3, elapsed: 2 * time.Second, is: []error{errTemp},
		},
		{
			name:  "max elapsed",
			op:    func(context.Context) error { return errTemp },
			opts:  []Option{WithPolicy(Constant{Delay: time.Second}), MaxElapsed(2500 * time.Millisecond)},
			calls: 3, elapsed: 2 * time.Second, is: []error{errTemp},
		},
		{
			name:  "permanent",
			op:    func(context.Context) error { return Permanent(errTemp) },
			calls: 1, is: []error{errTemp},
		},
		{
			name:  "wrapped permanent",
			op:    func(context.Context) error { return fmt.Errorf("call: %w", Permanent(errTemp)) },
			calls: 1, is: []error{errTemp},
		},
		{
			name:  "negative hint",
			op:    func(context.Context) error { return RetryAfter(errTemp, -1) },
			calls: 1, is: []error{errTemp},
		},
		{
			name:  "budget",
			op:    func(context.Context) error { return errTemp },
			opts:  []Option{WithPolicy(Constant{Delay: time.Second}), WithBudget(&Budget{MaxTokens: 4})},
			calls: 2, elapsed: time.Second, is: []error{errTemp, ErrBudgetExhausted},
		},
		{
			name: "attempt timeout",
			op: func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			},
			opts:  []Option{WithPolicy(Constant{Delay: time.Second}), AttemptTimeout(500 * time.Millisecond), MaxAttempts(3)},
			calls: 3, elapsed: 3500 * time.Millisecond, is: []error{context.DeadlineExceeded},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				start := time.Now()
				err := Retry(t.Context(), func(ctx context.Context) error {
					calls++
					return tt.op(ctx)
				}, tt.opts...)
				assert.Equal(t, tt.calls, calls)
				assert.Equal(t, tt.elapsed, time.Since(start))
				for _, target := range tt.is {
					require.ErrorIs(t, err, target)
				}
			})
		})
	}
}

// TestRetryStopReason checks that every way Retry gives up is told by the
// StopError's Reason, and that the operation's last error stays reachable.
func TestRetryStopReason(t *testing.T) {
	slow := func(ctx context.Context) error {
		time.Sleep(3 * time.Second)
		return errTemp
	}
	tests := []struct {
		name     string
		op       func(context.Context) error
		opts     []Option
		reason   error
		attempts int
	}{
		{"max attempts", nil, []Option{WithPolicy(Constant{Delay: time.Second}), MaxAttempts(3)}, ErrMaxAttempts, 3},
		{"max elapsed", nil, []Option{WithPolicy(Constant{Delay: time.Second}), MaxElapsed(2500 * time.Millisecond)}, ErrMaxElapsed, 3},
		{"max elapsed before any retry", slow, []Option{WithPolicy(Constant{}), MaxElapsed(2 * time.Second)}, ErrMaxElapsed, 1},
		{"budget", nil, []Option{WithPolicy(Constant{}), WithBudget(&Budget{MaxTokens: 4})}, ErrBudgetExhausted, 2},
		{"rate budget", nil, []Option{WithPolicy(Constant{}), WithRateBudget(&RateBudget{Percent: 0.1, MinPerSecond: 0.1, TTL: time.Second})}, ErrBudgetExhausted, 1},
		{"negative hint", func(context.Context) error { return RetryAfter(errTemp, -1) }, nil, ErrHintRefused, 1},
		{"hint beyond default bound", func(context.Context) error { return RetryAfter(errTemp, DefaultMaxHint+1) }, nil, ErrHintTooLong, 1},
		{"hint beyond MaxHint", func(context.Context) error { return RetryAfter(errTemp, 2*time.Second) }, []Option{MaxHint(time.Second)}, ErrHintTooLong, 1},
		{"deadline", nil, []Option{WithPolicy(Constant{Delay: time.Second}), MaxAttempts(100), AttemptTimeout(time.Hour)}, context.DeadlineExceeded, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 9500*time.Millisecond)
				defer cancel()
				op := tt.op
				if op == nil {
					op = func(context.Context) error { return errTemp }
				}
				err := Retry(ctx, op, tt.opts...)
				require.ErrorIs(t, err, tt.reason)
				require.ErrorIs(t, err, errTemp, "the operation's last error is reachable")
				var stop *StopError
				require.ErrorAs(t, err, &stop)
				assert.Equal(t, tt.reason, stop.Reason)
				assert.Equal(t, tt.attempts, stop.Attempts)
				assert.ErrorIs(t, stop.Err, errTemp)
				assert.Contains(t, err.Error(), tt.reason.Error())
				assert.Contains(t, err.Error(), errTemp.Error())
			})
		})
	}
}

func TestRetryHintNeverEarly(t *testing.T) {
	// A hint longer than the policy's Max is waited in full, and a hint up
	// to MaxHint too; a negative MaxHint means no bound.
	synctest.Test(t, func(t *testing.T) {
		op, calls := failing(1, RetryAfter(errTemp, 2*time.Hour))
		start := time.Now()
		require.NoError(t, Retry(t.Context(), op, WithPolicy(Constant{Delay: time.Second}), MaxHint(-1)))
		assert.Equal(t, 2, *calls)
		assert.Equal(t, 2*time.Hour, time.Since(start))
	})
}

func TestRetryIf(t *testing.T) {
	errOther := errors.New("other")
	var seen []error
	budget := &Budget{MaxTokens: 10}
	calls := 0
	err := Retry(t.Context(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errTemp
		}
		return fmt.Errorf("wrapped: %w", errOther)
	}, WithPolicy(Constant{}), WithBudget(budget), RetryIf(func(err error) bool {
		seen = append(seen, err)
		return errors.Is(err, errTemp)
	}))
	assert.Equal(t, 3, calls)
	require.ErrorIs(t, err, errOther)
	assert.Equal(t, "wrapped: other", err.Error(), "returned as it is, not as a StopError")
	var stop *StopError
	assert.False(t, errors.As(err, &stop))
	assert.Len(t, seen, 3)
	assert.InDelta(t, 8, budget.Tokens(), 1e-9, "the refused error costs no token")

	// Permanent wins over the predicate, which is not even asked.
	err = Retry(t.Context(), func(context.Context) error { return Permanent(errTemp) },
		RetryIf(func(error) bool { t.Error("predicate called for a Permanent error"); return true }))
	assert.Same(t, errTemp, err)
	// A nil predicate retries everything.
	op, n := failing(2, errTemp)
	require.NoError(t, Retry(t.Context(), op, WithPolicy(Constant{}), RetryIf(nil)))
	assert.Equal(t, 3, *n)
}

func TestFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var delays []time.Duration
		f := Func(func(n int) time.Duration { return time.Duration(n-1) * time.Second })
		op, _ := failing(4, errTemp)
		start := time.Now()
		require.NoError(t, Retry(t.Context(), op, WithPolicy(f),
			Notify(func(_ int, _ error, d time.Duration) { delays = append(delays, d) })))
		assert.Equal(t, []time.Duration{0, 0, time.Second, 2 * time.Second}, delays, "negative means zero")
		assert.Equal(t, 3*time.Second, time.Since(start))
		q := f.Start(nil)
		assert.Equal(t, time.Duration(0), q.Next())
		assert.Equal(t, time.Duration(0), q.Next())
		assert.Equal(t, time.Second, q.Next())
		assert.Equal(t, 3, q.Attempts())
		assert.Equal(t, time.Duration(math.MaxInt64), q.Max())
		q.Reset()
		assert.Equal(t, time.Duration(0), q.Next())
		assert.NoError(t, f.Validate())
	})
	err := Retry(t.Context(), func(context.Context) error { return nil }, WithPolicy(Func(nil)))
	require.ErrorIs(t, err, ErrInvalidPolicy)
	assert.Contains(t, err.Error(), "nil Func")
	require.ErrorIs(t, Func(nil).Validate(), ErrInvalidPolicy)
}

func TestRetryPermanentUnwrapped(t *testing.T) {
	err := Retry(t.Context(), func(context.Context) error { return Permanent(errTemp) })
	assert.Same(t, errTemp, err)
	assert.NoError(t, Permanent(nil))
	assert.NoError(t, RetryAfter(nil, time.Second))
	assert.Equal(t, errTemp.Error(), Permanent(errTemp).Error())
}

func TestRetryContext(t *testing.T) {
	t.Run("cancel during wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				time.Sleep(250 * time.Millisecond)
				cancel()
			}()
			start := time.Now()
			op, calls := failing(100, errTemp)
			err := Retry(ctx, op, WithPolicy(Constant{Delay: time.Second}))
			assert.Equal(t, 250*time.Millisecond, time.Since(start), "returns at once")
			assert.Equal(t, 1, *calls)
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorIs(t, err, errTemp)
		})
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
			defer cancel()
			start := time.Now()
			op, calls := failing(100, errTemp)
			err := Retry(ctx, op, WithPolicy(Constant{Delay: time.Second}))
			assert.Equal(t, 1500*time.Millisecond, time.Since(start))
			assert.Equal(t, 2, *calls)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorIs(t, err, errTemp)
		})
	})
	t.Run("cause", func(t *testing.T) {
		errStop := errors.New("stop")
		ctx, cancel := context.WithCancelCause(t.Context())
		err := Retry(ctx, func(context.Context) error {
			cancel(errStop)
			return errTemp
		}, WithPolicy(Constant{}))
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, errStop)
		require.ErrorIs(t, err, errTemp)
	})
	t.Run("zero delay", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := Retry(ctx, func(ctx context.Context) error {
			calls++
			if calls == 3 {
				cancel()
				return ctx.Err()
			}
			return errTemp
		}, WithPolicy(Constant{}))
		assert.Equal(t, 3, calls)
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("done before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		calls := 0
		err := Retry(ctx, func(context.Context) error { calls++; return nil })
		assert.Zero(t, calls)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestRetryHints(t *testing.T) {
	tests := []struct {
		name string
		hint time.Duration
		want time.Duration
	}{
		{"shorter than policy", 50 * time.Millisecond, 50 * time.Millisecond},
		{"longer than policy", 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"longer than max", 5 * time.Second, 5 * time.Second},
		{"at max hint", DefaultMaxHint, DefaultMaxHint},
		{"zero", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				hinted := fmt.Errorf("call: %w", RetryAfter(errTemp, tt.hint))
				op, calls := failing(2, hinted)
				var delays []time.Duration
				start := time.Now()
				err := Retry(t.Context(), op,
					WithPolicy(Exponential{Base: 500 * time.Millisecond, Max: 2 * time.Second, Jitter: NoJitter}),
					Notify(func(_ int, _ error, d time.Duration) { delays = append(delays, d) }))
				require.NoError(t, err)
				assert.Equal(t, 3, *calls)
				assert.Equal(t, []time.Duration{tt.want, tt.want}, delays)
				assert.Equal(t, 2*tt.want, time.Since(start))
			})
		})
	}
	t.Run("joined errors", func(t *testing.T) {
		permanent, hint, ok := inspect(errors.Join(errTemp, RetryAfter(errTemp, time.Second)), 0)
		assert.False(t, permanent)
		assert.True(t, ok)
		assert.Equal(t, time.Second, hint)
		permanent, _, ok = inspect(errors.Join(errTemp, Permanent(errTemp)), 0)
		assert.True(t, permanent)
		assert.False(t, ok)
	})
}

func TestRetryBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &Budget{MaxTokens: 10, TokenRatio: 1}
		// Three loops that each fail twice then succeed: 6 failures, 3
		// successes; the bucket stays above half and no retry is refused.
		for range 3 {
			op, _ := failing(2, errTemp)
			require.NoError(t, Retry(t.Context(), op, WithPolicy(Constant{Delay: time.Millisecond}), WithBudget(b)))
		}
		assert.InDelta(t, 7, b.Tokens(), 1e-9)
		// A failing loop drains it to half and is refused.
		op, calls := failing(100, errTemp)
		err := Retry(t.Context(), op, WithPolicy(Constant{Delay: time.Millisecond}), WithBudget(b))
		require.ErrorIs(t, err, ErrBudgetExhausted)
		require.ErrorIs(t, err, errTemp)
		assert.Equal(t, 2, *calls)
		assert.InDelta(t, 5, b.Tokens(), 1e-9)
		// First attempts still run; a success refills.
		require.NoError(t, Retry(t.Context(), func(context.Context) error { return nil }, WithBudget(b)))
		assert.InDelta(t, 6, b.Tokens(), 1e-9)
		// Permanent errors cost no token.
		_ = Retry(t.Context(), func(context.Context) error { return Permanent(errTemp) }, WithBudget(b))
		assert.InDelta(t, 6, b.Tokens(), 1e-9)
	})
}

func TestRetryValue(t *testing.T) {
	calls := 0
	v, err := RetryValue(t.Context(), func(context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "partial", errTemp
		}
		return "ok", nil
	}, WithPolicy(Constant{}))
	require.NoError(t, err)
	assert.Equal(t, "ok", v)

	v, err = RetryValue(t.Context(), func(context.Context) (string, error) {
		return "partial", errTemp
	}, WithPolicy(Constant{}), MaxAttempts(2))
	require.ErrorIs(t, err, errTemp)
	assert.Empty(t, v)
}

func TestRetryInvalid(t *testing.T) {
	calls := 0
	err := Retry(t.Context(), func(context.Context) error { calls++; return nil }, WithPolicy(Exponential{Base: -1}))
	require.ErrorIs(t, err, ErrInvalidPolicy)
	assert.Zero(t, calls)
	// The error carries Validate's reason, not the bare sentinel.
	assert.Equal(t, Exponential{Base: -1}.Validate().Error(), err.Error())
	err = Retry(t.Context(), func(context.Context) error { calls++; return nil }, WithPolicy(Constant{Spread: 2}))
	require.ErrorIs(t, err, ErrInvalidPolicy)
	assert.Contains(t, err.Error(), "Constant.Spread 2 not in [0, 1]")
	assert.Zero(t, calls)
	assert.PanicsWithValue(t, "backoff: Retry with nil op", func() { _ = Retry(t.Context(), nil) })
	assert.PanicsWithValue(t, "backoff: RetryValue with nil op", func() {
		_, _ = RetryValue[int](t.Context(), nil)
	})
}

func TestRetrySeed(t *testing.T) {
	run := func(seed uint64) []time.Duration {
		var delays []time.Duration
		synctest.Test(t, func(t *testing.T) {
			op, _ := failing(10, errTemp)
			require.NoError(t, Retry(t.Context(), op, WithPolicy(Exponential{}), WithSeed(seed),
				Notify(func(_ int, _ error, d time.Duration) { delays = append(delays, d) })))
		})
		return delays
	}
	a, b, c := run(1), run(1), run(2)
	assert.Len(t, a, 10)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
}

func TestRetryAllocs(t *testing.T) {
	ctx := context.Background()
	b := &Budget{TokenRatio: 2}
	rb := &RateBudget{Percent: 1, MinPerSecond: 1e6}
	n := 0
	op := func(context.Context) error {
		n++
		if n%3 != 0 {
			return errTemp
		}
		return nil
	}
	tests := []struct {
		name string
		f    func()
	}{
		{"no options", func() { _ = Retry(ctx, op, WithPolicy(Constant{})) }},
		{"all options", func() {
			err := Retry(ctx, op, WithPolicy(Constant{}), MaxAttempts(5), MaxElapsed(time.Hour), WithBudget(b),
				WithRateBudget(rb), WithSeed(1), Notify(func(int, error, time.Duration) { n += 0 }))
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"func policy, predicate and hint bound", func() {
			_ = Retry(ctx, op, WithPolicy(Func(func(n int) time.Duration { return 0 })),
				RetryIf(func(err error) bool { return err == errTemp }), MaxHint(time.Second))
		}},
		{"value", func() {
			_, _ = RetryValue(ctx, func(ctx context.Context) (int, error) { return n, op(ctx) }, WithPolicy(Constant{}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Zero(t, testing.AllocsPerRun(1000, tt.f))
		})
	}
}

// TestRetryOneTimer checks that the allocations of a loop with delays do
// not grow with the number of waits: one timer, reused.
func TestRetryOneTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		allocs := func(fails int) float64 {
			return testing.AllocsPerRun(20, func() {
				op, _ := failing(fails, errTemp)
				_ = Retry(ctx, op, WithPolicy(Constant{Delay: time.Millisecond}))
			})
		}
		few, many := allocs(2), allocs(20)
		assert.Equal(t, few, many)
		assert.LessOrEqual(t, few, 5.0, "the test op (2), the timer and its channel")
	})
}

// TestRetryConcurrent shares one policy, one option slice and one Budget
// between goroutines, under the race detector.
func TestRetryConcurrent(t *testing.T) {
	budget := &Budget{MaxTokens: 1000, TokenRatio: 1}
	opts := []Option{WithPolicy(Exponential{Base: time.Microsecond, Max: 10 * time.Microsecond}), WithBudget(budget), MaxAttempts(4)}
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			op, _ := failing(2, errTemp)
			errs <- Retry(t.Context(), op, opts...)
		}()
	}
	for range 16 {
		require.NoError(t, <-errs)
	}
	// 32 failures and 16 successes.
	assert.InDelta(t, 1000-32+16, budget.Tokens(), 1e-9)
}

func TestWithPolicyNil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var delays []time.Duration
		op, _ := failing(3, errTemp)
		require.NoError(t, Retry(t.Context(), op, WithPolicy(nil), WithSeed(1),
			Notify(func(_ int, _ error, d time.Duration) { delays = append(delays, d) })))
		// The default policy: full jitter under 100, 200, 400 ms.
		require.Len(t, delays, 3)
		for i, d := range delays {
			assert.Less(t, d, DefaultBase<<i)
		}
		assert.Equal(t, Option{}, WithPolicy(nil))
	})
}
