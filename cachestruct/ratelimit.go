package cachestruct

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Limit is a rate limit: Rate events per Period, in bursts of up to Burst
// events.
type Limit struct {
	Rate   int
	Period time.Duration
	// Burst is the most events allowed at once, after a quiet spell.
	// Zero means Rate.
	Burst int
}

// PerSecond returns the limit of rate events a second, in bursts of up to
// burst.
func PerSecond(rate, burst int) Limit { return Limit{Rate: rate, Period: time.Second, Burst: burst} }

// PerMinute returns the limit of rate events a minute, in bursts of up to
// burst.
func PerMinute(rate, burst int) Limit { return Limit{Rate: rate, Period: time.Minute, Burst: burst} }

// RateLimiterConfig configures a RateLimiter. Its zero value is usable:
// the defaults are given per field.
type RateLimiterConfig struct {
	// MaxTries bounds the tries of one decision that loses a race (see
	// RateLimiter). Default 64.
	MaxTries int
	// Now is the clock the decisions are made with. Default time.Now.
	Now func() time.Time
}

// RateLimiter limits the rate of events per key across every process that
// shares the store, with the generic cell rate algorithm (GCRA, the
// algorithm of ATM networks, as Redis rate limiters such as redis_rate
// and throttled implement it). It behaves as a bucket of Burst tokens
// that refills continuously at Rate tokens per Period, each event taking
// one, but it stores a single number per key: the theoretical arrival
// time (TAT) at which the bucket will be full again, in Unix nanoseconds,
// with a TTL that ends soon after that time (a key that would be full is
// the same as a missing key). A decision is exact: nothing is allowed
// that the bucket would refuse, however many goroutines and processes
// decide at once.
//
// On a store that implements RateStore (redisstore), a decision of one or
// more events is one AllowRate call: one round trip, which reads the key,
// decides and writes the new TAT atomically on the server, and never loses
// a race. On other stores (Memory, memcached) a decision reads the key (one
// round trip). If it refuses, that is all;
// if it allows, it writes the new TAT guarded by the CAS it read (a second
// round trip; ModeAdd for a missing key). When the write loses a race
// with another decision on the same key, it reads again and decides
// again. Each lost race is another decision's successful write, so a try
// fails only while events are being allowed on its key (refusals write
// nothing): with the bucket empty no decision retries, and one decision
// retries at most as many times as events are allowed meanwhile (so with
// MaxTries above Burst a decision gives up only if the key refills while
// it retries). After MaxTries tries it gives up with an error wrapping
// ErrCASConflict, which callers should treat as a refusal; the default of
// 64 gives up under heavy contention on one key (dozens of goroutines
// deciding at once while the bucket holds many tokens). A RateStore is not
// needed for exactness, only for speed, and both kinds of decision can
// share a key: processes that read then write and processes that call
// AllowRate (during a rollout, say) stay exact together, since each
// AllowRate write gives the item a new CAS.
//
// Time is read from the deciding process's clock (Now): processes sharing
// keys must have synchronized clocks (NTP); a process whose clock runs d
// ahead sees the bucket d/(Period/Rate) tokens fuller than it is.
//
// RateLimiter is safe for concurrent use by multiple goroutines. Create one
// with NewRateLimiter; the zero value is not usable.
type RateLimiter struct {
	store    Store
	rate     RateStore // store as a RateStore, or nil
	limit    Limit
	emission time.Duration // one event's share of the period: Period / Rate
	tries    int
	now      func() time.Time
}

