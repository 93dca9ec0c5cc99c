package cachestruct

import (
	"context"
	"time"

	"github.com/twine-go/twine/internal/memstore"
)

// MemoryOptions configure NewMemory. The zero value gives the defaults
// documented on each field.
type MemoryOptions struct {
	// MaxBytes bounds the memory the items may use; when a write would
	// exceed it, items are evicted from the cold end of the LRU (see NewMemory
	// for the policy). Each item is charged its key and value lengths plus 128
	// bytes. Zero means 64 MiB.
	MaxBytes int64
	// MaxItemSize is the largest item, measured as memcached 1.6 measures
	// it: the key and value lengths plus 59 bytes, plus 4 when the flags are
	// not zero. With the default of 1 MiB (memcached's -I default) the
	// largest value under a 1-byte key without flags is 1,048,516 bytes, as
	// on the real server. An item that also exceeds MaxBytes (or the share
	// of it a shard gets, see NewMemory) is rejected too. Zero means 1 MiB.
	MaxItemSize int
	// BinaryKeys accepts any non-empty key of at most 186 bytes, as
	// memcached's base64 key mode does (its 250-byte limit applies to the
	// encoded key), in addition to the ordinary text keys.
	BinaryKeys bool
	// Now is the clock that TTLs are measured with. Nil means time.Now,
	// which also follows the fake clock of testing/synctest.
	Now func() time.Time
	// Hook, when not nil, is called after every operation (see Hook).
	Hook Hook
}

// Memory is the in-process Store: it implements the whole contract with
// memcached 1.6's semantics (whole-second TTLs, CAS, add/replace/append,
// leases, recache and stale items, counters), bounded by an LRU on memory.
// It is what tests and single-process programs run on.
//
// Its behaviour was checked against memcached 1.6.18, operation by
// operation (see the method docs for the finer points, and the
// differential tests that run random operation sequences on both). Where
// memcached is not deterministic, or differs from the Store contract,
// Memory picks one documented behaviour:
//
//   - TTLs count from the moment of the write on a continuous clock, so an
//     item lives exactly its TTL (memcached's clock ticks once a second: an
//     item may live up to a second less there). TTLs above 30 days are
//     relative too.
//   - Set with ModeAppend or ModePrepend and Vivify creates a missing item,
//     as the Store contract says (memcached 1.6.18 ignores the flag).
//   - The winner of a lease is told the lease's TTL (memcached reports -1).
//   - Incr always rewrites a number that does not grow in place (see Incr);
//     memcached does so only when no reply still holds the item.
//
// Memory starts no goroutines: expired items are dropped when they are
// touched or reach the cold end of the LRU. Memory is safe for concurrent
// use by multiple goroutines. Create it with NewMemory; the zero value is
// not usable.
type Memory struct {
	s    *memstore.Store // the engine; Memory maps its types and errors
	hook Hook
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory configured by opts.
//
// The items are spread over up to 16 shards, each with its own lock and its
// own LRU bounded by an equal share of MaxBytes; the number of shards is
// the largest power of two that still leaves each shard at least four times
// MaxItemSize, so a small MaxBytes gives a single LRU.
//
// The LRU gives used items a second chance (the CLOCK approximation of
// LRU; memcached 1.6 too only marks a fetched item active, and moves it
// when it nears the cold end). A new item enters at the front, unmarked.
// Any later operation that finds the item (a read, a write, even one that
// fails on a CAS mismatch or because the item exists, an incr, an
// invalidation) marks it used and does not move it, so a hit costs no
// relinking (and none of the cache misses on its neighbours). Eviction looks
// at the item at the cold end: if it was used since it last went to the front
// and is not expired, or if it is the item being written, it goes back to the
// front, unmarked, and the next one is looked at; otherwise it is evicted. So
// an item is evicted only if nobody used it since it last went to the front,
// and among those the one that went to the front longest ago goes first;
// except that one eviction gives at most 32 used items a second chance, and
// then evicts the next item at the cold end even if it was used (so that a
// write never relinks more than 32 items). The bookkeeping of a shard (its
// hash table and pages of entries) keeps the size of the largest number of
// items it has held.
//
// NewMemory panics if MaxBytes or MaxItemSize is negative.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxBytes < 0 || opts.MaxItemSize < 0 {
		panic("cachestruct: NewMemory with a negative MaxBytes or MaxItemSize")
	}
	return &Memory{s: memstore.New(memstore.Options{
		MaxBytes:    opts.MaxBytes,
		MaxItemSize: opts.MaxItemSize,
		BinaryKeys:  opts.BinaryKeys,
		Now:         opts.Now,
	}), hook: opts.Hook}
}

