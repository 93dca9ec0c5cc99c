package cachestruct

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"golang.org/x/sync/singleflight"
)

// CacheConfig configures a Cache. Its zero value is usable: the defaults
// are given per field.
type CacheConfig struct {
	// Lease is the life of the empty placeholder a miss creates: how long
	// the caller that won the right to compute may take before another
	// caller may try (if the winner crashed, say). Make it longer than
	// the slowest compute. Default 10s.
	Lease time.Duration
	// Grace is how long past its TTL a value may still be served, stale,
	// while one caller recomputes it. The value's own expiry decides (it is
	// stored in the value, to the millisecond, by Now), not the store's
	// TTL, which is TTL+Grace rounded up to whole seconds: the first reader
	// past the expiry wins the right to recompute (memcached's mg R flag,
	// or a CAS-guarded md with I when the whole-second TTL lags behind) and
	// the others keep reading the old value until Grace ends, then wait.
	// Zero (the default) serves nothing past the TTL: after expiry, one
	// caller recomputes and the others wait for its value.
	Grace time.Duration
	// WaitFresh makes callers that find a stale value while another caller
	// recomputes it wait for the fresh value instead of returning the
	// stale one at once (the default).
	WaitFresh bool
	// Poll is the first delay between two reads of a caller waiting for
	// another caller's computation; the delay doubles up to MaxPoll and is
	// jittered within ±50%. Defaults 5ms and 100ms.
	Poll, MaxPoll time.Duration
	// Beta, when positive, turns on probabilistic early recomputation
	// (XFetch, Vattani et al. 2015): each reader of a fresh value draws
	// whether to recompute it early, when now − δ·Beta·ln(rand()) ≥
	// expiry, δ being how long the last computation took. A reader that
	// draws it asks the store for the right to recompute (one more read,
	// with memcached's mg R flag and a threshold above the item's TTL):
	// the first, in any process, gets it and recomputes; the others, and
	// every reader that finds the right taken, return the current value.
	// So one early recompute happens per item and expiry. 1 is the
	// paper's default; larger recomputes earlier. Default 0 (off).
	Beta float64
	// Rand returns uniform numbers in [0, 1) for the jitter and XFetch.
	// Default math/rand/v2's Float64. It must be safe for concurrent use.
	Rand func() float64
	// Now returns the current time, for the expiry stored in values and
	// XFetch. Default time.Now.
	Now func() time.Time
	// Observer, when not nil, receives the letters of the package doc's
	// debugging trick per key:
	// LetterMiss (missing or stale), LetterLockTry (a read that competed
	// for the right to compute), LetterWritten, LetterUnlock (the right to
	// compute released) and LetterHit.
	Observer Observer
}

// Cache is a read-through cache of values of type T protected against
// stampedes (the dog-pile effect): when a hot key is missing or expires,
// exactly one caller among all processes sharing the store computes it,
// instead of every caller at once. It is safe for concurrent use by
// multiple goroutines and processes.
//
// Mechanism, per GetOrCompute:
//
//   - In process, the callers of one key that must wait share one flight
//     (golang.org/x/sync/singleflight), which polls the store for all of
//     them; a hit is a single store round trip outside any flight. The
//     flight runs on a goroutine of its own, with the ctx of the caller
//     that started it, and ends when the value is there, when a compute it
//     ran returns, or when that ctx ends.
//   - Across processes, the store's leases decide (memcached's meta
//     protocol: mg with N, R, and md with I). A miss creates an empty
//     placeholder and only the reader that created it gets Won; later
//     readers get Busy and poll (jittered) until the value appears, the
//     lease expires, or their ctx ends. The winner writes with the
//     placeholder's CAS, so a late writer holding an older CAS (say, one
//     whose lease expired and was retaken) is rejected.
//   - Expiry is the value's own: its header holds the expiry to the
//     millisecond, and a value past it is never returned as fresh, nor
//     served past its Grace, although the store keeps the item to the end
//     of a whole second. The first reader that finds such a value while
//     the store has given nobody the right to recompute it marks it stale
//     with a delete guarded by its CAS (md with I and C), so that exactly
//     one of the next readers wins.
//   - Stale-while-revalidate: with Grace, or after Invalidate, one reader
//     wins the right to recompute while the others get the stale value at
//     once (or wait, with WaitFresh). Cache.Get never keeps that right.
//   - Optionally, XFetch (Beta) recomputes hot values shortly before they
//     expire, so that they rarely expire at all. Each reader draws on its
//     own whether to recompute early, but only the one that then wins the
//     store's right to recompute (mg with R) does it.
//
// Stored values carry a header (a magic byte, the expiry, the duration of
// the computation), so the empty placeholder is never read as data, and a
// value that Cache did not write reports ErrCorrupt.
//
// A miss means the value was never computed, expired, or was evicted: it is
// computed again; it is never an error. When the store is unavailable
// (ErrUnavailable: server down, refusing, ejected or not answering in
// time), GetOrCompute computes the value locally and returns it without
// caching it: the documented fallback, which protects availability at the
// cost of the backend's load while the store is down (in-process flights
// still deduplicate).
//
// Create a Cache with NewCache; the zero value is not usable.
type Cache[T any] struct {
	store Store
	codec Codec[T]
	cfg   CacheConfig
	group singleflight.Group
}

