package cachestruct

import (
	"context"
	"errors"
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// Store is the contract every cachestruct backend implements: a small subset
// of memcached's meta protocol with memcached's semantics. The structures in
// this package are written against Store only, so they run unchanged on the
// in-memory store (NewMemory) and on real memcached (NewMemcached).
//
// Keys are 1 to 250 bytes without spaces or control characters, unless the
// backend was built with binary keys enabled (then any bytes, base64-encoded
// on the wire). An invalid key reports ErrInvalidKey and a value larger than
// the backend's item size reports ErrValueTooLarge; in both cases nothing is
// sent or written.
//
// TTLs are whole seconds as in memcached: a positive TTL below one second is
// rounded up to one second, zero means the item never expires and a negative
// TTL means the item is expired at once. Backends convert TTLs longer than 30
// days to memcached's absolute form themselves.
//
// Every method honours ctx: when ctx ends first the method returns an error
// for which errors.Is(err, ctx.Err()) holds and leaves the backend usable.
// Implementations are safe for concurrent use by multiple goroutines.
type Store interface {
	// Get reads one item. A miss returns found == false and a nil error.
	//
	// With opt.Lease > 0 a miss is not reported: the store creates an empty
	// placeholder item with TTL opt.Lease and returns it with Won set, and
	// later readers of the placeholder get it with Busy set (memcached's
	// mg N flag). With opt.Recache > 0, the first reader that finds less than
	// opt.Recache of TTL left gets Won, later ones Busy (mg R flag). An item
	// marked stale by Delete with Invalidate comes back with Stale set, and
	// the first reader to see it stale gets Won (mg X/W/Z).
	Get(ctx context.Context, key string, opt GetOptions) (item Item, found bool, err error)

	// GetMulti reads many items, as few round trips as the backend allows
	// (one per server for memcached). Misses are absent from the map; a
	// miss is not an error. Keys are validated before anything is sent.
	GetMulti(ctx context.Context, keys []string) (map[string]Item, error)

	// Set stores value under key as opt.Mode says and returns the new CAS
	// value of the item.
	//
	// ModeAdd on an existing item, and ModeReplace, ModeAppend or
	// ModePrepend on a missing item report ErrNotStored (unless opt.Vivify
	// is set for append/prepend: then a missing item is created with opt.TTL).
	// With opt.CAS != 0 the write happens only if the item's CAS still equals
	// opt.CAS: ErrCASConflict if it changed, ErrNotFound if the item is gone.
	Set(ctx context.Context, key string, value []byte, opt SetOptions) (cas uint64, err error)

	// Delete removes key. A missing key reports ErrNotFound. With opt.CAS != 0
	// only the item with that CAS is removed (ErrCASConflict otherwise). With
	// opt.Invalidate the item is not removed but marked stale (and its TTL set
	// to opt.TTL when opt.TTL != 0), so that one reader wins the right to
	// recompute it while the others keep reading the stale value.
	Delete(ctx context.Context, key string, opt DeleteOptions) error

	// Incr adds delta (which may be negative) to the decimal counter stored
	// under key and returns the new value. Increments wrap at 2^64;
	// decrements stop at 0. A missing key reports ErrNotFound unless
	// opt.Vivify is set: then the counter is created with value opt.Initial
	// and TTL opt.TTL and delta is NOT applied (memcached 1.6 behaviour), so
	// the creating call returns opt.Initial. Incr never changes the TTL of an
	// existing counter. A value that is not a decimal number reports
	// ErrNotNumber.
	Incr(ctx context.Context, key string, delta int64, opt IncrOptions) (uint64, error)
}

// wholeSeconds rounds d up to whole seconds, as the Store's TTL rules (and
// memcached) do; the memcached store and Lock share it.
func wholeSeconds(d time.Duration) time.Duration {
	return time.Duration(memcache.WholeSeconds(d)) * time.Second
}

// NoExpiry is the Item.TTL of an item that never expires.
const NoExpiry time.Duration = -1

// TTLUnknown is the Item.TTL of the items a PlainMultiGetter returns: the
// request that read them did not ask for their TTL.
const TTLUnknown time.Duration = -2

// PlainMultiGetter is implemented by a Store that has a cheaper multi-get
// than GetMulti, for callers that need only the items' Value, Flags and
// CAS: its items have TTL TTLUnknown and never Won, Stale or Busy, a stale
// item reads as a fresh one, a lease placeholder as an empty value, and no
// reader takes the right to recompute. Memcached implements it with
// classic gets requests (one per server), which memcached answers in about
// half the time of one mg per key. The structures of this package that
// read only values (Tags, EventLog, Online, Stats) use it when the store
// has it, and GetMulti otherwise.
type PlainMultiGetter interface {
	GetMultiPlain(ctx context.Context, keys []string) (map[string]Item, error)
}

// RateStore is implemented by a Store that can make a RateLimiter decision
// atomically on the server, in one round trip instead of a Get and a
// CAS-guarded Set (and no lost races on a hot key). RateLimiter.Allow uses
// it when the store has it; redisstore implements it with its script.
type RateStore interface {
	// AllowRate makes one GCRA decision on key. It reads the key's value
	// as RateLimiter does: a TAT in Unix nanoseconds, a decimal integer as
	// strconv.ParseInt reads it, in the item format of Get and Set, whatever
	// the item's state (stale or won); tat is 0 when the key is missing.
	// With start = max(tat, now), if start+inc ≤ now+burst it stores
	// next = start+inc as Set would with the item's CAS (the decimal digits
	// of next, flags 0, a new CAS, so that a read-then-CAS-write decision
	// racing with it loses its race) and a TTL of next−now plus one second,
	// rounded up to whole seconds; otherwise it writes nothing. No other
	// write to key comes between its read and its write. It returns the tat
	// it read and whether it wrote.
	//
	// The caller passes 0 ≤ now and 0 < inc ≤ burst ≤ 2^62 (ErrInvalidCost
	// otherwise). AllowRate reports ErrCorrupt when key holds anything but
	// a decimal int64, and otherwise the errors of Get and Set (ErrInvalidKey,
	// ErrUnavailable, ctx's error); after ErrUnavailable or ctx's error the
	// write may have been applied.
	AllowRate(ctx context.Context, key string, now, inc, burst int64) (tat int64, stored bool, err error)
}

// getMultiValues reads keys with s's cheapest multi-get that still returns
// every item's value: GetMultiPlain where s has it, GetMulti otherwise.
func getMultiValues(ctx context.Context, s Store, keys []string) (map[string]Item, error) {
	if p, ok := s.(PlainMultiGetter); ok {
		return p.GetMultiPlain(ctx, keys)
	}
	return s.GetMulti(ctx, keys)
}

// Item is an item read from a Store.
type Item struct {
	// Value is the item's data. It is empty for a lease placeholder.
	Value []byte
	// Flags are the client flags stored with the item.
	Flags uint32
	// CAS is the item's compare-and-swap value, for SetOptions.CAS and
	// DeleteOptions.CAS.
	CAS uint64
	// TTL is the time the item has left to live, in whole seconds, or
	// NoExpiry.
	TTL time.Duration
	// Won reports that this caller holds the right to recompute the item
	// (memcached's W flag): it missed with a lease, it is stale, or its TTL
	// fell below GetOptions.Recache, and no other reader got there first.
	Won bool
	// Stale reports that the item was invalidated by Delete with Invalidate
	// (memcached's X flag).
	Stale bool
	// Busy reports that another reader already won the right to recompute
	// the item (memcached's Z flag).
	Busy bool
}

// GetOptions are the options of Store.Get. The zero value is a plain get.
type GetOptions struct {
	// Lease, when positive, turns a miss into a lease: an empty placeholder
	// with this TTL is created and the caller gets Won.
	Lease time.Duration
	// Recache, when positive, gives Won to the first reader that finds less
	// than this much TTL left on the item.
	Recache time.Duration
}

// SetMode selects how Store.Set treats an existing or missing item.
type SetMode uint8

// The modes of Store.Set, as memcached's set, add, replace, append and
// prepend commands.
const (
	ModeSet SetMode = iota
	ModeAdd
	ModeReplace
	ModeAppend
	ModePrepend
)

// SetOptions are the options of Store.Set. The zero value is a plain set of
// an item that never expires.
type SetOptions struct {
	Mode SetMode
	// TTL of the stored item; see Store for the units and the meaning of
	// zero and negative values. Append and prepend keep the item's TTL
	// unless they create it (Vivify).
	TTL time.Duration
	// Flags are client flags stored with the item (ignored by append and
	// prepend, which keep the item's flags).
	Flags uint32
	// CAS, when non-zero, makes the write conditional on the item's CAS.
	CAS uint64
	// Vivify makes ModeAppend and ModePrepend create a missing item.
	Vivify bool
}

// DeleteOptions are the options of Store.Delete. The zero value deletes
// unconditionally.
type DeleteOptions struct {
	// CAS, when non-zero, makes the delete conditional on the item's CAS.
	CAS uint64
	// Invalidate marks the item stale instead of removing it.
	Invalidate bool
	// TTL, with Invalidate, replaces the TTL of the stale item.
	TTL time.Duration
}

// IncrOptions are the options of Store.Incr. The zero value increments an
// existing counter and reports ErrNotFound on a miss.
type IncrOptions struct {
	// Vivify creates a missing counter with value Initial and TTL TTL.
	Vivify  bool
	Initial uint64
	TTL     time.Duration
}

// Errors reported by Stores and by the structures built on them. Each
// method names the ones it returns.
var (
	// ErrInvalidKey reports an empty key, a key over 250 bytes, or a key with
	// spaces or control characters when binary keys are not enabled.
	ErrInvalidKey = errors.New("cachestruct: invalid key")
	// ErrValueTooLarge reports a value larger than the backend's item size.
	ErrValueTooLarge = errors.New("cachestruct: value too large")
	// ErrNotFound reports a missing item where one is required (Delete,
	// Incr without Vivify, a conditional Set).
	ErrNotFound = errors.New("cachestruct: not found")
	// ErrNotStored reports a Set whose mode's condition failed (add of an
	// existing item, replace/append/prepend of a missing one).
	ErrNotStored = errors.New("cachestruct: not stored")
	// ErrCASConflict reports that the item changed since its CAS was read.
	ErrCASConflict = errors.New("cachestruct: cas conflict")
	// ErrNotNumber reports Incr on a value that is not a decimal number.
	ErrNotNumber = errors.New("cachestruct: value is not a number")
	// ErrUnavailable reports that no server could serve the request (down,
	// refusing connections, ejected, or not answering in time). It wraps the
	// underlying network error.
	ErrUnavailable = errors.New("cachestruct: store unavailable")
	// ErrLocked reports that Lock.TryLock found the lock held by another
	// owner.
	ErrLocked = errors.New("cachestruct: locked")
	// ErrNotHeld reports that Held.Unlock or Held.Extend found the lock no
	// longer held by this holder: it expired, was evicted, was taken by
	// another owner since, or was already released.
	ErrNotHeld = errors.New("cachestruct: lock not held")
	// ErrCorrupt reports a stored value that a structure cannot decode: it
	// was not written by this package's structure of that kind, or it was
	// damaged.
	ErrCorrupt = errors.New("cachestruct: corrupt value")
	// ErrNegativeTTL reports a negative TTL passed to a structure's method.
	ErrNegativeTTL = errors.New("cachestruct: negative ttl")
	// ErrDeltaTooLarge reports an increment or decrement of 2^63 or more
	// (the Store's Incr takes an int64).
	ErrDeltaTooLarge = errors.New("cachestruct: delta too large")
	// ErrInvalidCost reports a negative number of events passed to
	// RateLimiter.Allow, or arguments out of bounds passed to
	// RateStore.AllowRate.
	ErrInvalidCost = errors.New("cachestruct: invalid rate limiter cost")
)
