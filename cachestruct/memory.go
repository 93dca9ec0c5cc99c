package cachestruct

import (
	"context"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twine-go/twine/internal/memcache"
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

const (
	// memDefaultMaxBytes is MemoryOptions.MaxBytes when zero.
	memDefaultMaxBytes = 64 << 20
	// memEntryOverhead is what Memory charges against MaxBytes for each
	// item on top of its key and value: the entry (64 bytes, LRU links
	// included), its hash table slot and the allocation's rounding.
	memEntryOverhead = 128
	// memMaxShards is the most shards a Memory uses; each has its own lock,
	// hash table and LRU list.
	memMaxShards = 16
)

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
	// Read by every operation, written only by NewMemory.
	now         func() time.Time
	maxItemSize int
	binaryKeys  bool
	seed        maphash.Seed
	mask        uint64
	shards      []memShard
	hook        Hook

	// The CAS counter, written by every write, has cache lines of its own:
	// next to the fields above, each write on one core would make the
	// next operation on every other core miss them.
	_   [64]byte
	cas atomic.Uint64
	_   [56]byte
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
	if opts.MaxBytes == 0 {
		opts.MaxBytes = memDefaultMaxBytes
	}
	if opts.MaxItemSize == 0 {
		opts.MaxItemSize = memcache.DefaultMaxItemSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := 1
	for n < memMaxShards && opts.MaxBytes/int64(2*n) >= 4*int64(opts.MaxItemSize) {
		n *= 2
	}
	m := &Memory{
		now:         opts.Now,
		maxItemSize: opts.MaxItemSize,
		binaryKeys:  opts.BinaryKeys,
		seed:        maphash.MakeSeed(),
		mask:        uint64(n - 1),
		shards:      make([]memShard, n),
		hook:        opts.Hook,
	}
	for i := range m.shards {
		m.shards[i].init(opts.MaxBytes / int64(n))
	}
	return m
}

// memItemSize is the size memcached 1.6 gives an item (see
// memcache.ItemOverhead); it fits when this is at most the item size.
func memItemSize(keyLen, valueLen int, flags uint32) int {
	n := keyLen + valueLen + memcache.ItemOverhead
	if flags != 0 {
		n += 4
	}
	return n
}

// hash returns key's hash: its low bits pick the shard, its high bits the
// slot in the shard's table.
func (m *Memory) hash(key string) uint64 { return maphash.String(m.seed, key) }

// shardOf returns the shard that holds a key of hash h.
func (m *Memory) shardOf(h uint64) *memShard { return &m.shards[h&m.mask] }

// nextCAS returns a fresh CAS value: unique and increasing over the store.
func (m *Memory) nextCAS() uint64 { return m.cas.Add(1) }

// fits reports whether an item fits both the item size and the shard.
func (m *Memory) fits(s *memShard, keyLen, valueLen int, flags uint32) bool {
	return memItemSize(keyLen, valueLen, flags) <= m.maxItemSize &&
		int64(keyLen)+int64(valueLen)+memEntryOverhead <= s.limit
}

// checkKey reports ErrInvalidKey for a key the store does not accept. The
// rule is the memcached client's, so that both backends accept the same
// keys.
func (m *Memory) checkKey(key string) error {
	if memcache.CheckKey(key, m.binaryKeys) != nil {
		return ErrInvalidKey
	}
	return nil
}

// memClock reads the clock once per operation, lazily: most items have no
// expiry and never need it.
type memClock struct {
	now func() time.Time
	ns  int64
	ok  bool
}

func (c *memClock) get() int64 {
	if !c.ok {
		c.ns = c.now().UnixNano()
		c.ok = true
	}
	return c.ns
}

// memSeconds converts a TTL or a recache threshold to whole seconds as
// memcached does: a positive fraction of a second rounds up.
func memSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}

// memExpiry returns the deadline (Unix nanoseconds) of an item written with
// ttl, 0 for never; expired reports a negative ttl.
func memExpiry(c *memClock, ttl time.Duration) (deadline int64, expired bool) {
	switch {
	case ttl == 0:
		return 0, false
	case ttl < 0:
		return 0, true
	}
	// A deadline beyond the year 2262 cannot be represented: never, in
	// practice.
	const maxSeconds = (1<<63 - 1) / int64(time.Second)
	s := memSeconds(ttl)
	if s > maxSeconds {
		return 0, false
	}
	d := s * int64(time.Second)
	now := c.get()
	if now > 1<<63-1-d {
		return 0, false
	}
	return now + d, false
}

// memLeft returns the TTL left of an item with deadline exp in whole seconds,
// rounded up, as memcached's mg t flag reports it; NoExpiry for none.
func memLeft(c *memClock, exp int64) time.Duration {
	if exp == 0 {
		return NoExpiry
	}
	d := exp - c.get()
	s := d / int64(time.Second)
	if d%int64(time.Second) > 0 {
		s++
	}
	return time.Duration(s) * time.Second
}

// precheck is what Get, Incr and Delete check before they take a lock:
// the key's length, so that a huge key is not hashed, and ctx. The key's
// bytes are checked only on a miss (a key found in the store was valid
// when it was stored) or when another error is due: a bad key is reported
// first.
func (m *Memory) precheck(ctx context.Context, key string) error {
	if len(key) == 0 || len(key) > memcache.MaxKeyLen {
		if err := m.checkKey(key); err != nil {
			return err
		}
	}
	if ctx.Done() != nil {
		if err := memCtxErr(ctx); err != nil {
			if kerr := m.checkKey(key); kerr != nil {
				return kerr
			}
			return err
		}
	}
	return nil
}

// memCtxErr returns ctx's error, if any, before an operation starts. (Get
// and Set call it only when ctx.Done() is not nil: a context that is never
// done, like Background, then costs one method call.)
func memCtxErr(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}

// snapshot returns the item as a reader sees it, but for its Value: the
// caller copies e.value() after releasing the shard's lock, which is safe
// because stored data is never modified, only replaced.
func (e *memEntry) snapshot(c *memClock) Item {
	return Item{Flags: e.flags, CAS: e.cas, TTL: memLeft(c, e.exp), Stale: e.stale}
}

// memClone returns a reader's private copy of a stored value, never nil
// (even when empty): one allocation that is not zeroed first.
func memClone(v string) []byte {
	if v == "" {
		return []byte{}
	}
	return []byte(v)
}

// memSmallData is the largest item (value and key) memData joins on the
// stack.
const memSmallData = 256

// memData returns an item's value and key as one string, in one fresh
// allocation: a hit compares the key and copies the value from the same
// cache lines (for small values), and the key never pins a larger string
// of the caller's.
func memData(key string, value []byte) string {
	if n := len(value) + len(key); n <= memSmallData {
		// Joined on the stack, then copied into the string: a second copy
		// of a few hundred bytes costs less than a strings.Builder (its
		// checks, and a write barrier while the GC runs): 20-40 ns less
		// for a 100-byte value, measured in a loop of its own.
		var tmp [memSmallData]byte
		copy(tmp[copy(tmp[:], value):], key)
		return string(tmp[:n])
	}
	var b strings.Builder
	b.Grow(len(value) + len(key))
	b.Write(value)
	b.WriteString(key)
	return b.String()
}