// NewRateLimiter returns a limiter of limit on store. It panics if store
// is nil or the limit is invalid: Rate or Period not positive, Burst or
// cfg.MaxTries negative, more than one event per nanosecond (Rate >
// Period in nanoseconds), or a burst that spans more than 2^62 ns (146
// years).
func NewRateLimiter(store Store, limit Limit, cfg RateLimiterConfig) *RateLimiter {
	if store == nil {
		panic("cachestruct: NewRateLimiter with a nil Store")
	}
	if limit.Burst == 0 {
		limit.Burst = limit.Rate
	}
	if limit.Rate <= 0 || limit.Period <= 0 || limit.Burst < 0 || cfg.MaxTries < 0 ||
		int64(limit.Period) < int64(limit.Rate) || int64(limit.Burst) > (1<<62)/(int64(limit.Period)/int64(limit.Rate)) {
		panic("cachestruct: NewRateLimiter with an invalid limit")
	}
	if cfg.MaxTries == 0 {
		cfg.MaxTries = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rate, _ := store.(RateStore)
	return &RateLimiter{
		store:    store,
		rate:     rate,
		limit:    limit,
		emission: limit.Period / time.Duration(limit.Rate),
		tries:    cfg.MaxTries,
		now:      cfg.Now,
	}
}

// Limit returns the limiter's limit (with Burst's default filled in).
func (r *RateLimiter) Limit() Limit { return r.limit }

// RateResult is the outcome of RateLimiter.Allow.
type RateResult struct {
	// Allowed reports whether the n events were allowed (all of them;
	// never some).
	Allowed bool
	// Remaining is the number of events that would be allowed right after
	// this decision.
	Remaining int
	// RetryAfter is, for a refusal, how long until the same n events would
	// be allowed (if nothing else is allowed meanwhile); 0 when allowed,
	// and -1 when n exceeds Burst (never).
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again (all Burst
	// events allowed), if nothing else is allowed meanwhile.
	ResetAfter time.Duration
}

// Allow decides whether n events on key are allowed now, and if so counts
// them. On a RateStore it takes one round trip; on other stores one to
// refuse and two to allow (see RateLimiter). With n == 0 it only reports
// the key's state, in one round trip, and writes nothing; so does n above
// Burst, which is never allowed.
//
// Its errors are the store's (ErrInvalidKey, ErrUnavailable, ctx errors),
// ErrCorrupt when key holds something that is not a TAT (or when a
// RateStore's decision is not the limiter's: a bug in the store), an error
// wrapping ErrCASConflict when MaxTries tries all lost their races, and
// ErrInvalidCost for a negative n. After an error the events were not
// counted, unless the error is ctx's or ErrUnavailable from the write,
// which may have been applied.
func (r *RateLimiter) Allow(ctx context.Context, key string, n int) (RateResult, error) {
	if n < 0 {
		return RateResult{}, ErrInvalidCost
	}
	if r.rate != nil && n > 0 && n <= r.limit.Burst {
		// RateStore takes a clock from 1970 on; an earlier one (a test's
		// fake clock) decides as other stores do.
		if now := r.now().UnixNano(); now >= 0 {
			return r.allowRate(ctx, key, now, n)
		}
	}
	for range r.tries {
		it, found, err := r.store.Get(ctx, key, GetOptions{})
		if err != nil {
			return RateResult{}, err
		}
		var tat int64
		if found {
			if tat, err = strconv.ParseInt(string(it.Value), 10, 64); err != nil {
				return RateResult{}, fmt.Errorf("%w: rate limiter key %q", ErrCorrupt, key)
			}
		}
		now := r.now().UnixNano()
		res, next := r.decide(now, tat, n)
		if !res.Allowed || n == 0 {
			return res, nil
		}
		// The item outlives the TAT by a second: memcached's clock ticks
		// in whole seconds and may expire it up to a second early, which
		// would refill the bucket too soon.
		opt := SetOptions{TTL: time.Duration(next-now) + time.Second, CAS: it.CAS}
		if !found {
			opt.Mode = ModeAdd
		}
		_, err = r.store.Set(ctx, key, strconv.AppendInt(nil, next, 10), opt)
		switch {
		case err == nil:
			return res, nil
		case errors.Is(err, ErrCASConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrNotStored):
			continue // another decision wrote first (or the item expired): decide again
		default:
			return RateResult{}, err
		}
	}
	return RateResult{}, fmt.Errorf("%w: rate limiter key %q: %d tries lost their races", ErrCASConflict, key, r.tries)
}

// allowRate decides n events (0 < n ≤ Burst) on key at now with one
// AllowRate call; the result is decide's on the TAT the store read.
func (r *RateLimiter) allowRate(ctx context.Context, key string, now int64, n int) (RateResult, error) {
	e := int64(r.emission)
	tat, stored, err := r.rate.AllowRate(ctx, key, now, e*int64(n), e*int64(r.limit.Burst))
	if err != nil {
		return RateResult{}, err
	}
	res, _ := r.decide(now, tat, n)
	if res.Allowed != stored {
		return RateResult{}, fmt.Errorf("%w: rate limiter key %q: the store decided %v at TAT %d", ErrCorrupt, key, stored, tat)
	}
	return res, nil
}

// decide is GCRA: for n events at now on a key whose TAT is tat (0 when
// missing) it returns the result and the new TAT if allowed.
func (r *RateLimiter) decide(now, tat int64, n int) (RateResult, int64) {
	e := int64(r.emission)
	burst := e * int64(r.limit.Burst) // how far the TAT may run ahead of now
	tat = max(tat, now)
	// Remaining before this decision; negative only when another
	// process's clock runs ahead of ours.
	remaining := int(max(0, (now+burst-tat)/e))
	if n > r.limit.Burst {
		return RateResult{Remaining: remaining, RetryAfter: -1, ResetAfter: time.Duration(tat - now)}, tat
	}
	next := tat + e*int64(n)
	if wait := next - burst - now; wait > 0 {
		return RateResult{Remaining: remaining, RetryAfter: time.Duration(wait), ResetAfter: time.Duration(tat - now)}, tat
	}
	return RateResult{Allowed: true, Remaining: int((now + burst - next) / e), ResetAfter: time.Duration(next - now)}, next
}
