package backoff

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func BenchmarkNext(b *testing.B) {
	policies := []struct {
		name string
		p    Policy
	}{
		{"constant", Constant{Delay: time.Second}},
		{"none", Exponential{Jitter: NoJitter}},
		{"full", Exponential{}},
		{"equal", Exponential{Jitter: EqualJitter}},
		{"decorrelated", Exponential{Jitter: DecorrelatedJitter}},
		{"smooth", Exponential{Jitter: SmoothJitter}},
		{"grpc", GRPC()},
	}
	for _, tt := range policies {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			q := tt.p.Start(nil)
			for b.Loop() {
				if q.Attempts() == 16 {
					q.Reset()
				}
				_ = q.Next()
			}
		})
	}
	b.Run("full/seeded", func(b *testing.B) {
		b.ReportAllocs()
		src := rand.NewPCG(1, 2)
		q := Exponential{}.Start(src)
		for b.Loop() {
			_ = q.Next()
		}
	})
}

func BenchmarkRetry(b *testing.B) {
	ctx := context.Background()
	for _, fails := range []int{0, 2, 10} {
		b.Run("fails="+strconv.Itoa(fails), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				_ = Retry(ctx, func(context.Context) error {
					if n < fails {
						n++
						return errTemp
					}
					return nil
				}, WithPolicy(Constant{}))
			}
		})
	}
	b.Run("fails=2/budget", func(b *testing.B) {
		b.ReportAllocs()
		budget := &Budget{TokenRatio: 2}
		for b.Loop() {
			n := 0
			_ = Retry(ctx, func(context.Context) error {
				if n < 2 {
					n++
					return errTemp
				}
				return nil
			}, WithPolicy(Constant{}), WithBudget(budget), MaxAttempts(5))
		}
	})
}

func BenchmarkStart(b *testing.B) {
	b.ReportAllocs()
	p := Exponential{}
	var q Sequence
	for b.Loop() {
		q = p.Start(nil)
	}
	_ = q
}

func BenchmarkBudget(b *testing.B) {
	b.Run("allow", func(b *testing.B) {
		var budget Budget
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = budget.Allow()
			}
		})
	})
	b.Run("mixed", func(b *testing.B) {
		budget := Budget{MaxTokens: 100, TokenRatio: 1}
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
