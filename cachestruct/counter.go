package cachestruct

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// CounterConfig configures a Counter. Its zero value is usable: counters
// that never expire and start at zero.
type CounterConfig struct {
	// TTL of a counter, set when it is created; increments never change it
	// (memcached's incr). Zero means never expire.
	TTL time.Duration
	// Load, when not nil, seeds a missing counter from a persistent source
	// (a database row, say): the counter starts at what Load returns instead
	// of zero. Load runs on the goroutine that found the counter missing,
	// possibly in several processes at once; only one seed is stored.
	Load func(ctx context.Context, key string) (uint64, error)
	// Observer, when not nil, receives a LetterHit or LetterMiss for every
	// Get.
	Observer Observer
}

// Counter is a family of decimal counters in a Store, one per key: page
// views, downloads, rate-limit buckets. It is safe for concurrent use by
// multiple goroutines and by many processes sharing the store.
//
// A miss means the counter was never created, expired, or was evicted: the
// count restarts (from zero, or from Load when set). A miss is never an
// error. Counters are data one would rather not lose: a memcached counter
// is lost with its server, so keep the durable total elsewhere (Stats
// flushes counts to a database) and use Load to reseed.
//
// Initialisation is race-free. Without Load an increment is one round
// trip: Store.Incr with Vivify creates a missing counter holding the delta.
// With Load a missing counter is seeded with Store.Set in ModeAdd, of which
// exactly one concurrent caller wins; the losers increment the winner's
// counter. So no increment is lost to the get-then-set race of naive code.
//
// Create a Counter with NewCounter; the zero value is not usable.
type Counter struct {
	store Store
	cfg   CounterConfig
}

// NewCounter returns a Counter over store. It panics if store is nil.
func NewCounter(store Store, cfg CounterConfig) *Counter {
	if store == nil {
		panic("cachestruct: NewCounter with a nil Store")
	}
	return &Counter{store: store, cfg: cfg}
}

// counterSeedTries bounds the loop of seedCounter: each turn ends either
// with a stored add or a read of a counter someone else added; a counter
// evicted between the two can make one turn fail, never many.
const counterSeedTries = 8

// seedCounter returns the decimal counter under key, creating it if it is
// missing, race-free: read reads it (found false: missing); a missing
// counter is added (Store.Set in ModeAdd, with ttl) holding what seed
// returns, and of concurrent seeders the one whose add is stored returns
// its seed while the others read again, so they see (or increment) the
// winner's counter. Counter and Tags seed their keys with it; kind names
// the key's kind in the error of a key that keeps vanishing.
func seedCounter(ctx context.Context, store Store, key string, ttl time.Duration, kind string,
	read func() (v uint64, found bool, err error), seed func() (uint64, error)) (uint64, error) {
	for range counterSeedTries {
		v, found, err := read()
		if err != nil || found {
			return v, err
		}
		if v, err = seed(); err != nil {
			return 0, err
		}
		_, err = store.Set(ctx, key, strconv.AppendUint(nil, v, 10), SetOptions{Mode: ModeAdd, TTL: ttl})
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, ErrNotStored) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("cachestruct: %s %q vanished %d times while being seeded: %w", kind, key, counterSeedTries, ErrUnavailable)
}

// Incr adds delta to the counter under key and returns the new value.
// Increments wrap at 2^64. A missing counter is created (see Counter).
// Errors are ErrDeltaTooLarge for a delta of 2^63 or more, the store's
// (ErrInvalidKey, ErrNotNumber, ErrUnavailable, ctx errors) and Load's.
func (c *Counter) Incr(ctx context.Context, key string, delta uint64) (uint64, error) {
	if delta > math.MaxInt64 {
		return 0, ErrDeltaTooLarge
	}
	return c.add(ctx, key, int64(delta), delta)
}

// Decr subtracts delta from the counter under key and returns the new
// value. Decrements stop at zero (memcached's decr). A missing counter is
// created at zero, or seeded by Load and then decremented.
func (c *Counter) Decr(ctx context.Context, key string, delta uint64) (uint64, error) {
	if delta > math.MaxInt64 {
		return 0, ErrDeltaTooLarge
	}
	return c.add(ctx, key, -int64(delta), 0)
}

// add applies d; fresh is the value a missing counter takes without Load.
func (c *Counter) add(ctx context.Context, key string, d int64, fresh uint64) (uint64, error) {
	if c.cfg.Load == nil {
		// One round trip: memcached's ma with N (vivify) and J (initial).
		return c.store.Incr(ctx, key, d, IncrOptions{Vivify: true, Initial: fresh, TTL: c.cfg.TTL})
	}
	// Missing: seed it from Load with the delta applied; a loser of the
	// add increments the winner's counter.
	incr := func() (uint64, bool, error) {
		n, err := c.store.Incr(ctx, key, d, IncrOptions{})
		if errors.Is(err, ErrNotFound) {
			return 0, false, nil
		}
		return n, true, err
	}
	return seedCounter(ctx, c.store, key, c.cfg.TTL, "counter", incr, func() (uint64, error) {
		base, err := c.cfg.Load(ctx, key)
		return applyDelta(base, d), err
	})
}

// parseCounter parses a stored decimal counter. memcached pads a counter
// decremented in place with trailing spaces ("10" − 1 is "9 "), so
// surrounding white space is ignored. Anything else reports ErrNotNumber.
func parseCounter(b []byte) (uint64, error) {
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, ErrNotNumber
	}
	return n, nil
}

// applyDelta adds d to v as memcached does: wrapping up, flooring at zero
// down.
func applyDelta(v uint64, d int64) uint64 {
	if d >= 0 {
		return v + uint64(d)
	}
	if uint64(-d) > v {
		return 0
	}
	return v - uint64(-d)
}

// Get returns the value of the counter under key. A missing counter reads
// as zero, or, with Load, is seeded from Load (one add, as in Incr) and
// reads as the seed.
func (c *Counter) Get(ctx context.Context, key string) (uint64, error) {
	get := func() (uint64, bool, error) {
		it, found, err := c.store.Get(ctx, key, GetOptions{})
		if err != nil || !found {
			if err == nil {
				observe(c.cfg.Observer, key, LetterMiss)
			}
			return 0, false, err
		}
		observe(c.cfg.Observer, key, LetterHit)
		v, err := parseCounter(it.Value)
		return v, true, err
	}
	if c.cfg.Load == nil {
		v, _, err := get()
		return v, err
	}
	return seedCounter(ctx, c.store, key, c.cfg.TTL, "counter", get, func() (uint64, error) {
		return c.cfg.Load(ctx, key)
	})
}