// NewCache returns a cache of T values in store, encoded by codec. It panics
// if store or codec is nil or a duration in cfg is negative.
func NewCache[T any](store Store, codec Codec[T], cfg CacheConfig) *Cache[T] {
	if store == nil || codec == nil {
		panic("cachestruct: NewCache with a nil Store or Codec")
	}
	if cfg.Lease < 0 || cfg.Grace < 0 || cfg.Poll < 0 || cfg.MaxPoll < 0 || cfg.Beta < 0 {
		panic("cachestruct: NewCache with a negative duration or Beta")
	}
	if cfg.Lease == 0 {
		cfg.Lease = 10 * time.Second
	}
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	if cfg.MaxPoll == 0 {
		cfg.MaxPoll = 100 * time.Millisecond
	}
	cfg.MaxPoll = max(cfg.MaxPoll, cfg.Poll)
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Cache[T]{store: store, codec: codec, cfg: cfg}
}

// GetOrCompute returns the value under key, computing it with compute and
// storing it for ttl (zero: no expiry) when it is missing, expired or
// stale; see Cache for who computes and who waits.
//
// A hit costs one store round trip. The caller that wins the right to
// compute runs compute on its own goroutine with its own ctx; the callers
// of this process that must wait for it share one flight per key, which
// polls the store and runs with the ctx of the caller that started it (a
// caller whose ctx ends leaves at once; if the flight's ctx ends first, the
// others fly again). Concurrent callers may share one result: do not modify
// a returned value.
//
// If compute fails, the lease is released at once (deleted with its CAS)
// so another caller may try, and its error is returned, unless the old
// value may still be served (it is not past its TTL plus Grace; it may be
// stale, invalidated or in its grace period): then the old value is
// returned and stays in the store until its grace ends.
//
// Errors: ErrNegativeTTL, ErrInvalidKey, ErrCorrupt, compute's and the
// codec's errors, the store's errors other than ErrUnavailable (which falls
// back to a local compute), and ctx's error when ctx ends while waiting. It
// panics if compute is nil.
func (c *Cache[T]) GetOrCompute(ctx context.Context, key string, ttl time.Duration, compute func(context.Context) (T, error)) (T, error) {
	var zero T
	if compute == nil {
		panic("cachestruct: GetOrCompute with a nil compute")
	}
	if ttl < 0 {
		return zero, ErrNegativeTTL
	}
	// Fast path, outside any flight: hits, and the one caller that wins.
	it, _, err := c.store.Get(ctx, key, c.getOptions())
	down := errors.Is(err, ErrUnavailable)
	if err == nil {
		v, done, err := c.step(ctx, key, ttl, it, compute)
		if done {
			return v, err
		}
	} else if !down {
		return zero, err
	}
	// Someone else computes, or the store is down: one flight per key for
	// this process waits (or computes locally).
	for {
		ch := c.group.DoChan(key, func() (any, error) {
			if down {
				observe(c.cfg.Observer, key, LetterMiss)
				return compute(ctx) // documented fallback: compute locally, cache nothing
			}
			return c.fetch(ctx, key, ttl, compute)
		})
		select {
		case <-ctx.Done():
			return zero, context.Cause(ctx)
		case r := <-ch:
			if r.Err != nil {
				// The flight ran with another caller's ctx: if that one
				// ended but ours did not, fly again.
				if ctx.Err() == nil && isCtxErr(r.Err) && r.Shared {
					continue
				}
				return zero, r.Err
			}
			v, _ := r.Val.(T) // a nil interface value does not assert
			return v, nil
		}
	}
}

