package cachestruct

import (
	"math/bits"
	"sync"
)

// memShard is one lock's worth of items: a hash table from key to entry
// and a doubly linked LRU list through the entries.
//
// The entries live in pages, linked by index rather than by pointer: the
// garbage collector then sees one object per page instead of one per item,
// and relinking an item writes no pointers (so no write barriers while a
// collection runs). Page k holds memFirstPage<<k entries, so an empty
// store costs little and a full one has few pages. Pages never move, so a
// *memEntry stays valid while the shard's lock is held; freed slots are
// reused.
//
// The table is an open-addressing table of 8-byte slots, each the upper
// half of the key's hash and the entry's index (0 is an empty slot: index
// 0 is the LRU sentinel, never an item). The key's hash is computed once
// per operation and picks both the shard (its low bits) and the slot (its
// high bits); the key itself is compared in the item's data, right after
// the value that a read copies next. A hit thus touches the slot, the entry and the item's
// data, where a Go map would add its own hash, its key slot and the key's
// bytes.
type memShard struct {
	mu    sync.Mutex
	table []uint64 // hash>>32 << 32 | entry index; 0 = empty
	count int      // items in the table (and on the LRU list)
	pages [][]memEntry
	used  uint32 // slots handed out so far, free ones included
	free  uint32 // first free slot, linked through next; 0 = none
	bytes int64
	limit int64

	// The shards sit side by side in an array: keep the hot fields of
	// neighbours on different cache lines, or two cores working on two
	// shards would still fight over one line.
	_ [64]byte
}

const (
	// memFirstPage is the number of entries in a shard's first page (a
	// power of two, 1<<memFirstPageBits); each next page is twice as large.
	memFirstPageBits = 3
	memFirstPage     = 1 << memFirstPageBits
	// memFirstTable is the number of slots of a shard's first table; the
	// table doubles when it would be more than three quarters full.
	memFirstTable = 16
)

// memEntry is one item. Entries are owned by their shard and touched only
// under its lock. The item's value and key are one string, never modified
// (a write replaces it), so readers may copy the value outside the lock.
// The value comes first, so that it starts where the allocation does,
// aligned as a plain []byte would be (measured: no difference for 10 KB
// values on this machine's memmove, but nothing lost either).
//
// The fields fill exactly 64 bytes, and pages are powers of two of them,
// so a hit reads one cache line of entry.
//
// Slot 0 of a shard is the sentinel of its LRU list: its next is the
// front (the item that went there last), its prev the cold end.
type memEntry struct {
	data       string // the value, then the key
	klen       uint32 // the key's length at the end of data
	flags      uint32
	cas        uint64
	exp        int64  // Unix nanoseconds; 0 = never
	hash       uint32 // the key's hash>>32: its table slot
	idx        uint32 // this entry's slot
	prev, next uint32 // LRU neighbours' slots
	stale      bool   // invalidated (mg X)
	won        bool   // a reader holds the right to recompute (mg W sent)
	ref        bool   // used since it last reached the front of the LRU
}

func (e *memEntry) key() string   { return e.data[e.valueLen():] }
func (e *memEntry) value() string { return e.data[:e.valueLen()] }
func (e *memEntry) valueLen() int { return len(e.data) - int(e.klen) }

// setData replaces the item's value and key (see memData).
func (e *memEntry) setData(data string, klen int) {
	e.data, e.klen = data, uint32(klen)
}

