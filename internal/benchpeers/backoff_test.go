package benchpeers

import (
	"context"
	"errors"
	"testing"
	"time"

	avast "github.com/avast/retry-go/v4"
	cenkalti "github.com/cenkalti/backoff/v5"
	jpillora "github.com/jpillora/backoff"
	sethvargo "github.com/sethvargo/go-retry"

	"github.com/twine-go/twine/backoff"
)

var errBackoffTemp = errors.New("temporary")

// resetEvery bounds a delay sequence so that the benchmarks measure the
// growing part of the sequence, not only the saturated cap.
const resetEvery = 16

// BenchmarkBackoffNext compares the cost of one next-delay computation for
// comparable configurations: full jitter 100 ms ×2 capped at 10 s, and
// cenkalti's default (500 ms, ×1.5, ±50 %, 60 s), which twine expresses as
// proportional jitter.
func BenchmarkBackoffNext(b *testing.B) {
	b.Run("kind=full/lib=twine", func(b *testing.B) {
		p := backoff.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second}
		b.ReportAllocs()
		q := p.Start(nil)
		i := 0
		for b.Loop() {
			if i++; i == resetEvery {
				q.Reset()
				i = 0
			}
			_ = q.Next()
		}
	})
	b.Run("kind=full/lib=jpillora", func(b *testing.B) {
		p := &jpillora.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second, Factor: 2, Jitter: true}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i++; i == resetEvery {
				p.Reset()
				i = 0
			}
			_ = p.Duration()
		}
	})
	b.Run("kind=full/lib=sethvargo", func(b *testing.B) {
		// sethvargo's backoffs cannot be reset: this one saturates at the cap.
		p := sethvargo.WithCappedDuration(10*time.Second, sethvargo.WithFullJitter(sethvargo.NewExponential(100*time.Millisecond)))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Next()
		}
	})
	b.Run("kind=proportional/lib=twine", func(b *testing.B) {
		p := backoff.Exponential{Base: 500 * time.Millisecond, Multiplier: 1.5, Max: time.Minute, Jitter: backoff.ProportionalJitter, Spread: 0.5}
		b.ReportAllocs()
		q := p.Start(nil)
		i := 0
		for b.Loop() {
			if i++; i == resetEvery {
				q.Reset()
				i = 0
			}
			_ = q.Next()
		}
	})
	b.Run("kind=proportional/lib=cenkalti", func(b *testing.B) {
		p := cenkalti.NewExponentialBackOff()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i++; i == resetEvery {
				p.Reset()
				i = 0
			}
			_ = p.NextBackOff()
		}
	})
}

// BenchmarkBackoffRetry compares a retry loop whose operation fails twice
// and succeeds on the third call, with zero delays.
func BenchmarkBackoffRetry(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=twine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			err := backoff.Retry(ctx, func(context.Context) error {
				if n++; n < 3 {
					return errBackoffTemp
				}
				return nil
			}, backoff.WithPolicy(backoff.Constant{}), backoff.MaxAttempts(5))
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=cenkalti", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			_, err := cenkalti.Retry(ctx, func() (struct{}, error) {
				if n++; n < 3 {
					return struct{}{}, errBackoffTemp
				}
				return struct{}{}, nil
			}, cenkalti.WithBackOff(&cenkalti.ZeroBackOff{}), cenkalti.WithMaxTries(5))
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=sethvargo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// sethvargo's backoffs are stateful: one per loop, as in use.
			zero := sethvargo.WithMaxRetries(4, sethvargo.BackoffFunc(func() (time.Duration, bool) { return 0, false }))
			n := 0
			err := sethvargo.Do(ctx, zero, func(context.Context) error {
				if n++; n < 3 {
					return sethvargo.RetryableError(errBackoffTemp)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib=avast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			err := avast.Do(func() error {
				if n++; n < 3 {
					return errBackoffTemp
				}
				return nil
			}, avast.Context(ctx), avast.Attempts(5), avast.Delay(0), avast.DelayType(avast.FixedDelay))
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBackoffBudget measures twine's retry Budget shared by all
// goroutines (the peers have no budget).
func BenchmarkBackoffBudget(b *testing.B) {
	b.Run("op=allow", func(b *testing.B) {
		var budget backoff.Budget
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = budget.Allow()
			}
		})
	})
	b.Run("op=record+allow", func(b *testing.B) {
		budget := backoff.Budget{MaxTokens: 100, TokenRatio: 1}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if i%2 == 0 {
					budget.RecordFailure()
				} else {
					budget.RecordSuccess()
				}
				_ = budget.Allow()
			}
		})
	})
}
