package cachestruct

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// MemoryOptions configure NewMemory. The zero value gives the defaults
// documented on each field.
type MemoryOptions struct {
	// MaxBytes bounds the memory the items may use; when a write would
	// exceed it, the least recently used items are evicted. Each item is
	// charged its key and value lengths plus 128 bytes. Zero means 64 MiB.
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
}

const (
	// memDefaultMaxBytes is MemoryOptions.MaxBytes when zero.
	memDefaultMaxBytes = 64 << 20
	// memEntryOverhead is what Memory charges against MaxBytes for each
	// item on top of its key and value: the entry, its LRU links and its
	// map slot.
	memEntryOverhead = 128
	// memMaxShards is the most shards a Memory uses; each has its own lock,
	// map and LRU list.
	memMaxShards = 16
)

// Memory is the in-process Store: it implements the whole contract with
// memcached 1.6's semantics (whole-second TTLs, CAS, add/replace/append,
// leases, recache and stale items, counters), bounded by an LRU on memory.
// It is what tests and single-process programs run on.
//
// Memory starts no goroutines: expired items are dropped when they are
// touched or reach the cold end of the LRU. Memory is safe for concurrent
// use by multiple goroutines. Create it with NewMemory; the zero value is
// not usable.
type Memory struct {
	now         func() time.Time
	maxItemSize int
	binaryKeys  bool
	seed        maphash.Seed
	mask        uint64
	cas         atomic.Uint64
	shards      []memShard
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory configured by opts.
//
// The items are spread over up to 16 shards, each with its own lock and its
// own LRU bounded by an equal share of MaxBytes; the number of shards is
// the largest power of two that still leaves each shard at least four times
// MaxItemSize, so a small MaxBytes gives a single, exact LRU.
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

// shardOf returns the shard that holds key.
func (m *Memory) shardOf(key string) *memShard {
	if m.mask == 0 {
		return &m.shards[0]
	}
	return &m.shards[maphash.String(m.seed, key)&m.mask]
}

// nextCAS returns a fresh CAS value: unique and increasing over the store.
func (m *Memory) nextCAS() uint64 { return m.cas.Add(1) }

// fits reports whether an item fits both the item size and the shard.
func (m *Memory) fits(s *memShard, key string, valueLen int, flags uint32) bool {
	return memItemSize(len(key), valueLen, flags) <= m.maxItemSize &&
		memCharge(key, valueLen) <= s.limit
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

// memCtxErr returns ctx's error, if any, before an operation starts.
func memCtxErr(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}

// memShard is one lock's worth of items with their LRU list.
type memShard struct {
	mu    sync.Mutex
	items map[string]*memEntry
	lru   memEntry // sentinel: lru.next is the most recently used item
	bytes int64
	limit int64
	ticks uint64 // moves to the front of the LRU so far
}

// memEntry is one item. Entries are owned by their shard and touched only
// under its lock. The bytes of value are never modified once stored (a
// write replaces the slice), so readers may copy them outside the lock.
type memEntry struct {
	key        string
	value      []byte
	flags      uint32
	cas        uint64
	exp        int64  // Unix nanoseconds; 0 = never
	stale      bool   // invalidated (mg X)
	won        bool   // a reader holds the right to recompute (mg W sent)
	tick       uint64 // the shard's ticks when e last moved to the front
	prev, next *memEntry
}

func (s *memShard) init(limit int64) {
	s.items = make(map[string]*memEntry)
	s.lru.prev, s.lru.next = &s.lru, &s.lru
	s.limit = limit
}

// memCharge is what an item costs against MaxBytes.
func memCharge(key string, valueLen int) int64 {
	return int64(len(key)) + int64(valueLen) + memEntryOverhead
}

// lookup returns the live item under key and bumps it in the LRU, or nil.
// An expired item found on the way is removed.
func (s *memShard) lookup(c *memClock, key string) *memEntry {
	e := s.items[key]
	if e == nil {
		return nil
	}
	if e.exp != 0 && e.exp <= c.get() {
		s.remove(e)
		return nil
	}
	s.bump(e)
	return e
}

// bump moves e to the hot end of the LRU, unless it is still in the
// hottest quarter: fewer than a quarter of the items moved ahead of it
// since it was last moved. Like memcached, which bumps an item at most once
// a minute, this spares the hot items the cache misses of relinking them
// on every read, at the price of an LRU order that is exact only outside
// that quarter (and exactly LRU for shards of fewer than 4 items).
func (s *memShard) bump(e *memEntry) {
	if s.ticks-e.tick <= uint64(len(s.items)/4) {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	s.pushFront(e)
}

func (s *memShard) pushFront(e *memEntry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
	s.ticks++
	e.tick = s.ticks
}

// remove unlinks e and forgets it.
func (s *memShard) remove(e *memEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(s.items, e.key)
	s.bytes -= memCharge(e.key, len(e.value))
}

// insert stores a new entry under its key, replacing any other, and evicts
// from the cold end until the shard is within its limit. The caller has
// checked that e alone fits.
func (s *memShard) insert(c *memClock, e *memEntry) {
	if old := s.items[e.key]; old != nil {
		s.remove(old)
	}
	s.items[e.key] = e
	s.pushFront(e)
	s.bytes += memCharge(e.key, len(e.value))
	s.shrink(c, e)
}

// resize accounts for e's value changing from oldLen bytes and evicts if
// needed.
func (s *memShard) resize(c *memClock, e *memEntry, oldLen int) {
	s.bytes += int64(len(e.value) - oldLen)
	s.shrink(c, e)
}

// shrink evicts least recently used items (never keep) while the shard is
// over its limit, and drops up to two expired items from the cold end, so
// that items nobody reads again do not wait for eviction to be reclaimed.
func (s *memShard) shrink(c *memClock, keep *memEntry) {
	for s.bytes > s.limit {
		victim := s.lru.prev
		if victim == keep || victim == &s.lru {
			break
		}
		s.remove(victim)
	}
	for range 2 {
		victim := s.lru.prev
		if victim == keep || victim == &s.lru || victim.exp == 0 || victim.exp > c.get() {
			break
		}
		s.remove(victim)
	}
}

// snapshot returns the item as a reader sees it. Its Value is the entry's
// own slice: the caller copies it after releasing the shard's lock, which
// is safe because stored values are never modified, only replaced.
func (e *memEntry) snapshot(c *memClock) Item {
	return Item{Value: e.value, Flags: e.flags, CAS: e.cas, TTL: memLeft(c, e.exp), Stale: e.stale}
}

// memOwnValue gives the caller of a read its private copy of the value
// (never nil on a hit, even when empty).
func memOwnValue(it *Item) {
	it.Value = append(make([]byte, 0, len(it.Value)), it.Value...)
}
