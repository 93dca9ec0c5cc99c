package cachestruct

import (
	"context"
	"errors"
	"fmt"
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
	// Fencing makes every acquisition take a fencing token (Held.Token)
	// from a counter stored under the lock's key followed by ":fence"
	// (so the key must leave room for those 6 bytes). An acquisition
	// then costs three round trips instead of one; see Lock.
	Fencing bool
}

// fenceSuffix follows the lock's key in the key of its fencing counter.
const fenceSuffix = ":fence"

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
// # Fencing tokens
//
// A holder can be paused (a GC pause, a stopped VM, a slow network) past
// its TTL while another process takes the lock; when it resumes it still
// believes it holds the lock. With LockConfig.Fencing each acquisition
// gets a token, Held.Token, strictly greater than the token of every
// earlier acquisition of the same lock, across the lock's expiry and the
// eviction of its item. Pass the token with every write to the protected
// resource, and have the resource remember the largest token it has seen
// and refuse writes with a smaller one: the paused holder's writes are
// then refused once its successor has written.
//
// The token comes from a counter stored under the lock's key followed by
// ":fence", without TTL. Acquiring is three round trips: the add of the
// lock item, an Incr of the counter while the lock is held, and a Set
// guarded by the add's CAS that confirms the lock was held during the
// increment (and stores the token in the lock's value, next to the
// owner). Holds of a lock never overlap while its item lives, and each
// increment happens inside its hold, so tokens grow in the order of the
// acquisitions; an acquisition that loses the lock before it confirms
// reports ErrLocked.
//
// When the counter itself is gone (evicted, or lost with its server's
// restart or a failover to another server), the next acquisition creates
// it with the current Unix time in nanoseconds, taken from the acquiring
// process's clock. Tokens handed out before were also seeded from a clock
// and then grew by one per acquisition, so the new counter is greater as
// long as the clocks of the processes sharing the lock agree to better
// than the time since the last seeding (minus one nanosecond per
// acquisition since). To be safe regardless of clocks, keep the counter
// from being evicted (memcached sized so that nothing is evicted, or a
// store without eviction) and have the resource refuse tokens that are
// not greater than the largest it has accepted: it then never accepts a
// stale holder's write, at worst it refuses a new holder's writes until
// the counter passes its old value again.
//
// # Keep-alive
//
// Held.KeepAlive extends a held lock in the background for as long as the
// holder needs it, and cancels a context the moment the lock is lost; see
// there.
//
// Create a Lock with NewLock; the zero value is not usable.
type Lock struct {
	store Store
	key   string
	fence string // the fencing counter's key
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
	return &Lock{store: store, key: key, fence: key + fenceSuffix, cfg: cfg}
}

// Key returns the key of the lock.
func (l *Lock) Key() string { return l.key }

// TryLock takes the lock if nobody holds it, in one round trip (three with
// fencing). It reports ErrLocked if somebody does, and otherwise the
// store's errors (ErrInvalidKey, ErrUnavailable, ctx errors).
func (l *Lock) TryLock(ctx context.Context) (*Held, error) {
	owner := l.cfg.Owner
	if owner == "" {
		owner = strconv.FormatUint(rand.Uint64(), 16)
	}
	observe(l.cfg.Observer, l.key, LetterLockTry)
	start := time.Now()
	value := []byte(owner)
	cas, err := l.store.Set(ctx, l.key, value, SetOptions{Mode: ModeAdd, TTL: l.cfg.TTL})
	if errors.Is(err, ErrNotStored) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, err
	}
	h := &Held{lock: l, owner: owner, value: value, cas: cas, expires: start.Add(wholeSeconds(l.cfg.TTL))}
	if l.cfg.Fencing {
		if err := h.fence(ctx); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// fence takes h's fencing token and confirms that h held the lock while
// it did (see Lock). On failure it releases the lock if it can.
func (h *Held) fence(ctx context.Context) error {
	l := h.lock
	token, err := l.store.Incr(ctx, l.fence, 1, IncrOptions{Vivify: true, Initial: uint64(time.Now().UnixNano())})
	if err != nil {
		// Best effort: the lock expires with its TTL otherwise.
		_ = l.store.Delete(context.WithoutCancel(ctx), l.key, DeleteOptions{CAS: h.cas})
		return err
	}
	value := strconv.AppendUint(append(h.value, ' '), token, 10)
	cas, err := l.store.Set(ctx, l.key, value, SetOptions{TTL: l.cfg.TTL, CAS: h.cas})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCASConflict) {
		// The lock expired or was evicted after the add: the increment
		// may have come after a later holder's, so the token is void.
		return ErrLocked
	}
	if err != nil {
		_ = l.store.Delete(context.WithoutCancel(ctx), l.key, DeleteOptions{CAS: h.cas})
		return err
	}
	h.value, h.cas, h.token = value, cas, token
	return nil
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

// sleepCtx waits d or until ctx ends, and returns ctx's cause if it ended.
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
	token uint64

	mu      sync.Mutex
	value   []byte // the lock item's value: the owner, and the token
	cas     uint64
	expires time.Time // when the lock expires at the latest, unless extended
	done    bool
	alive   *keepAlive // the keep-alive, if one was started
}

// Owner returns the owner string stored in the lock.
func (h *Held) Owner() string { return h.owner }

