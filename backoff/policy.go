package backoff

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"time"
)

// Jitter selects how an [Exponential] policy randomises its delays. The zero
// value is [FullJitter], the choice that spreads retries the most.
type Jitter uint8

// The jitter modes. In the formulas, t is min(Max, Base·Multiplierⁿ) for the
// n-th retry (n from 0) and U(a, b) is a uniform draw from [a, b).
const (
	// FullJitter draws U(0, t). It spreads a herd of retrying clients
	// over the whole interval and is the default.
	FullJitter Jitter = iota
	// NoJitter returns t itself: clients that failed together retry together.
	NoJitter
	// EqualJitter draws t/2 + U(0, t/2): never less than half of t.
	EqualJitter
	// DecorrelatedJitter is the AWS variant: min(Max, U(Base, Multiplier·prev))
	// with prev the previous delay (Base at first) and Multiplier 3 by default.
	// Once Multiplier·prev exceeds Max, a large share of the draws equals Max
	// exactly (the clamping spike).
	DecorrelatedJitter
	// SmoothJitter is a decorrelated jitter without the clamping spike, after
	// the idea of Polly's DecorrelatedJitterBackoffV2: the n-th delay is the
	// increment f(n+u) − f(n−1+u′) of f(x) = 2ˣ·tanh(√(4x)), scaled so that the
	// median first delay is about Base; u, u′ are uniform draws. A delay that
	// would exceed Max is redrawn as U(Max/2, Max), so the distribution stays
	// smooth at the cap instead of piling up on Max.
	SmoothJitter
	// ProportionalJitter multiplies t by 1 + U(−Spread, +Spread), as gRPC
	// connection backoff does (Spread 0.2 by default).
	ProportionalJitter

	jitterModes // number of modes; keep last
)

// String returns the mode's name, such as "full".
func (j Jitter) String() string {
	switch j {
	case FullJitter:
		return "full"
	case NoJitter:
		return "none"
	case EqualJitter:
		return "equal"
	case DecorrelatedJitter:
		return "decorrelated"
	case SmoothJitter:
		return "smooth"
	case ProportionalJitter:
		return "proportional"
	}
	return fmt.Sprintf("Jitter(%d)", uint8(j))
}

// Defaults for the zero fields of the policies.
const (
	// DefaultBase is the first delay of a zero Exponential.
	DefaultBase = 100 * time.Millisecond
	// DefaultMax caps the delays of a zero Exponential.
	DefaultMax = 10 * time.Second
	// DefaultMultiplier is the growth factor of a zero Exponential.
	DefaultMultiplier = 2.0
	// DefaultDecorrelatedMultiplier is the growth factor of decorrelated
	// jitter when Multiplier is zero, as in the AWS formula.
	DefaultDecorrelatedMultiplier = 3.0
	// DefaultSpread is the relative spread of ProportionalJitter.
	DefaultSpread = 0.2
)

// Policy computes retry delays. It is implemented by [Constant],
// [Exponential] and [Func]; all are small immutable values, safe for
// concurrent use by multiple goroutines. The state of one retry loop lives
// in the [Sequence] returned by Start, never in the policy. To plug in delays
// of one's own, convert a function to [Func]: Retry calls it without
// allocating.
type Policy interface {
	// Start returns the delay sequence of one retry loop. With a nil src the
	// sequence draws from its own PCG generator, seeded from the global
	// generator of math/rand/v2 at its first draw. A non-nil src is called
	// by the goroutine that calls Next; sources such as *rand.PCG are not
	// safe for concurrent use, so share one only between sequences used on
	// one goroutine (as a simulation does).
	Start(src rand.Source) Sequence
	// Validate reports invalid fields with an error that wraps
	// ErrInvalidPolicy.
	Validate() error
	spec() spec
}

// Constant is a policy that waits the same delay before every retry,
// optionally spread by a relative jitter. The zero value retries immediately,
// which suits tests and in-process contention; anything that talks to a
// server should set Delay and, with many clients, Spread.
type Constant struct {
	// Delay is the delay before each retry; zero means none.
	Delay time.Duration
	// Spread is a relative jitter: each delay is Delay·(1 + U(−Spread,
	// +Spread)). Zero means none; it must be in [0, 1].
	Spread float64
	// Max caps the delays. Zero means Delay·(1 + Spread), the longest
	// delay the policy produces. Retry-after hints may exceed it; see
	// [Hinter].
	Max time.Duration
}

