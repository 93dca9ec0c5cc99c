package backoff

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzExponential checks, for any parameters, that a sequence never panics
// and never returns a negative delay or one above its cap, including after
// 10,000 retries, where a naive Base·Multiplierⁿ overflows.
func FuzzExponential(f *testing.F) {
	f.Add(int64(100*time.Millisecond), 2.0, int64(10*time.Second), uint8(0), 0.0, uint64(1))
	f.Add(int64(time.Second), 1.6, int64(120*time.Second), uint8(ProportionalJitter), 0.2, uint64(2))
	f.Add(int64(1), 1e308, int64(math.MaxInt64), uint8(DecorrelatedJitter), 1.0, uint64(3))
	f.Add(int64(math.MaxInt64), math.Inf(1), int64(0), uint8(SmoothJitter), math.NaN(), uint64(4))
	f.Add(int64(-5), -2.0, int64(-1), uint8(200), -1.0, uint64(5))
	f.Add(int64(0), 0.0, int64(1), uint8(EqualJitter), 0.5, uint64(6))
	f.Add(int64(5), 3.0, int64(7), uint8(NoJitter), 0.0, uint64(7))
	f.Fuzz(func(t *testing.T, base int64, mult float64, maxD int64, jitter uint8, spread float64, seed uint64) {
		p := Exponential{
			Base:       time.Duration(base),
			Multiplier: mult,
			Max:        time.Duration(maxD),
			Jitter:     Jitter(jitter),
			Spread:     spread,
		}
		_ = p.Validate()
		q := p.Start(rand.NewPCG(seed, seed))
		capD := q.Max()
		require.GreaterOrEqual(t, capD, time.Duration(0))
		if maxD > 0 {
			require.Equal(t, time.Duration(maxD), capD)
		}
		for i := range 10_001 {
			d := q.Next()
			if d < 0 || d > capD {
				t.Fatalf("retry %d: delay %v outside [0, %v] for %#v", i, d, capD, p)
			}
		}
	})
}

// FuzzConstant does the same for Constant.
func FuzzConstant(f *testing.F) {
	f.Add(int64(time.Second), 0.1, int64(0), uint64(1))
	f.Add(int64(math.MaxInt64), 1.0, int64(0), uint64(2))
	f.Add(int64(-1), math.NaN(), int64(-1), uint64(3))
	f.Add(int64(10), 2.0, int64(5), uint64(4))
	f.Fuzz(func(t *testing.T, delay int64, spread float64, maxD int64, seed uint64) {
		p := Constant{Delay: time.Duration(delay), Spread: spread, Max: time.Duration(maxD)}
		_ = p.Validate()
		q := p.Start(rand.NewPCG(seed, seed))
		capD := q.Max()
		require.GreaterOrEqual(t, capD, time.Duration(0))
		for range 1000 {
			d := q.Next()
			if d < 0 || d > capD {
				t.Fatalf("delay %v outside [0, %v] for %#v", d, capD, p)
			}
		}
	})
}