// getOptions are the options of every read of GetOrCompute.
func (c *Cache[T]) getOptions() GetOptions {
	return GetOptions{Lease: c.cfg.Lease, Recache: c.cfg.Grace}
}

// isCtxErr reports whether err is a context's error.
func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fetch is one flight of GetOrCompute: read until the value is there or
// this flight wins the right to compute it, polling with jitter.
func (c *Cache[T]) fetch(ctx context.Context, key string, ttl time.Duration, compute func(context.Context) (T, error)) (T, error) {
	var zero T
	delay := c.cfg.Poll
	for {
		it, _, err := c.store.Get(ctx, key, c.getOptions())
		if errors.Is(err, ErrUnavailable) {
			observe(c.cfg.Observer, key, LetterMiss)
			return compute(ctx) // documented fallback: compute locally, cache nothing
		}
		if err != nil {
			return zero, err
		}
		if v, done, err := c.step(ctx, key, ttl, it, compute); done {
			return v, err
		}
		// A placeholder, or a stale value with WaitFresh: another caller is
		// computing. Wait and read again; the lease bounds the wait.
		if err := sleepCtx(ctx, jitter(delay, c.cfg.Rand)); err != nil {
			return zero, err
		}
		delay = min(2*delay, c.cfg.MaxPoll)
	}
}

// step acts on one read of key: it computes if the read won, returns a
// fresh value (or a stale one, as configured), and otherwise reports that
// the caller must wait or read again (done == false).
//
// The value's own expiry, in its header, decides whether it is fresh: the
// store keeps the item for its TTL plus Grace rounded up to whole seconds,
// so it may still hold a value that has expired. Such a value is served
// (stale) only within Grace of its expiry and only while another caller
// recomputes it; when the store has given nobody the right to recompute
// it yet, the reader takes it (see take) and reads again.
func (c *Cache[T]) step(ctx context.Context, key string, ttl time.Duration, it Item, compute func(context.Context) (T, error)) (v T, done bool, err error) {
	var (
		zero       T
		have       bool
		fresh      bool
		servable   bool // fresh, or expired less than Grace ago
		exp, delta time.Duration
	)
	now := c.cfg.Now()
	if len(it.Value) > 0 {
		payload, e, d, err := decodeCached(it.Value)
		if err == nil {
			v, err = c.codec.Decode(payload)
		}
		if err != nil && !it.Won {
			return zero, true, err
		}
		have = err == nil
		exp, delta = e, d
		ms := time.Duration(now.UnixMilli()) * time.Millisecond
		servable = have && (exp == 0 || ms < exp || ms-exp < c.cfg.Grace)
		fresh = have && !it.Stale && (exp == 0 || ms < exp)
	}
	switch {
	case it.Won:
		// This caller holds the right to recompute (a miss, a stale item,
		// or the start of the grace period): compute and write with the
		// CAS.
		if !fresh {
			observe(c.cfg.Observer, key, LetterMiss)
		}
		observe(c.cfg.Observer, key, LetterLockTry)
		nv, err := c.computeAndStore(ctx, key, ttl, it.CAS, compute)
		if err != nil && servable {
			return v, true, nil // serve stale on failure; it stays until its grace ends
		}
		if err != nil {
			// Release the placeholder, or the value past its grace, so
			// that another caller may try now rather than after Lease.
			if c.store.Delete(ctx, key, DeleteOptions{CAS: it.CAS}) == nil {
				observe(c.cfg.Observer, key, LetterUnlock)
			}
		}
		return nv, true, err
	case fresh:
		if c.cfg.Beta > 0 && !it.Busy && c.xfetch(now, exp, delta) {
			if nv, ok := c.early(ctx, key, ttl, it, compute); ok {
				return nv, true, nil
			}
		}
		observe(c.cfg.Observer, key, LetterHit)
		return v, true, nil
	case have && !it.Busy && !it.Stale:
		// Expired by its own clock, and nobody holds the right yet.
		if err := c.take(ctx, key, it, now, exp); err != nil {
			return zero, true, err
		}
		return zero, false, nil
	case servable && !c.cfg.WaitFresh:
		// Stale, and someone else recomputes it.
		observe(c.cfg.Observer, key, LetterMiss)
		return v, true, nil
	}
	observe(c.cfg.Observer, key, LetterMiss)
	observe(c.cfg.Observer, key, LetterLockTry)
	return zero, false, nil
}

