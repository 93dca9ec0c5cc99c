package cachestruct

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// LockConfig configures a Lock. Its zero value is usable: the defaults are
// given per field.
type LockConfig struct {
	// TTL is how long a lock lives unless extended or released: longer than
	// any critical section, short enough that a crashed holder's lock
	// frees itself. Default 10s; below one second counts as one second.
	TTL time.Duration
	// Owner is stored as the lock's value, to tell who holds it when
	// debugging. Default: a random 64-bit hexadecimal string (math/rand/v2)
	// per acquisition.
	Owner string
	// Poll is the first delay between two tries of Lock; the delay doubles
	// on each failed try up to MaxPoll, and each delay is jittered
	// uniformly within ±50% so that waiters do not try in step. Defaults
	// 5ms and 100ms.
	Poll, MaxPoll time.Duration
	// Rand returns uniform numbers in [0, 1) for the jitter. Default
	// math/rand/v2's Float64. It must be safe for concurrent use.
	Rand func() float64
	// Observer, when not nil, receives LetterLockTry for every try and
	// LetterUnlock for every release.
	Observer Observer
}

// Lock is a distributed mutual-exclusion lock on one key of a Store, with a
// TTL and an owner token. It is safe for concurrent use by multiple
// goroutines, and by many processes sharing the store: at most one caller
// anywhere holds it at a time, as long as the store keeps the key.
//
// Acquiring is one round trip: Store.Set in ModeAdd, which returns the new
// item's CAS; that CAS is the owner token kept in the returned Held.
// Releasing is one round trip too: Store.Delete with the CAS, so a holder
// whose lock expired and was taken by someone else gets ErrNotHeld and never
// releases the new holder's lock (the classic bug of a plain delete).
//
// A miss means nobody holds the lock: it was released, it expired, or it
// was evicted or lost with its server. The last two break mutual exclusion
// (two holders at once), as with any memcached lock: use Lock for
// efficiency (avoid duplicate work), not where a second holder would
// corrupt data, or fence writes with the token.
//
// Create a Lock with NewLock; the zero value is not usable.
type Lock struct {
	store Store
	key   string
	cfg   LockConfig
}

// NewLock returns the lock on key in store. It panics if store is nil or a
// duration in cfg is negative.
func NewLock(store Store, key string, cfg LockConfig) *Lock {
	if store == nil {
		panic("cachestruct: NewLock with a nil Store")
	}
	if cfg.TTL < 0 || cfg.Poll < 0 || cfg.MaxPoll < 0 {
		panic("cachestruct: NewLock with a negative duration")
	}
	if cfg.TTL == 0 {
		cfg.TTL = 10 * time.Second
	}
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	if cfg.MaxPoll == 0 {
		cfg.MaxPoll = 100 * time.Millisecond
	}
	if cfg.MaxPoll < cfg.Poll {
		cfg.MaxPoll = cfg.Poll
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Lock{store: store, key: key, cfg: cfg}
}

// Key returns the key of the lock.
func (l *Lock) Key() string { return l.key }

// TryLock takes the lock if nobody holds it, in one round trip. It reports
// ErrLocked if somebody does, and otherwise the store's errors
// (ErrInvalidKey, ErrUnavailable, ctx errors).
func (l *Lock) TryLock(ctx context.Context) (*Held, error) {
	owner := l.cfg.Owner
	if owner == "" {
		owner = strconv.FormatUint(rand.Uint64(), 16)
	}
	observe(l.cfg.Observer, l.key, LetterLockTry)
	cas, err := l.store.Set(ctx, l.key, []byte(owner), SetOptions{Mode: ModeAdd, TTL: l.cfg.TTL})
	if errors.Is(err, ErrNotStored) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, err
	}
	return &Held{lock: l, owner: owner, cas: cas}, nil
}

// Lock takes the lock, waiting while somebody else holds it: it tries,
// then sleeps a jittered delay growing from Poll to MaxPoll, and tries
// again, until it holds the lock or ctx ends. It returns ctx's error
// (errors.Is(err, context.DeadlineExceeded) or context.Canceled) when ctx
// ends first, and the store's other errors at once.
func (l *Lock) Lock(ctx context.Context) (*Held, error) {
	delay := l.cfg.Poll
	for {
		h, err := l.TryLock(ctx)
		if !errors.Is(err, ErrLocked) {
			return h, err
		}
		if err := sleepCtx(ctx, jitter(delay, l.cfg.Rand)); err != nil {
			return nil, err
		}
		delay = min(2*delay, l.cfg.MaxPoll)
	}
}

// jitter spreads d uniformly over [d/2, 3d/2) with rnd.
func jitter(d time.Duration, rnd func() float64) time.Duration {
	return d/2 + time.Duration(rnd()*float64(d))
}

// sleepCtx waits d or until ctx ends, and then returns ctx.Err() if ctx
// ended.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Held is a held Lock: the proof of ownership (the CAS of the lock item the
// holder wrote), returned by Lock.TryLock and Lock.Lock; the zero value is
// not usable. It is safe for concurrent use by multiple goroutines.
type Held struct {
	lock  *Lock
	owner string

	mu   sync.Mutex
	cas  uint64
	done bool
}

// Owner returns the owner string stored in the lock.
func (h *Held) Owner() string { return h.owner }

// Unlock releases the lock if this holder still holds it. It reports
// ErrNotHeld if the lock expired, was evicted, was taken by another holder
// since, or was already released through h; in every such case nothing is
// deleted. Other errors are the store's; after one of them the lock is still
// held (until its TTL) and Unlock may be called again.
func (h *Held) Unlock(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return ErrNotHeld
	}
	err := h.lock.store.Delete(ctx, h.lock.key, DeleteOptions{CAS: h.cas})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCASConflict) {
		h.done = true
		return ErrNotHeld
	}
	if err != nil {
		return err
	}
	h.done = true
	observe(h.lock.cfg.Observer, h.lock.key, LetterUnlock)
	return nil
}

// Extend sets the remaining life of the lock to ttl if this holder still
// holds it, in one round trip (a Store.Set guarded by the CAS); a ttl that
// is not positive means the Lock's TTL. It reports ErrNotHeld as Unlock
// does, and the store's other errors.
func (h *Held) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = h.lock.cfg.TTL
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return ErrNotHeld
	}
	cas, err := h.lock.store.Set(ctx, h.lock.key, []byte(h.owner), SetOptions{TTL: ttl, CAS: h.cas})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCASConflict) {
		h.done = true
		return ErrNotHeld
	}
	if err != nil {
		return err
	}
	h.cas = cas
	return nil
}
