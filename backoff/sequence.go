package backoff

import (
	"iter"
	"math"
	"math/rand/v2"
	"time"
)

// Sequence is the per-loop state of a policy: it yields the delay before
// each retry in turn. It is a small value that lives on the stack of the loop
// that uses it; it is not safe for concurrent use (start one per loop, from
// a policy that all loops share). The zero value yields zero delays.
type Sequence struct {
	s   spec
	src rand.Source
	n   int     // delays returned so far
	cur float64 // min(max, base·multⁿ) in nanoseconds
	// prev is the previous delay for DecorrelatedJitter and the previous
	// value of f for SmoothJitter.
	prev float64
	// pcg is the loop's own generator when src is nil, seeded by WithSeed
	// or else from the global generator at the first draw; it is a
	// concrete value, so drawing from it is cheap and lets nothing escape.
	pcg    rand.PCG
	seeded bool
	// fn is the function of a Func policy.
	fn func(int) time.Duration
}

func newSequence(s spec, src rand.Source) Sequence {
	q := Sequence{s: s, src: src, cur: s.base}
	if s.jitter == DecorrelatedJitter {
		q.prev = s.base
	}
	return q
}

// Attempts returns how many delays Next has returned.
func (q *Sequence) Attempts() int { return q.n }

// Max returns the longest delay the sequence can return: the policy's Max,
// or the longest Duration for a [Func]. Retry-after hints are not bound by
// it (see [MaxHint]).
func (q *Sequence) Max() time.Duration { return q.s.maxDur }

// Next returns the delay before the next retry. It never returns a negative
// delay or one above Max, however many times it is called.
func (q *Sequence) Next() time.Duration {
	s := &q.s
	if q.fn != nil {
		d := q.fn(q.n)
		q.n++
		return max(d, 0)
	}
	var d float64
	if s.linear {
		// Constant, none, full, equal and proportional jitter are all
		// cur·(lo + width·U).
		d = q.cur * s.lo
		if s.width != 0 {
			// q.float(), written out so that the PCG step is inlined.
			var u uint64
			if q.seeded {
				u = q.pcg.Uint64()
			} else {
				u = q.firstUint64()
			}
			d += q.cur * s.width * (float64(int64(u>>11)) * 0x1p-53)
		}
		if q.cur < s.max {
			if q.cur *= s.mult; q.cur > s.max {
				q.cur = s.max
			}
		}
	} else if s.jitter == DecorrelatedJitter && s.max > 0 {
		// U(Base, Multiplier·prev); the cap below turns every draw above
		// Max into Max: the AWS formula, and its spike at the cap.
		d = s.base + q.float()*(q.prev*s.mult-s.base)
		q.prev = s.max
		if d < s.max {
			q.prev = d
		}
	} else if s.jitter == SmoothJitter && s.max > 0 {
		d = q.smooth()
	} // else the zero Sequence: d stays 0
	q.n++
	// The cap holds after jitter.
	if !(d < s.max) { // also maps NaN to the cap
		return s.maxDur
	}
	if d <= 0 {
		return 0
	}
	return time.Duration(d)
}

// smoothScale makes the median of the first smooth delay about Base: the
// median of f(U) for U uniform in [0, 1) is about 1/smoothScale.
const (
	smoothScale  = 1 / 1.4
	smoothFactor = 4.0
	// smoothSaturated is an attempt count beyond which f overflows float64.
	smoothSaturated = 1000
)

// smooth returns the next SmoothJitter delay: the increment of
// f(x) = 2ˣ·tanh(√(4x)) between the previous and the current randomised
// attempt, scaled by Base, redrawn in [Max/2, Max) when it would exceed Max.
func (q *Sequence) smooth() float64 {
	s := &q.s
	if q.n < smoothSaturated {
		x := float64(q.n) + q.float()
		f := math.Exp2(x) * math.Tanh(math.Sqrt(smoothFactor*x))
		d := (f - q.prev) * smoothScale * s.base
		q.prev = f
		if d < s.max && !math.IsNaN(d) {
			return d
		}
	}
	return s.max/2 + q.float()*s.max/2
}

// float returns a uniform float64 in [0, 1). Without an injected source it
// draws from the sequence's own PCG generator, seeded from the global
// generator at the first draw: that keeps the interface call of the global
// generator off the hot path.
func (q *Sequence) float() float64 {
	var u uint64
	if q.seeded {
		u = q.pcg.Uint64()
	} else {
		u = q.firstUint64()
	}
	return float64(int64(u>>11)) * 0x1p-53
}

// firstUint64 draws from the injected source, or seeds the sequence's own
// generator and draws from it.
//
//go:noinline
func (q *Sequence) firstUint64() uint64 {
	if q.src != nil {
		return q.src.Uint64()
	}
	q.pcg.Seed(rand.Uint64(), rand.Uint64())
	q.seeded = true
	return q.pcg.Uint64()
}

// Reset starts the sequence over from its first delay, keeping its policy
// and its source of randomness.
func (q *Sequence) Reset() {
	q.n = 0
	q.cur = q.s.base
	q.prev = 0
	if q.s.jitter == DecorrelatedJitter {
		q.prev = q.s.base
	}
}

// seed makes q draw from its own PCG generator seeded with seed.
func (q *Sequence) seed(seed uint64) {
	q.pcg.Seed(seed, seed^0x9e3779b97f4a7c15)
	q.seeded = true
}

// delays implements the Delays methods of the policies.
func delays(s spec, src rand.Source) iter.Seq2[int, time.Duration] {
	return func(yield func(int, time.Duration) bool) {
		q := newSequence(s, src)
		for i := 0; ; i++ {
			if !yield(i, q.Next()) {
				return
			}
		}
	}
}
