package cachestruct

import (
	"context"
	"errors"
	"time"
)

// OnlineConfig configures an Online counter. Its zero value is usable: five
// one-minute slots, the wall clock.
type OnlineConfig struct {
	// Slot is the length of one slot, a whole number of seconds (memcached
	// TTLs are whole seconds). Default one minute.
	Slot time.Duration
	// Slots is N, the number of complete slots Count sums: the window is
	// N×Slot. N+1 keys are in use at any time. Slots == 1 is the
	// two-key "shadow" variant of the memcached articles' online counter: one key fills while the other, complete,
	// is displayed, swapped every Slot by the clock. Default 5.
	Slots int
	// Now returns the current time. Default time.Now. Tests inject a fake
	// clock here.
	Now func() time.Time
}

// Online counts the distinct users seen in the last N slots ("users online
// in the last five minutes") with N+1 rotating, self-expiring counter keys
// <prefix>:<i>, i = slot number mod (N+1), where the slot number is the
// clock's time divided by Slot. Hit increments the current slot's key;
// Count sums the other N keys, the N complete slots before the current
// one, in one multi-get. The active key is computed from the clock, never
// toggled, so every process agrees on it without coordination.
//
// A user is counted once per window: Hit first adds a marker
// <prefix>:u:<user> that lives N slots, and only the caller whose add
// succeeds increments the slot. So the N summed slots never count a user
// twice; a user whose last count falls before the window is counted again
// on their next hit.
//
// TTL alignment: a slot key is created (by the first Hit of its slot) with
// TTL (N+1)×Slot − (now mod Slot), rounded down to whole seconds, so it
// expires just before its index comes back N+1 slots later, whatever the
// moment of its first hit within the slot. A naive TTL of (N+1)×Slot would
// leave the key alive into its next turn and merge two slots' counts.
//
// A miss means nobody was counted in that slot, or the key was evicted:
// Count reads it as zero, so an eviction under-counts for at most one
// window. Online is safe for concurrent use by multiple goroutines and
// processes sharing the store.
//
// Create an Online with NewOnline; the zero value is not usable.
type Online struct {
	slotRing     // N+1 keys of Slot each
	slots    int // N, the complete slots Count sums
	store    Store
	now      func() time.Time
}

// NewOnline returns an online counter with keys under prefix in store. It
// panics if store is nil, if cfg.Slot is not a positive whole number of
// seconds, or if cfg.Slots is negative.
func NewOnline(store Store, prefix string, cfg OnlineConfig) *Online {
	if store == nil {
		panic("cachestruct: NewOnline with a nil Store")
	}
	if cfg.Slots < 0 {
		panic("cachestruct: NewOnline with a negative Slots")
	}
	if cfg.Slots == 0 {
		cfg.Slots = 5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Online{
		slotRing: newSlotRing(prefix, cfg.Slot, cfg.Slots+1, "NewOnline with a Slot"),
		slots:    cfg.Slots, store: store, now: cfg.Now,
	}
}

// SlotTTL returns the TTL a slot key created at t gets: (N+1)×Slot minus the
// time elapsed in t's slot, rounded down to whole seconds (at least one).
func (o *Online) SlotTTL(t time.Time) time.Duration {
	_, into := o.slotOf(t)
	ttl := time.Duration(o.n)*o.period - into
	ttl -= ttl % time.Second
	return max(ttl, time.Second)
}

// Hit records that user was seen now. It counts the user in the current
// slot unless the user was already counted in the last N slots: one round
// trip for a user counted already (the marker's add fails), two otherwise
// (the add, then an increment that creates the slot key if needed). Errors are
// the store's (ErrInvalidKey for a user that does not make a valid key,
// ErrUnavailable, ctx errors).
func (o *Online) Hit(ctx context.Context, user string) error {
	now := o.now()
	_, err := o.store.Set(ctx, o.prefix+":u:"+user, []byte{'1'},
		SetOptions{Mode: ModeAdd, TTL: time.Duration(o.slots) * o.period})
	if errors.Is(err, ErrNotStored) {
		return nil // counted already within the window
	}
	if err != nil {
		return err
	}
	_, err = o.store.Incr(ctx, o.slotKey(o.slot(now)), 1, IncrOptions{Vivify: true, Initial: 1, TTL: o.SlotTTL(now)})
	return err
}

// Count returns the number of distinct users counted in the N complete
// slots before the current one, in one multi-get. Missing keys count zero.
func (o *Online) Count(ctx context.Context) (uint64, error) {
	s := o.slot(o.now())
	keys := make([]string, o.slots)
	for i := range keys {
		keys[i] = o.slotKey(s - 1 - int64(i))
	}
	items, err := getMultiValues(ctx, o.store, keys)
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, it := range items {
		n, err := parseCounter(it.Value)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}
