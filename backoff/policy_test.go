package backoff

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const samples = 20000

// draw returns n first delays of fresh sequences of p, from a seeded source.
func draw(p Policy, n int, retry int) []float64 {
	src := rand.NewPCG(1, 2)
	out := make([]float64, n)
	for i := range out {
		q := p.Start(src)
		var d time.Duration
		for range retry + 1 {
			d = q.Next()
		}
		out[i] = float64(d)
	}
	return out
}

func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)))
}

func TestJitterDistributions(t *testing.T) {
	const base = float64(time.Second)
	tests := []struct {
		name     string
		p        Policy
		retry    int
		lo, hi   float64 // bounds, in units of base
		mean, sd float64 // expected, in units of base
	}{
		{"none", Exponential{Base: time.Second, Max: time.Hour, Jitter: NoJitter}, 2, 4, 4, 4, 0},
		{"full", Exponential{Base: time.Second, Max: time.Hour}, 2, 0, 4, 2, 4 / math.Sqrt(12)},
		{"equal", Exponential{Base: time.Second, Max: time.Hour, Jitter: EqualJitter}, 2, 2, 4, 3, 2 / math.Sqrt(12)},
		{"proportional", Exponential{Base: time.Second, Max: time.Hour, Jitter: ProportionalJitter}, 2, 0.8 * 4, 1.2 * 4, 4, 0.4 * 4 / math.Sqrt(12)},
		{"grpc first", GRPC(), 0, 0.8, 1.2, 1, 0.4 / math.Sqrt(12)},
		{"decorrelated first", Exponential{Base: time.Second, Max: time.Hour, Jitter: DecorrelatedJitter}, 0, 1, 3, 2, 2 / math.Sqrt(12)},
		{"constant", Constant{Delay: time.Second, Spread: 0.5}, 3, 0.5, 1.5, 1, 1 / math.Sqrt(12)},
		{"constant exact", Constant{Delay: time.Second}, 3, 1, 1, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs := draw(tt.p, samples, tt.retry)
			require.GreaterOrEqual(t, slices.Min(xs), tt.lo*base)
			require.LessOrEqual(t, slices.Max(xs), tt.hi*base)
			mean, sd := meanSD(xs)
			assert.InDelta(t, tt.mean*base, mean, 0.02*tt.mean*base, "mean")
			assert.InDelta(t, tt.sd*base, sd, 0.03*tt.mean*base, "standard deviation")
		})
	}
}

func TestDecorrelatedSpikeAndSmoothJitter(t *testing.T) {
	capD := 10 * time.Second
	atMax := func(p Policy) (share float64, all []float64) {
		src := rand.NewPCG(3, 4)
		n := 0
		for range 2000 {
			q := p.Start(src)
			for range 20 {
				d := q.Next()
				if d == capD {
					n++
				}
				all = append(all, float64(d))
			}
		}
		require.GreaterOrEqual(t, slices.Min(all), 0.0)
		require.LessOrEqual(t, slices.Max(all), float64(capD))
		return float64(n) / 40000, all
	}
	share, _ := atMax(Exponential{Base: 100 * time.Millisecond, Max: capD, Jitter: DecorrelatedJitter})
	assert.Greater(t, share, 0.1, "AWS decorrelated jitter piles up on the cap")
	share, all := atMax(Exponential{Base: 100 * time.Millisecond, Max: capD, Jitter: SmoothJitter})
	assert.Zero(t, share, "smooth jitter never returns the cap exactly")
	// Saturated smooth draws are spread over [Max/2, Max).
	slices.Sort(all)
	assert.Greater(t, all[len(all)-1], 0.99*float64(capD))
	assert.Less(t, all[len(all)*3/4], 0.95*float64(capD))
}

func TestSmoothJitterGrowth(t *testing.T) {
	p := Exponential{Base: time.Second, Max: 24 * time.Hour, Jitter: SmoothJitter}
	first := draw(p, samples, 0)
	slices.Sort(first)
	median := first[len(first)/2] / float64(time.Second)
	assert.InDelta(t, 0.9, median, 0.1, "median first delay is about Base")
	require.Less(t, slices.Max(first), 1.4*float64(time.Second), "f(1)/1.4 bounds the first delay")
	// The mean doubles per retry once past the first few.
	prev, _ := meanSD(draw(p, samples, 3))
	for r := 4; r <= 7; r++ {
		m, _ := meanSD(draw(p, samples, r))
		assert.InDelta(t, 2, m/prev, 0.15, "retry %d", r)
		prev = m
	}
}

func TestCapHoldsAfterJitter(t *testing.T) {
	for _, j := range []Jitter{FullJitter, NoJitter, EqualJitter, DecorrelatedJitter, SmoothJitter, ProportionalJitter} {
		t.Run(j.String(), func(t *testing.T) {
			p := Exponential{Base: time.Second, Max: 5 * time.Second, Jitter: j, Spread: 1}
			src := rand.NewPCG(5, 6)
			q := p.Start(src)
			assert.Equal(t, 5*time.Second, q.Max())
			lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
			for range 10000 {
				d := q.Next()
				lo, hi = min(lo, d), max(hi, d)
			}
			require.GreaterOrEqual(t, lo, time.Duration(0))
			require.LessOrEqual(t, hi, 5*time.Second)
			assert.Equal(t, 10000, q.Attempts())
		})
	}
	// gRPC: ±20 % around a capped 120 s never goes above 120 s.
	q := GRPC().Start(rand.NewPCG(7, 8))
	for range 20 {
		q.Next()
	}
	hi := time.Duration(0)
	for range 1000 {
		hi = max(hi, q.Next())
	}
	require.Equal(t, 120*time.Second, hi, "the cap, reached, never passed")
}