// Get implements Store.Get. A hit marks the item used in the LRU (see
// NewMemory). It reports ErrInvalidKey for a key the store does not accept, or
// ctx's error if ctx is already done.
//
// As on memcached, the Won/Busy state belongs to the item, not to the
// options: any Get of a stale item that nobody has won yet wins it, and any
// Get of an item someone has won (a lease placeholder, a stale item, an item
// won through Recache) reports Busy until the item is written again.
func (m *Memory) Get(ctx context.Context, key string, opt GetOptions) (it Item, found bool, err error) {
	if m.hook != nil {
		return m.hookGet(ctx, key, opt)
	}
	found, err = m.get(ctx, key, opt, &it)
	return it, found, err
}

// get is Get without the hook: it fills in *it on a hit. (The item goes
// by pointer, straight to memstore: an Item passed back through each call
// is copied each time.)
func (m *Memory) get(ctx context.Context, key string, opt GetOptions, it *Item) (bool, error) {
	if ctx.Done() != nil {
		if err := m.ctxErr(ctx, key); err != nil {
			return false, err
		}
	}
	found, err := m.s.Get(key, memstore.GetOptions(opt), (*memstore.Item)(it))
	return found, memoryErr(err)
}

// GetMulti implements Store.GetMulti: each distinct key is read as by Get
// with zero options (so, as on memcached, it may win a stale item). It
// reports ErrInvalidKey if any key is invalid, before reading anything, or
// ctx's error if ctx is already done.
func (m *Memory) GetMulti(ctx context.Context, keys []string) (map[string]Item, error) {
	return m.doGetMulti(ctx, keys, m.hook != nil)
}

// doGetMulti is GetMulti; with hooked set it goes through hookGetMulti,
// which times the operation, calls doGetMulti again without it, and
// reports to the hook. (This way GetMulti is small enough to be inlined: a
// store without a hook pays one comparison.)
func (m *Memory) doGetMulti(ctx context.Context, keys []string, hooked bool) (map[string]Item, error) {
	if hooked {
		return m.hookGetMulti(ctx, keys)
	}
	for _, key := range keys {
		if m.s.CheckKey(key) != nil {
			return nil, ErrInvalidKey
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	items, err := memstore.GetMulti(m.s, keys, func(it memstore.Item) Item { return Item(it) })
	return items, memoryErr(err)
}

// Set implements Store.Set with memcached 1.6.18's outcomes, including
// those the Store documentation leaves open:
//
//   - ModeAdd ignores opt.CAS when the item is missing (it stores) and
//     reports ErrNotStored when it exists.
//   - ModeSet and ModeReplace with opt.CAS report ErrNotFound on a missing
//     item; ModeAppend and ModePrepend report ErrNotStored.
//   - A value that is too large on its own reports ErrValueTooLarge; an
//     append or prepend that would make the item too large reports
//     ErrNotStored and leaves the item as it was.
//   - A negative opt.TTL stores an item that is expired at once: the key
//     reads as a miss afterwards.
//
// Any write clears the item's stale and won states. A bad key is reported
// as ErrInvalidKey whatever else would fail, then a value too large, then
// ctx's error if ctx is already done. Set panics if opt.Mode is not one of
// the SetMode constants.
func (m *Memory) Set(ctx context.Context, key string, value []byte, opt SetOptions) (uint64, error) {
	return m.doSet(ctx, key, value, opt, m.hook != nil)
}

// doSet is Set, hooked or not (see doGetMulti).
func (m *Memory) doSet(ctx context.Context, key string, value []byte, opt SetOptions, hooked bool) (uint64, error) {
	if hooked {
		return m.hookSet(ctx, key, value, opt)
	}
	if opt.Mode > ModePrepend {
		panic("cachestruct: Set with an unknown SetMode")
	}
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			if cerr := m.s.CheckSet(key, value, opt.Flags); cerr != nil {
				return 0, memoryErr(cerr)
			}
			return 0, err
		}
	}
	cas, err := m.s.Set(key, value, memstore.SetOptions{
		Mode: memstore.Mode(opt.Mode), TTL: opt.TTL, Flags: opt.Flags, CAS: opt.CAS, Vivify: opt.Vivify,
	})
	if err != nil {
		return 0, memoryErr(err)
	}
	return cas, nil
}

