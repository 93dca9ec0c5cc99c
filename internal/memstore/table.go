package memstore

import "sync/atomic"

// A shard's table is an open-addressing table of 8-byte slots, each the
// upper half of the key's hash and the entry's index (0 is an empty slot:
// index 0 is the LRU sentinel, never an item), with linear probing and
// backward-shift deletion. The key's hash is computed once per operation
// and picks both the shard (its low bits) and the slot (its high bits);
// the key itself is compared in the item's record, right after the value
// that a read copies next. Kept over a map[string]uint32, which costs a
// second hash and a key slot per lookup (measured in BENCHMARKS.md).
//
// Writers change the table under the shard's lock; lock-free readers
// (Store.Get) probe it too, so its slots are atomic and a larger table
// replaces it whole. Such a reader may see an old table, or a slot that a
// deletion is moving, and so miss an item that is there: it then asks
// again under the lock. What it finds it checks by the key in the record.
type table struct {
	slots []atomic.Uint64
}

// firstTable is the number of slots of a shard's first table; the table
// doubles when it would be more than three quarters full.
const firstTable = 16

func newTable(n int) *table { return &table{slots: make([]atomic.Uint64, n)} }

// find returns the entry under key, whose hash is h, and its record, or
// nil. Without the shard's lock, it may miss an item that is there (see
// above), and what it returns may be replaced at any time.
func (sh *shard) find(h uint64, key string) (*entry, record) {
	tag := uint32(h >> 32)
	slots := sh.table.Load().slots
	mask := uint32(len(slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		slot := slots[i].Load()
		if slot == 0 {
			return nil, nil
		}
		if uint32(slot>>32) == tag {
			e := sh.at(uint32(slot))
			if r := e.record(); r != nil && r.hasKey(key) {
				return e, r
			}
		}
	}
}

// tableAdd puts e, not yet in the table, into it, growing the table when
// it would be more than three quarters full.
func (sh *shard) tableAdd(e *entry) {
	t := sh.table.Load()
	if 4*(sh.count+1) > 3*len(t.slots) {
		old := t
		t = newTable(2 * len(old.slots))
		for i := range old.slots {
			if slot := old.slots[i].Load(); slot != 0 {
				t.place(slot)
			}
		}
		sh.table.Store(t)
	}
	t.place(uint64(e.hash)<<32 | uint64(e.idx))
	sh.count++
}

// place stores slot in the first free table slot from its home on.
func (t *table) place(slot uint64) {
	mask := uint32(len(t.slots) - 1)
	i := uint32(slot>>32) & mask
	for t.slots[i].Load() != 0 {
		i = (i + 1) & mask
	}
	t.slots[i].Store(slot)
}

// tableRemove takes e out of the table. The slots after it in its run
// move back to fill the hole where their own home allows (backward-shift
// deletion), so the table needs no tombstones. Each move writes the hole
// before the slot it leaves is cleared, so a lock-free reader meets no
// hole in the middle of a run (it may meet a slot twice).
func (sh *shard) tableRemove(e *entry) {
	slots := sh.table.Load().slots
	mask := uint32(len(slots) - 1)
	i := e.hash & mask
	for uint32(slots[i].Load()) != e.idx {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		slot := slots[j].Load()
		if slot == 0 {
			slots[i].Store(0)
			sh.count--
			return
		}
		// The slot at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if home := uint32(slot>>32) & mask; (j-home)&mask >= (j-i)&mask {
			slots[i].Store(slot)
			i = j
		}
	}
}
