package memstore

import (
	"strings"
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
func (s *Store) Get(key string, opt GetOptions, it *Item) (bool, error) {
	if badLength(key) {
		return false, ErrInvalidKey
	}
	c := clock{now: s.now}
	h := s.hash(key)
	sh := s.shardOf(h)
	sh.mu.Lock()
	e := sh.lookup(&c, h, key)
	if e == nil || e.won || e.stale || opt.Recache > 0 {
		r, v, found, err := s.read(sh, &c, h, key, e, opt)
		sh.mu.Unlock()
		if found {
			*it = r
			it.Value = clone(v)
		}
		return found, err
	}
	// A plain hit, the common case: the Item is built once, from fields
	// read under the lock (building it in read and copying it costs
	// store-forwarding stalls).
	v, flags, cas, exp := e.value(), e.flags, e.cas, e.exp
	sh.mu.Unlock()
	ttl := NoExpiry
	if exp != 0 {
		ttl = left(&c, exp)
	}
	// Field by field: a composite literal is built on the stack and then
	// copied, and the copy stalls on the stores just made.
	it.Value, it.Flags, it.CAS, it.TTL = clone(v), flags, cas, ttl
	it.Won, it.Stale, it.Busy = false, false, false
	return true, nil
}

// read is Get under the shard's lock once e, the live item under key (or
// nil), was looked up, but for the item's Value: it returns the stored
// value for the caller to copy. It checks the key on a miss.
func (s *Store) read(sh *shard, c *clock, h uint64, key string, e *entry, opt GetOptions) (Item, string, bool, error) {
	if e == nil {
		if err := s.CheckKey(key); err != nil || opt.Lease <= 0 {
			return Item{}, "", false, err
		}
		// A lease: an empty placeholder that its creator has won.
		lease := entry{hash: uint32(h >> 32), cas: s.nextCAS(), won: true}
		lease.setData(strings.Clone(key), len(key))
		lease.exp, _ = expiry(c, opt.Lease)
		if s.fits(sh, len(key), 0, 0) {
			sh.insert(c, &lease)
		}
		it := lease.snapshot(c)
		it.Won = true
		return it, "", true, nil
	}
	win := false
	if !e.won {
		win = e.stale ||
			opt.Recache > 0 && e.exp != 0 && int64(left(c, e.exp)/time.Second) < memcache.WholeSeconds(opt.Recache)
	}
	it := e.snapshot(c)
	switch {
	case win:
		e.won = true
		it.Won = true
	case e.won:
		it.Busy = true
	}
	return it, e.value(), true, nil
}

// snapshot returns the item as a reader sees it, but for its Value: the
// caller copies e.value() after releasing the shard's lock, which is safe
// because stored data is never modified, only replaced.
func (e *entry) snapshot(c *clock) Item {
	return Item{Flags: e.flags, CAS: e.cas, TTL: left(c, e.exp), Stale: e.stale}
}

// clone returns a reader's private copy of a stored value, never nil
// (even when empty): one allocation that is not zeroed first.
func clone(v string) []byte {
	if v == "" {
		return []byte{}
	}
	return []byte(v)
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
		key, value string
		it         Item
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
		it, v, found, _ := s.read(sh, &c, h, key, sh.lookup(&c, h, key), GetOptions{}) // keys checked above
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