// take makes the item it, whose value expired at exp by its own clock
// while the store still holds it, stale with a delete guarded by its CAS
// (md with I and C), so that the next read of it, in any process, wins the
// right to recompute it (memcached's W) and the later ones are Busy. When
// several readers take it at once, one delete succeeds and the others
// find the CAS changed, which is as good. The stale item lives at least
// Lease, so that the winner can write it, and at least to the end of the
// value's grace.
func (c *Cache[T]) take(ctx context.Context, key string, it Item, now time.Time, exp time.Duration) error {
	life := c.cfg.Lease
	if exp <= math.MaxInt64-c.cfg.Grace {
		life = max(life, exp+c.cfg.Grace-time.Duration(now.UnixNano()))
	}
	err := c.store.Delete(ctx, key, DeleteOptions{Invalidate: true, CAS: it.CAS, TTL: life})
	if err == nil || errors.Is(err, ErrCASConflict) || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// xfetch reports whether XFetch decides to recompute early:
// now − δ·β·ln(rand) ≥ expiry.
func (c *Cache[T]) xfetch(now time.Time, exp, delta time.Duration) bool {
	if exp == 0 || delta == 0 {
		return false
	}
	r := c.cfg.Rand()
	if r <= 0 {
		return true // ln(0) = −∞: recompute
	}
	early := time.Duration(-float64(delta) * c.cfg.Beta * math.Log(r))
	return time.Duration(now.UnixNano())+early >= exp
}

// maxRecache is the longest Recache threshold early asks for: memcached
// reads a longer one as an absolute time.
const maxRecache = 30 * 24 * time.Hour

// early is XFetch's early recompute of the fresh item it, through the
// store's right to recompute: a second read whose Recache threshold
// exceeds the item's TTL wins it (memcached's mg R flag) unless another
// reader, in any process, holds it already, so that one reader recomputes
// per item and expiry however many draw an early recompute. The winner
// computes and writes with the CAS, which hands the right back; if compute
// fails it rewrites the old value with the CAS to hand it back. ok is
// false when this reader did not recompute: the caller serves it.
func (c *Cache[T]) early(ctx context.Context, key string, ttl time.Duration, it Item, compute func(context.Context) (T, error)) (v T, ok bool) {
	if it.TTL < 0 || it.TTL >= maxRecache {
		return v, false // NoExpiry: nothing to recompute early
	}
	won, found, err := c.store.Get(ctx, key, GetOptions{Recache: it.TTL + time.Second})
	if err != nil || !found || !won.Won {
		return v, false
	}
	observe(c.cfg.Observer, key, LetterMiss)
	observe(c.cfg.Observer, key, LetterLockTry)
	v, err = c.computeAndStore(ctx, key, ttl, won.CAS, compute)
	if err != nil {
		// Serve the old value and hand the right back so that the next
		// reader may try: a write guarded by the CAS makes a new item with
		// the same value and expiry, and an invalidation guarded by the
		// CAS keeps a stale one stale.
		if won.Stale {
			_ = c.store.Delete(ctx, key, DeleteOptions{Invalidate: true, CAS: won.CAS})
		} else {
			_, _ = c.store.Set(ctx, key, won.Value, SetOptions{TTL: max(won.TTL, time.Second), Flags: won.Flags, CAS: won.CAS})
		}
		return v, false
	}
	return v, true
}

// computeAndStore runs compute and writes its value with cas (0: no
// condition). A write rejected because another writer came first, or lost
// to an unavailable store or an ended ctx, still returns the computed
// value.
func (c *Cache[T]) computeAndStore(ctx context.Context, key string, ttl time.Duration, cas uint64, compute func(context.Context) (T, error)) (T, error) {
	var zero T
	start := c.cfg.Now()
	v, err := compute(ctx)
	if err != nil {
		return zero, err
	}
	end := c.cfg.Now()
	payload, err := c.codec.Encode(v)
	if err != nil {
		return zero, err
	}
	var exp time.Duration
	if ttl > 0 {
		exp = time.Duration(end.Add(ttl).UnixMilli()) * time.Millisecond
	}
	b := encodeCached(payload, exp, end.Sub(start))
	stored := ttl
	if ttl > 0 {
		stored += c.cfg.Grace
	}
	_, err = c.store.Set(ctx, key, b, SetOptions{TTL: stored, CAS: cas})
	switch {
	case err == nil:
		observe(c.cfg.Observer, key, LetterWritten)
		observe(c.cfg.Observer, key, LetterUnlock)
	case errors.Is(err, ErrCASConflict), errors.Is(err, ErrNotFound),
		errors.Is(err, ErrUnavailable), isCtxErr(err):
		// A late writer (its lease was lost or the item rewritten), or a
		// value that could not be cached: the caller still gets it.
	default:
		return zero, err
	}
	return v, nil
}

// Get returns the fresh value under key, without computing anything:
// found is false when the value is missing, expired, stale or a
// placeholder. Errors are the store's, the codec's and ErrCorrupt.
//
// Get never keeps the right to recompute a stale value. On memcached any
// read of an invalidated item that nobody has won yet wins it (mg answers
// W whatever its flags), and the memory store does the same; so when Get
// wins, it hands the right back at once with a delete that marks the item
// stale again if its CAS is unchanged (md with I and C, which clears the
// token and keeps the TTL). The next GetOrCompute then wins it, as
// Invalidate says. A GetOrCompute that reads the item between these two
// round trips finds the right taken and returns the stale value (or waits,
// with WaitFresh, until the right is handed back).
func (c *Cache[T]) Get(ctx context.Context, key string) (v T, found bool, err error) {
	it, ok, err := c.store.Get(ctx, key, GetOptions{})
	if err == nil && ok && it.Won {
		err = c.store.Delete(ctx, key, DeleteOptions{Invalidate: true, CAS: it.CAS})
		if errors.Is(err, ErrCASConflict) || errors.Is(err, ErrNotFound) {
			err = nil // rewritten, invalidated again or gone: nothing to hand back
		}
	}
	if err != nil || !ok || len(it.Value) == 0 || it.Stale || it.Won {
		if err == nil {
			observe(c.cfg.Observer, key, LetterMiss)
		}
		return v, false, err
	}
	payload, exp, _, err := decodeCached(it.Value)
	if err != nil {
		return v, false, err
	}
	if exp != 0 && c.cfg.Now().UnixMilli() >= int64(exp/time.Millisecond) {
		observe(c.cfg.Observer, key, LetterMiss)
		return v, false, nil
	}
	if v, err = c.codec.Decode(payload); err != nil {
		return v, false, err
	}
	observe(c.cfg.Observer, key, LetterHit)
	return v, true, nil
}

// Set stores v under key for ttl (zero: no expiry) unconditionally, as a
// computed value would be.
func (c *Cache[T]) Set(ctx context.Context, key string, v T, ttl time.Duration) error {
	if ttl < 0 {
		return ErrNegativeTTL
	}
	payload, err := c.codec.Encode(v)
	if err != nil {
		return err
	}
	var exp time.Duration
	stored := ttl
	if ttl > 0 {
		exp = time.Duration(c.cfg.Now().Add(ttl).UnixMilli()) * time.Millisecond
		stored += c.cfg.Grace
	}
	_, err = c.store.Set(ctx, key, encodeCached(payload, exp, 0), SetOptions{TTL: stored})
	return err
}

// Invalidate marks the value under key stale: the next GetOrCompute wins
// the right to recompute it while the other callers keep getting the stale
// value (or wait, with WaitFresh; and past the value's TTL plus Grace they
// always wait). The stale item lives max(Grace, Lease): if the winner
// writes nothing by then, the next caller misses and computes. Get does
// not take that right (see Get). A missing key is not an error.
func (c *Cache[T]) Invalidate(ctx context.Context, key string) error {
	err := c.store.Delete(ctx, key, DeleteOptions{Invalidate: true, TTL: max(c.cfg.Grace, c.cfg.Lease)})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Delete removes the value under key: the next GetOrCompute misses. A
// missing key is not an error.
func (c *Cache[T]) Delete(ctx context.Context, key string) error {
	err := c.store.Delete(ctx, key, DeleteOptions{})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
