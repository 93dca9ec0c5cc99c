package memstore

// maxChances is the most used items one eviction gives a second chance
// (moves back to the front) before it evicts the next item at the cold
// end, used or not. It bounds the work of a write that must evict from a
// shard whose items were all read: without it, that write would relink
// every item of the shard under its lock.
const maxChances = 32

func (sh *shard) unlink(e *entry) {
	sh.at(e.prev).next = e.next
	sh.at(e.next).prev = e.prev
}

func (sh *shard) pushFront(e *entry) {
	head := sh.sentinel()
	e.prev, e.next = 0, head.next
	sh.at(head.next).prev = e.idx
	head.next = e.idx
}

// shrink evicts from the cold end of the LRU while the shard is over its
// limit, giving used items a second chance (the CLOCK approximation of
// LRU: a hit only sets e.ref, it relinks nothing): an item used since it
// was last at the front (and not expired), and keep (the item being
// written), go back to the front, no longer marked used, instead of being
// evicted; but after maxChances used items, the next item (if not keep) is
// evicted whether used or not. Then it drops up to two expired items from
// the cold end, so that items nobody reads again do not wait for eviction
// to be reclaimed. Kept over moving every hit to the front, which costs
// each hit a relink (BENCHMARKS.md).
//
// The first loop ends: each turn evicts an item, spends one of a bounded
// number of chances, or moves keep, which reaches the cold end again only
// once every other item was evicted or moved; keep alone fits.
func (sh *shard) shrink(c *clock, keep *entry) {
	chances := maxChances
	for sh.bytes > sh.limit && sh.count > 1 {
		victim := sh.at(sh.sentinel().prev)
		if victim != keep && (chances == 0 || !victim.ref || victim.exp != 0 && victim.exp <= c.get()) {
			sh.remove(victim)
			chances = maxChances
			continue
		}
		if victim != keep {
			chances--
		}
		victim.ref = false
		sh.unlink(victim)
		sh.pushFront(victim)
	}
	for range 2 {
		victim := sh.at(sh.sentinel().prev)
		if victim == keep || victim.idx == 0 || victim.exp == 0 || victim.exp > c.get() {
			break
		}
		sh.remove(victim)
	}
}