// Exponential is a policy whose delays grow geometrically from Base by
// Multiplier per retry up to Max, randomised by Jitter. Max holds after
// jitter: no delay ever exceeds it. The zero value is usable: 100 ms, ×2,
// full jitter, capped at 10 s (see the package doc for a delay table).
type Exponential struct {
	// Base is the first delay before jitter; zero means DefaultBase (100 ms).
	Base time.Duration
	// Multiplier is the growth factor per retry, at least 1. Zero means
	// DefaultMultiplier (2), or DefaultDecorrelatedMultiplier (3) for
	// DecorrelatedJitter, where it bounds the draw U(Base, Multiplier·prev).
	// SmoothJitter ignores it: its delays double per retry by construction.
	Multiplier float64
	// Max caps every delay, after jitter. Zero means DefaultMax (10 s) or
	// Base if that is larger. Retry-after hints may exceed it; see [Hinter].
	Max time.Duration
	// Jitter selects the randomisation; the zero value is FullJitter.
	Jitter Jitter
	// Spread is the relative spread of ProportionalJitter, in [0, 1]; zero
	// means DefaultSpread (0.2). Other modes ignore it.
	Spread float64
}

// GRPC returns the connection-backoff policy of gRPC: 1 s, ×1.6, ±20 %
// jitter, at most 120 s.
func GRPC() Exponential {
	return Exponential{
		Base:       time.Second,
		Multiplier: 1.6,
		Max:        120 * time.Second,
		Jitter:     ProportionalJitter,
		Spread:     0.2,
	}
}

// Func is a policy of the caller's own: the delay before retry n (0 for the
// first retry) is f(n). A negative result counts as zero; there is no cap
// other than the function's own, and the Max of its Sequence is the longest
// Duration. Retry calls f on its own goroutine, without allocating; a Func
// used by several loops at once must be safe for concurrent use, as a pure
// function of n is. For jitter, f may draw from math/rand/v2's global
// functions, which are safe for concurrent use.
type Func func(n int) time.Duration

// Start returns the delay sequence of one retry loop; see [Policy]. A Func
// draws no randomness of its own, so src is unused.
func (f Func) Start(src rand.Source) Sequence {
	q := newSequence(f.spec(), src)
	q.fn = f
	return q
}

// Validate reports a nil Func as an error wrapping ErrInvalidPolicy.
func (f Func) Validate() error { return f.fault().err() }

func (f Func) fault() fault {
	if f == nil {
		return fault{code: faultFuncNil}
	}
	return fault{}
}

func (f Func) spec() spec {
	s := spec{max: math.Inf(1), maxDur: math.MaxInt64}
	if f == nil {
		s.invalid, s.fault = true, f.fault()
	}
	return s
}

// spec is a compiled policy: defaults applied, invalid fields replaced by
// defaults, durations as float64 nanoseconds. It is a small plain value so
// that options can carry it without allocating and Start stays cheap.
type spec struct {
	base, max, mult float64
	// The linear modes (constant, none, full, equal, proportional) draw
	// cur·(lo + width·U).
	lo, width float64
	maxDur    time.Duration
	jitter    Jitter
	linear    bool
	invalid   bool
	fault     fault // why, when invalid is set
}

// Start returns the delay sequence of one retry loop; see [Policy].
func (c Constant) Start(src rand.Source) Sequence { return newSequence(c.spec(), src) }

// Delays ranges over the infinite sequence of delays, with their index from
// 0, drawing randomness from src as Start does. Break out of
// the loop to stop.
func (c Constant) Delays(src rand.Source) iter.Seq2[int, time.Duration] {
	return delays(c.spec(), src)
}

// Validate reports a negative Delay or Max, or a Spread outside [0, 1], as an
// error wrapping ErrInvalidPolicy.
func (c Constant) Validate() error { return c.fault().err() }

func (c Constant) fault() fault {
	switch {
	case c.Delay < 0:
		return fault{code: faultConstantDelay, d1: c.Delay}
	case c.Max < 0:
		return fault{code: faultConstantMax, d1: c.Max}
	case !(c.Spread >= 0 && c.Spread <= 1):
		return fault{code: faultConstantSpread, f: c.Spread}
	}
	return fault{}
}

func (c Constant) spec() spec {
	s := spec{linear: true, mult: 1}
	d, spread, m := c.Delay, c.Spread, c.Max
	if d < 0 || m < 0 || !(spread >= 0 && spread <= 1) { // Validate's checks
		s.invalid, s.fault = true, c.fault()
		d, m = max(d, 0), max(m, 0)
		if !(spread >= 0 && spread <= 1) {
			spread = 0
		}
	}
	s.base = float64(d)
	s.lo, s.width = 1-spread, 2*spread
	if m == 0 {
		m = durationOf(s.base * (1 + spread))
	}
	s.maxDur, s.max = m, float64(m)
	return s
}

// Start returns the delay sequence of one retry loop; see [Policy].
func (e Exponential) Start(src rand.Source) Sequence { return newSequence(e.spec(), src) }

// Delays ranges over the infinite sequence of delays, with their index from
// 0, drawing randomness from src as Start does. Break out of
// the loop to stop.
func (e Exponential) Delays(src rand.Source) iter.Seq2[int, time.Duration] {
	return delays(e.spec(), src)
}

// Validate reports negative durations, a Multiplier below 1 (other than the
// zero default) or not finite, a Spread outside [0, 1], an unknown Jitter or
// a Base above an explicit Max, as an error wrapping ErrInvalidPolicy.
func (e Exponential) Validate() error { return e.fault().err() }