func (s *memShard) init(limit int64) {
	s.table = make([]uint64, memFirstTable)
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

// charge is what e costs against MaxBytes.
func (e *memEntry) charge() int64 { return int64(len(e.data)) + memEntryOverhead }

// find returns the index of the entry under key, whose hash is h, or 0.
func (s *memShard) find(h uint64, key string) uint32 {
	tag := uint32(h >> 32)
	mask := uint32(len(s.table) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		slot := s.table[i]
		if slot == 0 {
			return 0
		}
		if uint32(slot>>32) == tag {
			if e := s.at(uint32(slot)); e.key() == key {
				return e.idx
			}
		}
	}
}

// tableAdd puts e, not yet in the table, into it, growing the table when
// it would be more than three quarters full.
func (s *memShard) tableAdd(e *memEntry) {
	if 4*(s.count+1) > 3*len(s.table) {
		old := s.table
		s.table = make([]uint64, 2*len(old))
		for _, slot := range old {
			if slot != 0 {
				s.place(slot)
			}
		}
	}
	s.place(uint64(e.hash)<<32 | uint64(e.idx))
	s.count++
}

// place stores slot in the first free table slot from its home on.
func (s *memShard) place(slot uint64) {
	mask := uint32(len(s.table) - 1)
	i := uint32(slot>>32) & mask
	for s.table[i] != 0 {
		i = (i + 1) & mask
	}
	s.table[i] = slot
}

// tableRemove takes e out of the table. The slots after it in its run
// move back to fill the hole where their own home allows (backward-shift
// deletion), so the table needs no tombstones.
func (s *memShard) tableRemove(e *memEntry) {
	mask := uint32(len(s.table) - 1)
	i := e.hash & mask
	for uint32(s.table[i]) != e.idx {
		i = (i + 1) & mask
	}
	for j := i; ; {
		s.table[i] = 0
		for {
			j = (j + 1) & mask
			slot := s.table[j]
			if slot == 0 {
				s.count--
				return
			}
			// The slot at j may fill the hole at i unless its home lies
			// cyclically in (i, j].
			if home := uint32(slot>>32) & mask; (j-home)&mask >= (j-i)&mask {
				s.table[i] = slot
				i = j
				break
			}
		}
	}
}

// lookup returns the live item under key (whose hash is h) and marks it
// used, or nil. An expired item found on the way is removed.
func (s *memShard) lookup(c *memClock, h uint64, key string) *memEntry {
	i := s.find(h, key)
	if i == 0 {
		return nil
	}
	e := s.at(i)
	if e.exp != 0 && e.exp <= c.get() {
		s.remove(e)
		return nil
	}
	e.ref = true
	return e
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
}

// remove unlinks e, forgets it and frees its slot.
func (s *memShard) remove(e *memEntry) {
	s.unlink(e)
	s.tableRemove(e)
	s.bytes -= e.charge()
	idx := e.idx
	*e = memEntry{idx: idx, next: s.free} // drop the data for the GC
	s.free = idx
}

// insert stores item (its data, hash and item fields) as a new entry, at
// the front of the LRU and not yet used, and evicts until the shard is
// within its limit. The caller has checked that the key is not in the
// shard and that the item alone fits.
func (s *memShard) insert(c *memClock, item *memEntry) {
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
	e.ref = false
	s.tableAdd(e)
	s.pushFront(e)
	s.bytes += e.charge()
	s.shrink(c, e)
}

// resize accounts for e's data changing from oldLen bytes and evicts if
// needed.
func (s *memShard) resize(c *memClock, e *memEntry, oldLen int) {
	s.bytes += int64(len(e.data) - oldLen)
	s.shrink(c, e)
}

// memMaxChances is the most used items one eviction gives a second chance
// (moves back to the front) before it evicts the next item at the cold
// end, used or not. It bounds the work of a write that must evict from a
// shard whose items were all read: without it, that write would relink
// every item of the shard under its lock (milliseconds for 100,000 items).
const memMaxChances = 32

// shrink evicts from the cold end of the LRU while the shard is over its
// limit, giving used items a second chance: an item used since it was last
// at the front (and not expired), and keep (the item being written), go
// back to the front, no longer marked used, instead of being evicted; but
// after memMaxChances used items, the next item (if not keep) is evicted
// whether used or not. Then it drops up to two expired items from the cold
// end, so that items nobody reads again do not wait for eviction to be
// reclaimed.
//
// The first loop ends: each turn evicts an item, spends one of a bounded
// number of chances, or moves keep, which reaches the cold end again only
// once every other item was evicted or moved; keep alone fits.
func (s *memShard) shrink(c *memClock, keep *memEntry) {
	chances := memMaxChances
	for s.bytes > s.limit && s.count > 1 {
		victim := s.at(s.sentinel().prev)
		if victim != keep && (chances == 0 || !victim.ref || victim.exp != 0 && victim.exp <= c.get()) {
			s.remove(victim)
			chances = memMaxChances
			continue
		}
		if victim != keep {
			chances--
		}
		victim.ref = false
		s.unlink(victim)
		s.pushFront(victim)
	}
	for range 2 {
		victim := s.at(s.sentinel().prev)
		if victim == keep || victim.idx == 0 || victim.exp == 0 || victim.exp > c.get() {
			break
		}
		s.remove(victim)
	}
}

// each calls f for every item from the front to the cold end of the LRU.
func (s *memShard) each(f func(*memEntry)) {
	for i := s.sentinel().next; i != 0; i = s.at(i).next {
		f(s.at(i))
	}
}
