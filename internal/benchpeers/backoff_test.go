//go:build unix

package benchpeers

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	avast "github.com/avast/retry-go/v4"
	cenkalti "github.com/cenkalti/backoff/v5"
	jpillora "github.com/jpillora/backoff"
	sethvargo "github.com/sethvargo/go-retry"

	"github.com/twine-go/twine/backoff"
)

var errBackoffTemp = errors.New("temporary")

// backoffResetEvery bounds a delay sequence so that the benchmarks measure
// the growing part of the sequence, not only the saturated cap.
const backoffResetEvery = 16

// backoffLoop runs f in a b.Loop and reports, next to ns/op (wall time),
// the process's CPU time per operation as cpu-ns/op. On a shared machine
// whose cores are busy with other work, wall time swings by 2× between runs;
// CPU time, which also counts the garbage collector's work for the
// allocations, is the steadier figure.
func backoffLoop(b *testing.B, f func()) {
	b.ReportAllocs()
	start, n := backoffCPUTime(b), 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(backoffCPUTime(b)-start)/float64(n), "cpu-ns/op")
}

func backoffCPUTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkBackoffNext compares the cost of one next-delay computation for
// comparable configurations: full jitter 100 ms ×2 capped at 10 s, and
// cenkalti's default (500 ms, ×1.5, ±50 %, 60 s), which twine expresses as
// proportional jitter. Every sequence restarts each 16 delays, with the
// library's own reset where it has one.
func BenchmarkBackoffNext(b *testing.B) {
	var sink time.Duration
	b.Run("kind=full/lib=twine", func(b *testing.B) {
		q := backoff.Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second}.Start(nil)
		backoffLoop(b, func() {
			if q.Attempts() == backoffResetEvery {
				q.Reset()
			}
			sink += q.Next()
		})
	})
	b.Run("kind=full/lib=jpillora", func(b *testing.B) {
		p := &jpillora.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second, Factor: 2, Jitter: true}
		backoffLoop(b, func() {
			if p.Attempt() == backoffResetEvery {
				p.Reset()
			}
			sink += p.Duration()
		})
	})
	b.Run("kind=full/lib=sethvargo", func(b *testing.B) {
		// sethvargo's backoffs have no reset: this one saturates at the cap.
		p := sethvargo.WithCappedDuration(10*time.Second, sethvargo.WithFullJitter(sethvargo.NewExponential(100*time.Millisecond)))
		backoffLoop(b, func() {
			d, _ := p.Next()
			sink += d
		})
	})
	b.Run("kind=proportional/lib=twine", func(b *testing.B) {
		q := backoff.Exponential{Base: 500 * time.Millisecond, Multiplier: 1.5, Max: time.Minute,
			Jitter: backoff.ProportionalJitter, Spread: 0.5}.Start(nil)
		backoffLoop(b, func() {
			if q.Attempts() == backoffResetEvery {
				q.Reset()
			}
			sink += q.Next()
		})
	})
	b.Run("kind=proportional/lib=cenkalti", func(b *testing.B) {
		p := cenkalti.NewExponentialBackOff()
		i := 0
		backoffLoop(b, func() {
			if i++; i == backoffResetEvery {
				p.Reset()
				i = 0
			}
			sink += p.NextBackOff()
		})
	})
	_ = sink
}

// BenchmarkBackoffRetry compares a retry loop whose operation fails twice
// and succeeds on the third call, with zero delays, as each library is
// meant to be used.
func BenchmarkBackoffRetry(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=twine", func(b *testing.B) {
		backoffLoop(b, func() {
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
		})
	})
	b.Run("lib=cenkalti", func(b *testing.B) {
		backoffLoop(b, func() {
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
		})
	})
	b.Run("lib=sethvargo", func(b *testing.B) {
		backoffLoop(b, func() {
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
		})
	})
	b.Run("lib=avast", func(b *testing.B) {
		backoffLoop(b, func() {
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
		})
	})
}

// backoffParallel runs f under b.RunParallel and reports, next to ns/op,
// the CPU time of all goroutines per operation as cpu-ns/op.
func backoffParallel(b *testing.B, f func(i int)) {
	b.ReportAllocs()
	start := backoffCPUTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			f(i)
		}
	})
	b.ReportMetric(float64(backoffCPUTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkBackoffBudget measures twine's retry budgets, Budget and
// RateBudget, shared by all goroutines under b.RunParallel (the peers have
// no budget); the atomic counter gives a baseline for one contended
// read-modify-write.
func BenchmarkBackoffBudget(b *testing.B) {
	b.Run("op=allow", func(b *testing.B) {
		var budget backoff.Budget
		backoffParallel(b, func(int) { _ = budget.Allow() })
	})
	b.Run("op=record+allow", func(b *testing.B) {
		budget := backoff.Budget{MaxTokens: 100, TokenRatio: 1}
		backoffParallel(b, func(i int) {
			if i%2 == 0 {
				budget.RecordFailure()
			} else {
				budget.RecordSuccess()
			}
			_ = budget.Allow()
		})
	})
	b.Run("op=rate-request+retry", func(b *testing.B) {
		budget := backoff.RateBudget{Percent: 1}
		backoffParallel(b, func(int) {
			budget.RecordRequest()
			_ = budget.TryRetry()
		})
	})
	b.Run("op=atomic-add-baseline", func(b *testing.B) {
		var n atomic.Int64
		backoffParallel(b, func(int) { n.Add(1) })
	})
}