func TestDefaults(t *testing.T) {
	q := Exponential{Jitter: NoJitter}.Start(nil)
	var got []time.Duration
	for range 9 {
		got = append(got, q.Next())
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 10 * time.Second, 10 * time.Second}, got)
	assert.Equal(t, DefaultMax, q.Max())

	// A Base above the default Max raises the cap.
	q = Exponential{Base: time.Minute, Jitter: NoJitter}.Start(nil)
	assert.Equal(t, time.Minute, q.Next())

	g := GRPC()
	g.Jitter = NoJitter
	q = g.Start(nil)
	assert.Equal(t, time.Second, q.Next())
	assert.Equal(t, 1600*ms, q.Next())
	assert.Equal(t, 2560*ms, q.Next())

	var zero Sequence
	assert.Zero(t, zero.Next())
	q = Constant{}.Start(nil)
	assert.Zero(t, q.Next())
	assert.Zero(t, q.Max())
	q = Constant{Delay: time.Second, Spread: 0.5}.Start(nil)
	assert.Equal(t, 1500*ms, q.Max())
}

func TestSameSeedSameDelays(t *testing.T) {
	for _, p := range []Policy{Exponential{}, Exponential{Jitter: DecorrelatedJitter}, Exponential{Jitter: SmoothJitter}, GRPC(), Constant{Delay: time.Second, Spread: 0.1}} {
		a := p.Start(rand.NewPCG(9, 9))
		b := p.Start(rand.NewPCG(9, 9))
		c := p.Start(rand.NewPCG(9, 10))
		same, differ := true, false
		for range 50 {
			x, y, z := a.Next(), b.Next(), c.Next()
			same = same && x == y
			differ = differ || x != z
		}
		assert.True(t, same, "%#v", p)
		assert.True(t, differ, "%#v", p)
	}
}

func TestDelays(t *testing.T) {
	var got []time.Duration
	for i, d := range (Exponential{Jitter: NoJitter}).Delays(nil) {
		if i == 4 {
			break
		}
		got = append(got, d)
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms}, got)

	got = got[:0]
	for i, d := range (Constant{Delay: ms}).Delays(rand.NewPCG(1, 1)) {
		got = append(got, d)
		if i == 2 {
			break
		}
	}
	assert.Equal(t, []time.Duration{ms, ms, ms}, got)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"zero exponential", Exponential{}, true},
		{"zero constant", Constant{}, true},
		{"grpc", GRPC(), true},
		{"negative base", Exponential{Base: -1}, false},
		{"negative max", Exponential{Max: -1}, false},
		{"base above max", Exponential{Base: 2 * time.Second, Max: time.Second}, false},
		{"multiplier below 1", Exponential{Multiplier: 0.5}, false},
		{"multiplier NaN", Exponential{Multiplier: math.NaN()}, false},
		{"multiplier Inf", Exponential{Multiplier: math.Inf(1)}, false},
		{"multiplier 1", Exponential{Multiplier: 1}, true},
		{"spread above 1", Exponential{Spread: 1.5}, false},
		{"spread NaN", Exponential{Spread: math.NaN()}, false},
		{"unknown jitter", Exponential{Jitter: 42}, false},
		{"negative delay", Constant{Delay: -time.Second}, false},
		{"negative constant max", Constant{Max: -time.Second}, false},
		{"constant spread", Constant{Spread: -0.1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			assert.Equal(t, !tt.ok, tt.p.spec().invalid, "spec agrees with Validate")
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidPolicy)
			// Invalid fields fall back to defaults when a sequence runs.
			q := tt.p.Start(nil)
			for range 100 {
				d := q.Next()
				require.GreaterOrEqual(t, d, time.Duration(0))
				require.LessOrEqual(t, d, q.Max())
			}
		})
	}
}

func TestJitterString(t *testing.T) {
	assert.Equal(t, "full", FullJitter.String())
	assert.Equal(t, "smooth", SmoothJitter.String())
	assert.Equal(t, "Jitter(42)", Jitter(42).String())
	assert.True(t, errors.Is(Exponential{Jitter: 42}.Validate(), ErrInvalidPolicy))
}

func TestSequenceReset(t *testing.T) {
	for _, p := range []Policy{Exponential{}, Exponential{Jitter: NoJitter}, Exponential{Jitter: DecorrelatedJitter},
		Exponential{Jitter: SmoothJitter}, GRPC(), Constant{Delay: time.Second, Spread: 0.5}} {
		src := rand.NewPCG(1, 1)
		q := p.Start(src)
		for range 7 {
			q.Next()
		}
		q.Reset()
		assert.Zero(t, q.Attempts())
		// A reset sequence continues like a fresh one whose source is in
		// the same state.
		twin := *src
		fresh := p.Start(&twin)
		for i := range 10 {
			require.Equal(t, fresh.Next(), q.Next(), "%#v retry %d", p, i)
		}
	}
}