func (e Exponential) fault() fault {
	switch {
	case e.Base < 0:
		return fault{code: faultExponentialBase, d1: e.Base}
	case e.Max < 0:
		return fault{code: faultExponentialMax, d1: e.Max}
	case e.Max > 0 && e.Base > e.Max:
		return fault{code: faultExponentialBaseAboveMax, d1: e.Base, d2: e.Max}
	case e.Multiplier != 0 && !(e.Multiplier >= 1 && e.Multiplier <= math.MaxFloat64):
		return fault{code: faultExponentialMultiplier, f: e.Multiplier}
	case !(e.Spread >= 0 && e.Spread <= 1):
		return fault{code: faultExponentialSpread, f: e.Spread}
	case e.Jitter >= jitterModes:
		return fault{code: faultExponentialJitter, j: e.Jitter}
	}
	return fault{}
}

// fault describes what Validate finds wrong with a policy as plain data:
// a spec carries it so that Retry can report the reason, and it holds no
// pointer, so the options that carry it do not escape to the heap.
type fault struct {
	code   faultCode
	j      Jitter
	d1, d2 time.Duration
	f      float64
}

type faultCode uint8

const (
	faultNone faultCode = iota
	faultConstantDelay
	faultConstantMax
	faultConstantSpread
	faultExponentialBase
	faultExponentialMax
	faultExponentialBaseAboveMax
	faultExponentialMultiplier
	faultExponentialSpread
	faultExponentialJitter
	faultFuncNil
)

// err returns the fault as an error wrapping ErrInvalidPolicy, or nil.
func (f fault) err() error {
	switch f.code {
	case faultConstantDelay:
		return fmt.Errorf("%w: negative Constant.Delay %v", ErrInvalidPolicy, f.d1)
	case faultConstantMax:
		return fmt.Errorf("%w: negative Constant.Max %v", ErrInvalidPolicy, f.d1)
	case faultConstantSpread:
		return fmt.Errorf("%w: Constant.Spread %v not in [0, 1]", ErrInvalidPolicy, f.f)
	case faultExponentialBase:
		return fmt.Errorf("%w: negative Exponential.Base %v", ErrInvalidPolicy, f.d1)
	case faultExponentialMax:
		return fmt.Errorf("%w: negative Exponential.Max %v", ErrInvalidPolicy, f.d1)
	case faultExponentialBaseAboveMax:
		return fmt.Errorf("%w: Exponential.Base %v above Max %v", ErrInvalidPolicy, f.d1, f.d2)
	case faultExponentialMultiplier:
		return fmt.Errorf("%w: Exponential.Multiplier %v not a finite number ≥ 1", ErrInvalidPolicy, f.f)
	case faultExponentialSpread:
		return fmt.Errorf("%w: Exponential.Spread %v not in [0, 1]", ErrInvalidPolicy, f.f)
	case faultExponentialJitter:
		return fmt.Errorf("%w: unknown %v", ErrInvalidPolicy, f.j)
	case faultFuncNil:
		return fmt.Errorf("%w: nil Func", ErrInvalidPolicy)
	}
	return nil
}

func (e Exponential) spec() spec {
	s := spec{jitter: e.Jitter}
	base, m, mult, spread := e.Base, e.Max, e.Multiplier, e.Spread
	// Validate's checks, without building errors.
	s.invalid = base < 0 || m < 0 || (m > 0 && base > m) ||
		(mult != 0 && !(mult >= 1 && mult <= math.MaxFloat64)) ||
		!(spread >= 0 && spread <= 1) || s.jitter >= jitterModes
	if s.invalid {
		s.fault = e.fault()
	}
	if s.jitter >= jitterModes {
		s.jitter = FullJitter
	}
	if base <= 0 {
		base = DefaultBase
	}
	if m <= 0 {
		m = max(DefaultMax, base)
	}
	base = min(base, m)
	if !(mult >= 1 && mult <= math.MaxFloat64) {
		mult = DefaultMultiplier
		if s.jitter == DecorrelatedJitter {
			mult = DefaultDecorrelatedMultiplier
		}
	}
	if !(spread > 0 && spread <= 1) {
		spread = DefaultSpread
	}
	s.base, s.max, s.maxDur, s.mult = float64(base), float64(m), m, mult
	s.linear = true
	switch s.jitter {
	case FullJitter:
		s.lo, s.width = 0, 1
	case NoJitter:
		s.lo, s.width = 1, 0
	case EqualJitter:
		s.lo, s.width = 0.5, 0.5
	case ProportionalJitter:
		s.lo, s.width = 1-spread, 2*spread
	default:
		s.linear = false
	}
	return s
}

// durationOf converts non-negative float64 nanoseconds to a Duration without
// overflowing.
func durationOf(f float64) time.Duration {
	if !(f < math.MaxInt64) { // also catches NaN and +Inf
		return math.MaxInt64
	}
	if f <= 0 {
		return 0
	}
	return time.Duration(f)
}
