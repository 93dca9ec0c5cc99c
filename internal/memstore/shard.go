package memstore

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// shard is one lock's worth of items: a hash table from key to entry and
// a doubly linked LRU list through the entries.
//
// Writers hold the lock; a plain hit reads without it (see Store.Get), so
// what such a reader touches is read and written atomically: the table
// (table.go), which holds the items' records, the page directory and the
// entries' ref marks. The rest (LRU links, counts) belongs to the lock
// alone.
//
// The entries live in pages, linked by index rather than by pointer: the
// garbage collector then sees one object per page instead of one per item,
// and relinking an item writes no pointers (so no write barriers while a
// collection runs). Page k holds firstPage<<k entries, so an empty store
// costs little and a full one has few pages. Pages never move and are
// never freed, so an *entry stays valid for good; freed slots are reused.
type shard struct {
	mu    sync.Mutex
	table atomic.Pointer[table] // see table.go
	count int                   // items in the table (and on the LRU list)
	pages [maxPages]atomic.Pointer[entry]
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
	// maxPages is enough pages for every uint32 slot index.
	maxPages = 32 - firstPageBits
)

// entry is one item's place in its shard's LRU list (its record, the
// item itself, lives in its table slot: see table.go). Lock-free hits set
// ref; the other fields belong to the lock.
//
// The fields and padding fill exactly 32 bytes, and pages are powers of
// two of them, so an entry never straddles two cache lines.
//
// Slot 0 of a shard is the sentinel of its LRU list: its next is the
// front (the item that went there last), its prev the cold end.
type entry struct {
	ref        atomic.Bool // used since it last reached the front of the LRU
	hash       uint32      // the key's hash>>32: its table slot
	exp        int64       // the record's expiry, for the LRU's sweeps
	idx        uint32      // this entry's index in the pages
	prev, next uint32      // LRU neighbours' slots
	size       uint32      // the record's dataLen, for the byte count
}

// markUsed sets e's ref mark. Kept: writing only when it is not set yet
// means a hit on a hot item writes nothing, so two cores reading it do
// not bounce its line.
func (e *entry) markUsed() {
	if !e.ref.Load() {
		e.ref.Store(true)
	}
}

func (sh *shard) init(limit int64) {
	sh.table.Store(newTable(firstTable))
	sh.pages[0].Store(&make([]entry, firstPage)[0])
	sh.used = 1 // the sentinel
	sh.limit = limit
}

// at returns the entry in slot i: with j = i + firstPage, the page is
// given by j's highest bit and the offset by the bits below it. It may be
// called without the lock for a slot read from the table, which is
// published after its page.
func (sh *shard) at(i uint32) *entry {
	j := uint(i) + firstPage
	k := bits.Len(j) - firstPageBits - 1
	return &unsafe.Slice(sh.pages[k].Load(), firstPage<<k)[j-firstPage<<k]
}

// sentinel returns the LRU list's sentinel.
func (sh *shard) sentinel() *entry { return sh.pages[0].Load() }

// peek is a lock-free lookup: it returns the entry and the record of the
// item under key (whose hash is h), or nils, as they were at some instant
// during the call (see Store.Get). It may miss an item that is there, or
// return another item's entry (the record is key's).
func (sh *shard) peek(h uint64, key string) (*entry, record) {
	t := sh.table.Load()
	_, e, r := t.find(sh, h, key)
	if sh.table.Load() != t {
		// A writer stops writing a table once it publishes a larger one,
		// so r may be out of date.
		return nil, nil
	}
	return e, r
}

// lookup returns the live item under key (whose hash is h) and its
// record, and marks it used, or nil. An expired item found on the way is
// removed. The caller holds the lock.
func (sh *shard) lookup(c *clock, h uint64, key string) (*entry, record) {
	_, e, r := sh.table.Load().find(sh, h, key)
	if e == nil {
		return nil, nil
	}
	if e.exp != 0 && e.exp <= c.get() {
		sh.remove(e)
		return nil, nil
	}
	e.markUsed()
	return e, r
}

// remove unlinks e, forgets it and frees its slot.
func (sh *shard) remove(e *entry) {
	sh.unlink(e)
	sh.tableRemove(e)
	sh.bytes -= int64(e.size) + entryOverhead
	e.exp, e.prev, e.next = 0, 0, sh.free
	sh.free = e.idx
}

// insert stores r, the record of a key of hash h, as a new entry, at the
// front of the LRU and not yet used, and evicts until the shard is within
// its limit. The caller has checked that the key is not in the shard and
// that the item alone fits.
func (sh *shard) insert(c *clock, h uint64, r record) {
	idx := sh.free
	if idx != 0 {
		sh.free = sh.at(idx).next
	} else {
		idx = sh.used
		sh.used++
		if j := uint(idx) + firstPage; j&(j-1) == 0 { // the first slot of a page
			k := bits.Len(j) - firstPageBits - 1
			sh.pages[k].Store(&make([]entry, firstPage<<k)[0])
		}
	}
	e := sh.at(idx)
	e.hash, e.idx = uint32(h>>32), idx
	if e.ref.Load() {
		e.ref.Store(false)
	}
	e.exp, e.size = r.exp(), uint32(r.dataLen())
	sh.tableAdd(e, r)
	sh.pushFront(e)
	sh.bytes += int64(r.dataLen()) + entryOverhead
	sh.shrink(c, e)
}

// replace publishes r, the new record of e's item (whose record is now
// old), accounts for the change of size and evicts if needed.
func (sh *shard) replace(c *clock, e *entry, old, r record) {
	sh.publish(e, r)
	sh.bytes += int64(r.dataLen() - old.dataLen())
	sh.shrink(c, e)
}
