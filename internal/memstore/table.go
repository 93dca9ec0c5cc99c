package memstore

// A shard's table is an open-addressing table of 8-byte slots, each the
// upper half of the key's hash and the entry's index (0 is an empty slot:
// index 0 is the LRU sentinel, never an item), with linear probing and
// backward-shift deletion. The key's hash is computed once per operation
// and picks both the shard (its low bits) and the slot (its high bits);
// the key itself is compared in the item's data, right after the value
// that a read copies next. Kept over a map[string]uint32, which costs a
// second hash and a key slot per lookup (measured in BENCHMARKS.md).

// firstTable is the number of slots of a shard's first table; the table
// doubles when it would be more than three quarters full.
const firstTable = 16

// find returns the index of the entry under key, whose hash is h, or 0.
func (sh *shard) find(h uint64, key string) uint32 {
	tag := uint32(h >> 32)
	mask := uint32(len(sh.table) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		slot := sh.table[i]
		if slot == 0 {
			return 0
		}
		if uint32(slot>>32) == tag {
			if e := sh.at(uint32(slot)); e.key() == key {
				return e.idx
			}
		}
	}
}

// tableAdd puts e, not yet in the table, into it, growing the table when
// it would be more than three quarters full.
func (sh *shard) tableAdd(e *entry) {
	if 4*(sh.count+1) > 3*len(sh.table) {
		old := sh.table
		sh.table = make([]uint64, 2*len(old))
		for _, slot := range old {
			if slot != 0 {
				sh.place(slot)
			}
		}
	}
	sh.place(uint64(e.hash)<<32 | uint64(e.idx))
	sh.count++
}

// place stores slot in the first free table slot from its home on.
func (sh *shard) place(slot uint64) {
	mask := uint32(len(sh.table) - 1)
	i := uint32(slot>>32) & mask
	for sh.table[i] != 0 {
		i = (i + 1) & mask
	}
	sh.table[i] = slot
}

// tableRemove takes e out of the table. The slots after it in its run
// move back to fill the hole where their own home allows (backward-shift
// deletion), so the table needs no tombstones.
func (sh *shard) tableRemove(e *entry) {
	mask := uint32(len(sh.table) - 1)
	i := e.hash & mask
	for uint32(sh.table[i]) != e.idx {
		i = (i + 1) & mask
	}
	for j := i; ; {
		sh.table[i] = 0
		for {
			j = (j + 1) & mask
			slot := sh.table[j]
			if slot == 0 {
				sh.count--
				return
			}
			// The slot at j may fill the hole at i unless its home lies
			// cyclically in (i, j].
			if home := uint32(slot>>32) & mask; (j-home)&mask >= (j-i)&mask {
				sh.table[i] = slot
				i = j
				break
			}
		}
	}
}
