package memstore

import (
	"math/bits"
	"sync"
)

// shard is one lock's worth of items: a hash table from key to entry and
// a doubly linked LRU list through the entries.
//
// The entries live in pages, linked by index rather than by pointer: the
// garbage collector then sees one object per page instead of one per item,
// and relinking an item writes no pointers (so no write barriers while a
// collection runs). Page k holds firstPage<<k entries, so an empty store
// costs little and a full one has few pages. Pages never move, so an
// *entry stays valid while the shard's lock is held; freed slots are
// reused.
type shard struct {
	mu    sync.Mutex
	table []uint64 // see table.go
	count int      // items in the table (and on the LRU list)
	pages [][]entry
	used  uint32 // slots handed out so far, free ones included
	free  uint32 // first free slot, linked through next; 0 = none
	bytes int64
	limit int64

	// Padding: the shards sit side by side in an array, and two cores
	// working on two neighbouring shards would otherwise share a line
	// (kept with the CAS counter's padding, see Store).
	_ [64]byte
}

const (
	// firstPage is the number of entries in a shard's first page (a power
	// of two, 1<<firstPageBits); each next page is twice as large.
	firstPageBits = 3
	firstPage     = 1 << firstPageBits
)

// entry is one item. Entries are owned by their shard and touched only
// under its lock. The item's value and key are one string, never modified
// (a write replaces it), so readers may copy the value outside the lock.
// The value comes first, so that it starts where the allocation does.
//
// The fields fill exactly 64 bytes, and pages are powers of two of them,
// so a hit reads one cache line of entry.
//
// Slot 0 of a shard is the sentinel of its LRU list: its next is the
// front (the item that went there last), its prev the cold end.
type entry struct {
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

func (e *entry) key() string   { return e.data[e.valueLen():] }
func (e *entry) value() string { return e.data[:e.valueLen()] }
func (e *entry) valueLen() int { return len(e.data) - int(e.klen) }

// setData replaces the item's value and key (see join).
func (e *entry) setData(data string, klen int) {
	e.data, e.klen = data, uint32(klen)
}

// charge is what e costs against MaxBytes.
func (e *entry) charge() int64 { return int64(len(e.data)) + entryOverhead }

func (sh *shard) init(limit int64) {
	sh.table = make([]uint64, firstTable)
	sh.pages = [][]entry{make([]entry, firstPage)}
	sh.used = 1 // the sentinel
	sh.limit = limit
}

// at returns the entry in slot i: with j = i + firstPage, the page is
// given by j's highest bit and the offset by the bits below it.
func (sh *shard) at(i uint32) *entry {
	j := uint(i) + firstPage
	k := bits.Len(j) - firstPageBits - 1
	return &sh.pages[k][j-firstPage<<k]
}

// sentinel returns the LRU list's sentinel.
func (sh *shard) sentinel() *entry { return &sh.pages[0][0] }

// lookup returns the live item under key (whose hash is h) and marks it
// used, or nil. An expired item found on the way is removed.
func (sh *shard) lookup(c *clock, h uint64, key string) *entry {
	i := sh.find(h, key)
	if i == 0 {
		return nil
	}
	e := sh.at(i)
	if e.exp != 0 && e.exp <= c.get() {
		sh.remove(e)
		return nil
	}
	if !e.ref { // kept: a hit then writes nothing, so two cores reading a hot item do not bounce its line
		e.ref = true
	}
	return e
}

// remove unlinks e, forgets it and frees its slot.
func (sh *shard) remove(e *entry) {
	sh.unlink(e)
	sh.tableRemove(e)
	sh.bytes -= e.charge()
	idx := e.idx
	*e = entry{idx: idx, next: sh.free} // drop the data for the GC
	sh.free = idx
}

// insert stores item (its data, hash and item fields) as a new entry, at
// the front of the LRU and not yet used, and evicts until the shard is
// within its limit. The caller has checked that the key is not in the
// shard and that the item alone fits.
func (sh *shard) insert(c *clock, item *entry) {
	idx := sh.free
	if idx != 0 {
		sh.free = sh.at(idx).next
	} else {
		idx = sh.used
		sh.used++
		if k := len(sh.pages); uint(idx)+firstPage == firstPage<<k {
			sh.pages = append(sh.pages, make([]entry, firstPage<<k))
		}
	}
	e := sh.at(idx)
	*e = *item
	e.idx = idx
	e.ref = false
	sh.tableAdd(e)
	sh.pushFront(e)
	sh.bytes += e.charge()
	sh.shrink(c, e)
}

// resize accounts for e's data changing from oldLen bytes and evicts if
// needed.
func (sh *shard) resize(c *clock, e *entry, oldLen int) {
	sh.bytes += int64(len(e.data) - oldLen)
	sh.shrink(c, e)
}