// Delete implements Store.Delete. With opt.Invalidate the item gets a new
// CAS and becomes stale (its flags and value stay), and the next reader
// wins it even if a reader had won it before; a negative opt.TTL then
// expires it at once. It reports ErrInvalidKey, ErrNotFound,
// ErrCASConflict, or ctx's error if ctx is already done.
func (m *Memory) Delete(ctx context.Context, key string, opt DeleteOptions) error {
	return m.doDelete(ctx, key, opt, m.hook != nil)
}

// doDelete is Delete, hooked or not (see doGetMulti).
func (m *Memory) doDelete(ctx context.Context, key string, opt DeleteOptions, hooked bool) error {
	if hooked {
		return m.hookDelete(ctx, key, opt)
	}
	if ctx.Done() != nil {
		if err := m.ctxErr(ctx, key); err != nil {
			return err
		}
	}
	if err := m.s.Delete(key, memstore.DeleteOptions(opt)); err != nil {
		return memoryErr(err)
	}
	return nil
}

// Incr implements Store.Incr as memcached 1.6.18's ma command does:
//
//   - The stored value is read like C's strtoull: leading white space and
//     one '+' or '-' sign are accepted, the digits must be followed by white
//     space, a NUL byte or the end, and overflowing 2^64−1 is not a number;
//     a number of 2^63 or more is refused if the value holds a '-'. So
//     " 12", "12 ", "+12" and "007" count as numbers; "", "1a", "-12" and
//     "18446744073709551616" report ErrNotNumber.
//   - When the result has no more digits than the stored value, it is
//     written in place and padded with trailing spaces to the old length
//     (decrementing "10" leaves "9 "); the item keeps its stale and won
//     states then. A longer result replaces the value and clears them.
//   - Every increment gives the item a new CAS and keeps its flags and TTL.
//   - A created counter (opt.Vivify) has flags 0; a negative opt.TTL makes
//     it expire at once, though the call still returns opt.Initial.
//
// It reports ErrInvalidKey, ErrNotFound, ErrNotNumber, or ctx's error if
// ctx is already done.
func (m *Memory) Incr(ctx context.Context, key string, delta int64, opt IncrOptions) (uint64, error) {
	return m.doIncr(ctx, key, delta, opt, m.hook != nil)
}

// doIncr is Incr, hooked or not (see doGetMulti).
func (m *Memory) doIncr(ctx context.Context, key string, delta int64, opt IncrOptions, hooked bool) (uint64, error) {
	if hooked {
		return m.hookIncr(ctx, key, delta, opt)
	}
	if ctx.Done() != nil {
		if err := m.ctxErr(ctx, key); err != nil {
			return 0, err
		}
	}
	v, err := m.s.Incr(key, delta, memstore.IncrOptions(opt))
	if err != nil {
		return 0, memoryErr(err)
	}
	return v, nil
}

// ctxErr returns ctx's error if ctx is done, or ErrInvalidKey then if key
// is invalid too: a bad key is reported first. (The operations call it
// only when ctx.Done() is not nil: a context that is never done, like
// Background, then costs one method call.)
func (m *Memory) ctxErr(ctx context.Context, key string) error {
	err := ctx.Err()
	if err != nil && m.s.CheckKey(key) != nil {
		return ErrInvalidKey
	}
	return err
}

// memoryErr maps memstore's errors to this package's sentinels.
func memoryErr(err error) error {
	switch err {
	case nil:
		return nil
	case memstore.ErrInvalidKey:
		return ErrInvalidKey
	case memstore.ErrValueTooLarge:
		return ErrValueTooLarge
	case memstore.ErrNotFound:
		return ErrNotFound
	case memstore.ErrNotStored:
		return ErrNotStored
	case memstore.ErrCASConflict:
		return ErrCASConflict
	case memstore.ErrNotNumber:
		return ErrNotNumber
	}
	return err
}
