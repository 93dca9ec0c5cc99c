package cachestruct

import (
	"math/bits"
	"strings"
	"sync"
)

// memShard is one lock's worth of items: a map from key to entry and a
// doubly linked LRU list through the entries.
//
// The entries live in pages, linked by index rather than by pointer: the
// garbage collector then sees one object per page instead of one per item,
// and relinking an item writes no pointers (so no write barriers while a
// collection runs). Page k holds memFirstPage<<k entries, so an empty
// store costs little and a full one has few pages. Pages never move, so a
// *memEntry stays valid while the shard's lock is held; freed slots are
// reused.
type memShard struct {
	mu    sync.Mutex
	items map[string]uint32 // key → entry index
	pages [][]memEntry
	used  uint32 // slots handed out so far, free ones included
	free  uint32 // first free slot, linked through next; 0 = none
	bytes int64
	limit int64
	ticks uint64 // moves to the front of the LRU so far

	// The shards sit side by side in an array: keep the hot fields of
	// neighbours on different cache lines, or two cores working on two
	// shards would still fight over one line.
	_ [64]byte
}

// memFirstPage is the number of entries in a shard's first page (a power
// of two, 1<<memFirstPageBits); each next page is twice as large.
const (
	memFirstPageBits = 3
	memFirstPage     = 1 << memFirstPageBits
)

// memEntry is one item. Entries are owned by their shard and touched only
// under its lock. The bytes of value are never modified once stored (a
// write replaces the slice), so readers may copy them outside the lock.
//
// Slot 0 of a shard is the sentinel of its LRU list: its next is the most
// recently used item, its prev the least.
type memEntry struct {
	key        string
	value      []byte
	flags      uint32
	cas        uint64
	exp        int64  // Unix nanoseconds; 0 = never
	stale      bool   // invalidated (mg X)
	won        bool   // a reader holds the right to recompute (mg W sent)
	tick       uint64 // the shard's ticks when e last moved to the front
	idx        uint32 // this entry's slot
	prev, next uint32 // LRU neighbours' slots
}

func (s *memShard) init(limit int64) {
	s.items = make(map[string]uint32)
	s.pages = [][]memEntry{make([]memEntry, memFirstPage)}
	s.used = 1 // the sentinel
	s.limit = limit
}

// at returns the entry in slot i: with j = i + memFirstPage, the page is
// given by j's highest bit and the offset by the bits below it.
func (s *memShard) at(i uint32) *memEntry {
	j := uint(i) + memFirstPage
	k := bits.Len(j) - memFirstPageBits - 1
	return &s.pages[k][j-memFirstPage<<k]
}

// sentinel returns the LRU list's sentinel.
func (s *memShard) sentinel() *memEntry { return &s.pages[0][0] }

// memCharge is what an item costs against MaxBytes.
func memCharge(key string, valueLen int) int64 {
	return int64(len(key)) + int64(valueLen) + memEntryOverhead
}

// lookup returns the live item under key and bumps it in the LRU, or nil.
// An expired item found on the way is removed.
func (s *memShard) lookup(c *memClock, key string) *memEntry {
	i, ok := s.items[key]
	if !ok {
		return nil
	}
	e := s.at(i)
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
	s.unlink(e)
	s.pushFront(e)
}

func (s *memShard) unlink(e *memEntry) {
	s.at(e.prev).next = e.next
	s.at(e.next).prev = e.prev
}

func (s *memShard) pushFront(e *memEntry) {
	head := s.sentinel()
	e.prev, e.next = 0, head.next
	s.at(head.next).prev = e.idx
	head.next = e.idx
	s.ticks++
	e.tick = s.ticks
}

// remove unlinks e, forgets it and frees its slot.
func (s *memShard) remove(e *memEntry) {
	s.unlink(e)
	delete(s.items, e.key)
	s.bytes -= memCharge(e.key, len(e.value))
	idx := e.idx
	*e = memEntry{idx: idx, next: s.free} // drop the key and value for the GC
	s.free = idx
}

// insert stores a copy of item under its key, replacing any other, at the
// hot end of the LRU, and evicts from the cold end until the shard is
// within its limit. It returns the stored entry. The caller has checked
// that the item alone fits.
func (s *memShard) insert(c *memClock, item *memEntry) *memEntry {
	if i, ok := s.items[item.key]; ok {
		s.remove(s.at(i))
	}
	idx := s.free
	if idx != 0 {
		s.free = s.at(idx).next
	} else {
		idx = s.used
		s.used++
		if k := len(s.pages); uint(idx)+memFirstPage == memFirstPage<<k {
			s.pages = append(s.pages, make([]memEntry, memFirstPage<<k))
		}
	}
	e := s.at(idx)
	*e = *item
	e.idx = idx
	// The caller's key may be a slice of a larger string: keep only the
	// bytes that are charged for.
	e.key = strings.Clone(item.key)
	s.items[e.key] = idx
	s.pushFront(e)
	s.bytes += memCharge(e.key, len(e.value))
	s.shrink(c, e)
	return e
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
		victim := s.at(s.sentinel().prev)
		if victim == keep || victim.idx == 0 {
			break
		}
		s.remove(victim)
	}
	for range 2 {
		victim := s.at(s.sentinel().prev)
		if victim == keep || victim.idx == 0 || victim.exp == 0 || victim.exp > c.get() {
			break
		}
		s.remove(victim)
	}
}

// each calls f for every item from the most to the least recently used.
func (s *memShard) each(f func(*memEntry)) {
	for i := s.sentinel().next; i != 0; i = s.at(i).next {
		f(s.at(i))
	}
}