// Token returns the fencing token of this acquisition (see Lock), or 0
// when the Lock was made without LockConfig.Fencing.
func (h *Held) Token() uint64 { return h.token }

// Unlock releases the lock if this holder still holds it. It reports
// ErrNotHeld if the lock expired, was evicted, was taken by another holder
// since, or was already released through h; in every such case nothing is
// deleted. Other errors are the store's; after one of them the lock is still
// held (until its TTL) and Unlock may be called again.
//
// Unlock first stops the keep-alive, if one runs, whatever its outcome: it
// waits for an extension in flight, so that the delete carries the lock's
// latest CAS, and when it returns the keep-alive's goroutine has ended.
func (h *Held) Unlock(ctx context.Context) error {
	h.stopKeepAlive()
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
	start := time.Now()
	cas, err := h.lock.store.Set(ctx, h.lock.key, h.value, SetOptions{TTL: ttl, CAS: h.cas})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCASConflict) {
		h.done = true
		return ErrNotHeld
	}
	if err != nil {
		return err
	}
	h.cas = cas
	h.expires = start.Add(wholeSeconds(ttl))
	return nil
}

// keepAlive is the state of Held.KeepAlive.
type keepAlive struct {
	ctx    context.Context // cancelled when the lock is lost or the keep-alive stops
	cancel context.CancelCauseFunc
	stop   chan struct{} // closed by Unlock
	once   sync.Once     // closes stop
	done   chan struct{} // closed when the goroutine has ended
}

// KeepAlive keeps the lock held until Unlock or until ctx ends, and
// returns a context, derived from ctx, that is cancelled as soon as the
// lock is known lost. Run the critical section under the returned context
// and stop when it is done.
//
// KeepAlive starts one goroutine, which extends the lock to the Lock's TTL
// every third of the TTL (so on memcached, whose clock ticks in whole
// seconds, give such a lock a TTL of 3s or more). Each extension is one
// Extend round trip. The goroutine ends when ctx ends, when Unlock is
// called, or when the lock is lost, and the returned context is then
// cancelled, with these causes (context.Cause):
//
//   - ctx's cause when ctx ended;
//   - context.Canceled after Unlock;
//   - an error wrapping ErrNotHeld when an extension found the lock gone or
//     taken by another holder, or when the lock's TTL passed since the
//     last successful extension while the extensions failed with other
//     errors (a store that stays unreachable); those errors are retried
//     until then, every third of the TTL or sooner. (memcached's clock
//     ticks in whole seconds, so there the item may have expired up to a
//     second before that.)
//
// An extension in flight is not cut short by ctx or Unlock (its outcome
// carries the lock's new CAS), so the goroutine ends within one round
// trip of either.
//
// At most one keep-alive runs per Held: a later call starts nothing and
// returns the first call's context (cancelled if that keep-alive has
// ended). The first call on a Held already released or known lost
// returns a context already cancelled with a cause wrapping ErrNotHeld.
func (h *Held) KeepAlive(ctx context.Context) context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.alive != nil {
		return h.alive.ctx
	}
	kctx, cancel := context.WithCancelCause(ctx)
	k := &keepAlive{ctx: kctx, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{})}
	h.alive = k
	if h.done {
		cancel(fmt.Errorf("%w: KeepAlive after the lock was released or lost", ErrNotHeld))
		close(k.done)
		return kctx
	}
	go h.keepAlive(k)
	return kctx
}

// keepAlive is the goroutine of KeepAlive.
func (h *Held) keepAlive(k *keepAlive) {
	defer close(k.done)
	ttl := wholeSeconds(h.lock.cfg.TTL)
	every := ttl / 3
	h.mu.Lock()
	expires := h.expires
	h.mu.Unlock()
	t := time.NewTimer(min(every, time.Until(expires)))
	defer t.Stop()
	for {
		select {
		case <-k.ctx.Done():
			return
		case <-k.stop:
			k.cancel(context.Canceled)
			return
		case <-t.C:
		}
		select {
		case <-k.stop: // Unlock came with the tick: no more extensions
			k.cancel(context.Canceled)
			return
		default:
		}
		if !time.Now().Before(expires) {
			k.cancel(fmt.Errorf("%w: its ttl passed without a successful extension", ErrNotHeld))
			return
		}
		// The extension is not cut short by ctx or Unlock, only by the
		// lock's expiry: see KeepAlive.
		ectx, cancel := context.WithDeadline(context.WithoutCancel(k.ctx), expires)
		err := h.Extend(ectx, ttl)
		cancel()
		switch {
		case err == nil:
			h.mu.Lock()
			expires = h.expires
			h.mu.Unlock()
			t.Reset(every)
		case errors.Is(err, ErrNotHeld):
			k.cancel(fmt.Errorf("%w: keep-alive: lost", err))
			return
		default:
			// Retry until the lock's TTL has passed.
			t.Reset(max(0, min(every, time.Until(expires))))
		}
	}
}

// stopKeepAlive stops h's keep-alive, if any, and waits until its
// goroutine has ended.
func (h *Held) stopKeepAlive() {
	h.mu.Lock()
	k := h.alive
	h.mu.Unlock()
	if k == nil {
		return
	}
	k.once.Do(func() { close(k.stop) })
	<-k.done
}
