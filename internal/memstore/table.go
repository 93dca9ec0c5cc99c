package memstore

import "sync/atomic"

// A shard's table is an open-addressing table with linear probing and
// backward-shift deletion. Each slot holds an item: its current record
// and a word that is the upper half of the key's hash and the index of
// the item's entry (0 is an empty slot: index 0 is the LRU sentinel,
// never an item). The key's hash is computed once per operation and
// picks both the shard (its low bits) and the slot (its high bits); the
// key itself is compared in the record, whose header the same read needs
// next. Kept over a map[string]uint32, which costs a second hash and a
// key slot per lookup (measured in BENCHMARKS.md). The record sits in the
// slot rather than in the entry so that a hit reads the table, then the
// record, without waiting for the entry; kept because gets and sets
// measured faster so (BENCHMARKS.md).
//
// Writers change the table under the shard's lock; lock-free readers
// (Store.Get) probe it too, so the slots' words are atomic, and a larger
// table replaces the table whole. Such a reader may see a table that was
// replaced since, or a slot that a deletion is moving, and so miss an
// item that is there: it then asks again under the lock. What it finds,
// it checks by the key in the record.
type table struct {
	slots []slot
}

type slot struct {
	rec atomic.Pointer[byte] // the first byte of the item's record
	ent atomic.Uint64        // hash>>32 << 32 | entry index; 0 = empty
}

// firstTable is the number of slots of a shard's first table; the table
// doubles when it would be more than three quarters full.
const firstTable = 16

func newTable(n int) *table { return &table{slots: make([]slot, n)} }

// find returns the slot, the entry and the record of the item under key,
// whose hash is h, or nils. Without the shard's lock, it may miss an item
// that is there, or return an entry that is not the item's (see above,
// and Store.Get).
func (t *table) find(sh *shard, h uint64, key string) (*slot, *entry, record) {
	tag := uint32(h >> 32)
	mask := uint32(len(t.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		ent := sl.ent.Load()
		if ent == 0 {
			return nil, nil, nil
		}
		if uint32(ent>>32) == tag {
			if r := loadRecord(sl.rec.Load()); r != nil && r.hasKey(key) {
				return sl, sh.at(uint32(ent)), r
			}
		}
	}
}

// slotOf returns e's slot. The caller holds the lock.
func (sh *shard) slotOf(e *entry) *slot {
	t := sh.table.Load()
	mask := uint32(len(t.slots) - 1)
	i := e.hash & mask
	for uint32(t.slots[i].ent.Load()) != e.idx {
		i = (i + 1) & mask
	}
	return &t.slots[i]
}

// record returns e's record. The caller holds the lock.
func (sh *shard) record(e *entry) record { return loadRecord(sh.slotOf(e).rec.Load()) }

// publish makes r the current record of e's item. The caller holds the
// lock.
func (sh *shard) publish(e *entry, r record) {
	sh.slotOf(e).rec.Store(&r[0])
	e.exp, e.size = r.exp(), uint32(r.dataLen())
}

// tableAdd puts e, whose record is r, not yet in the table, into it,
// growing the table when it would be more than three quarters full.
func (sh *shard) tableAdd(e *entry, r record) {
	t := sh.table.Load()
	if 4*(sh.count+1) > 3*len(t.slots) {
		old := t
		t = newTable(2 * len(old.slots))
		for i := range old.slots {
			if ent := old.slots[i].ent.Load(); ent != 0 {
				t.place(old.slots[i].rec.Load(), ent)
			}
		}
		sh.table.Store(t)
	}
	t.place(&r[0], uint64(e.hash)<<32|uint64(e.idx))
	sh.count++
}

// place stores an item in the first free slot from its home on.
func (t *table) place(rec *byte, ent uint64) {
	mask := uint32(len(t.slots) - 1)
	i := uint32(ent>>32) & mask
	for t.slots[i].ent.Load() != 0 {
		i = (i + 1) & mask
	}
	t.slots[i].set(rec, ent)
}

// set writes a slot: the record first, so that a reader that sees the
// entry word sees a record (whose key it checks in any case).
func (sl *slot) set(rec *byte, ent uint64) {
	sl.rec.Store(rec)
	sl.ent.Store(ent)
}

// tableRemove takes e out of the table. The slots
// after it in its run move back to fill the hole where their own home
// allows (backward-shift deletion), so the table needs no tombstones.
// Each move writes the hole before the slot it leaves is cleared, so a
// lock-free reader meets no hole in the middle of a run (it may meet an
// item twice); the first write replaces the removed item's record, so no
// reader finds it after that.
func (sh *shard) tableRemove(e *entry) {
	slots := sh.table.Load().slots
	mask := uint32(len(slots) - 1)
	i := e.hash & mask
	for uint32(slots[i].ent.Load()) != e.idx {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		ent := slots[j].ent.Load()
		if ent == 0 {
			slots[i].set(nil, 0)
			sh.count--
			return
		}
		// The slot at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if home := uint32(ent>>32) & mask; (j-home)&mask >= (j-i)&mask {
			slots[i].set(slots[j].rec.Load(), ent)
			i = j
		}
	}
}
