package memstore

import (
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// Get reads the item under key. A hit marks it used in the LRU. With
// opt.Lease, a miss creates a placeholder that the caller wins; as on
// memcached, the Won/Busy state belongs to the item, not to the options:
// any Get of a stale item that nobody has won yet wins it, and any Get of
// an item someone has won reports Busy until the item is written again.
// It fills in *it on a hit (so that a caller with an item type of the same
// shape needs no copy), and reports ErrInvalidKey.
//
// A plain hit (a live item, neither stale nor won, no Recache asked) takes
// no lock: it probes the shard's table, loads the record in the slot whose
// key is key, then checks that the shard still has that table. Such a hit
// is linearizable: the record it returns was the item's current one at
// the instant it was loaded. Writers, all under the lock, never modify a
// published record; they replace an item's record with one atomic store
// into its slot in the current table; a deletion's first store into the
// table overwrites the deleted item's slot (its record is gone from then
// on), and the backward shift that follows only copies other items'
// current records; a table that a larger one replaced is never written
// again, which is why the hit checks that its table is still the shard's
// after the load. So in the current table, every slot that holds a record
// of key holds key's current record. Anything else, including a miss (the
// probe may miss an item that a deletion is moving), takes the lock and
// starts over, and the answer found there is authoritative. Kept: gets are
// faster without the lock (BENCHMARKS.md).
func (s *Store) Get(key string, opt GetOptions, it *Item) (bool, error) {
	if badLength(key) {
		return false, ErrInvalidKey
	}
	c := clock{now: s.now}
	h := s.hash(key)
	sh := s.shardOf(h)
	if opt.Recache <= 0 {
		if e, r := sh.peek(h, key); e != nil && r.state() == 0 {
			exp := r.exp()
			ttl := NoExpiry
			if exp != 0 {
				if exp <= c.get() {
					return s.lockedGet(sh, &c, h, key, opt, it)
				}
				ttl = left(&c, exp)
			}
			e.markUsed()
			// Field by field: a composite literal is built on the stack
			// and then copied, and the copy stalls on the stores just made.
			it.Value, it.Flags, it.CAS, it.TTL = clone(r.value()), r.flags(), r.cas(), ttl
			it.Won, it.Stale, it.Busy = false, false, false
			return true, nil
		}
	}
	return s.lockedGet(sh, &c, h, key, opt, it)
}

// lockedGet is Get under the shard's lock.
func (s *Store) lockedGet(sh *shard, c *clock, h uint64, key string, opt GetOptions, it *Item) (bool, error) {
	sh.mu.Lock()
	e, r := sh.lookup(c, h, key)
	rd, v, found, err := s.read(sh, c, h, key, e, r, opt)
	sh.mu.Unlock()
	if found {
		*it = rd
		it.Value = clone(v)
	}
	return found, err
}

// read is Get under the shard's lock once e, the live item under key (or
// nil), and its record r were looked up, but for the item's Value: it
// returns the stored value for the caller to copy. It checks the key on a
// miss.
func (s *Store) read(sh *shard, c *clock, h uint64, key string, e *entry, r record, opt GetOptions) (Item, []byte, bool, error) {
	if e == nil {
		if err := s.CheckKey(key); err != nil || opt.Lease <= 0 {
			return Item{}, nil, false, err
		}
		// A lease: an empty placeholder that its creator has won.
		exp, _ := expiry(c, opt.Lease)
		lease := newRecord(key, nil, 0, exp)
		lease.setCAS(s.nextCAS())
		lease.setState(stateWon)
		if s.fits(sh, len(key), 0, 0) {
			sh.insert(c, h, lease)
		}
		it := lease.snapshot(c)
		it.Won = true
		return it, nil, true, nil
	}
	win := false
	if !r.won() {
		win = r.stale() ||
			opt.Recache > 0 && r.exp() != 0 && int64(left(c, r.exp())/time.Second) < memcache.WholeSeconds(opt.Recache)
	}
	it := r.snapshot(c)
	switch {
	case win:
		// Rare: a new record (of the same size), which costs an allocation.
		sh.publish(e, r.with(r.cas(), r.exp(), r.state()|stateWon))
		it.Won = true
	case r.won():
		it.Busy = true
	}
	return it, r.value(), true, nil
}

// snapshot returns the item as a reader sees it, but for its Value: the
// caller copies r.value() after releasing the shard's lock, which is safe
// because a published record is never modified.
func (r record) snapshot(c *clock) Item {
	return Item{Flags: r.flags(), CAS: r.cas(), TTL: left(c, r.exp()), Stale: r.stale()}
}

// clone returns a reader's private copy of a stored value, never nil
// (even when empty): one allocation, not zeroed first (the compiler
// turns a make followed by a copy into runtime.makeslicecopy).
func clone(v []byte) []byte {
	b := make([]byte, len(v))
	copy(b, v)
	return b
}

// GetMulti reads each distinct key of keys as Get does with zero options
// (so, as on memcached, it may win a stale item) and returns the items
// found, each converted by conv (which lets a caller have its own item
// type without a second map). The values share one allocation, each
// capped so that appending to one cannot overwrite the next. It reports
// ErrInvalidKey if any key is invalid, before reading anything.
func GetMulti[T any](s *Store, keys []string, conv func(Item) T) (map[string]T, error) {
	for _, key := range keys {
		if err := s.CheckKey(key); err != nil {
			return nil, err
		}
	}
	c := clock{now: s.now}
	items := make(map[string]T, len(keys))
	// The items found, to be copied once their total size is known (kept
	// on the stack for a few keys).
	type hit struct {
		key   string
		value []byte
		it    Item
	}
	var few [16]hit
	hits := few[:0]
	if len(keys) > len(few) {
		hits = make([]hit, 0, len(keys))
	}
	total := 0
	var zero T
	for _, key := range keys {
		if _, dup := items[key]; dup {
			continue
		}
		h := s.hash(key)
		sh := s.shardOf(h)
		sh.mu.Lock()
		e, r := sh.lookup(&c, h, key)
		it, v, found, _ := s.read(sh, &c, h, key, e, r, GetOptions{}) // keys checked above
		sh.mu.Unlock()
		if found {
			items[key] = zero
			hits = append(hits, hit{key, v, it})
			total += len(v)
		}
	}
	buf := make([]byte, 0, total)
	for _, h := range hits {
		start := len(buf)
		buf = append(buf, h.value...)
		h.it.Value = buf[start:len(buf):len(buf)]
		items[h.key] = conv(h.it)
	}
	return items, nil
}
