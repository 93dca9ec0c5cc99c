package cachestruct

import (
	"context"
	"strings"
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// Get implements Store.Get. A hit marks the item used in the LRU (see
// NewMemory). It reports ErrInvalidKey for a key the store does not accept, or
// ctx's error if ctx is already done.
//
// As on memcached, the Won/Busy state belongs to the item, not to the
// options: any Get of a stale item that nobody has won yet wins it, and any
// Get of an item someone has won (a lease placeholder, a stale item, an item
// won through Recache) reports Busy until the item is written again.
func (m *Memory) Get(ctx context.Context, key string, opt GetOptions) (Item, bool, error) {
	return m.doGet(ctx, key, opt, m.hook != nil)
}

// doGet is Get; with hooked set it goes through hookGet, which times the
// operation, calls doGet again without it, and reports to the hook. (This
// way Get is small enough to be inlined: a store without a hook pays one
// comparison.)
func (m *Memory) doGet(ctx context.Context, key string, opt GetOptions, hooked bool) (Item, bool, error) {
	if hooked {
		return m.hookGet(ctx, key, opt)
	}
	if err := m.precheck(ctx, key); err != nil {
		return Item{}, false, err
	}
	c := memClock{now: m.now}
	h := m.hash(key)
	s := m.shardOf(h)
	s.mu.Lock()
	e := s.lookup(&c, h, key)
	if e == nil || e.won || e.stale || opt.Recache > 0 {
		it, v, found, err := m.read(s, &c, h, key, e, opt)
		s.mu.Unlock()
		if found {
			it.Value = memClone(v)
		}
		return it, found, err
	}
	// A plain hit, the common case: the Item is built once, from fields
	// read under the lock (building it in read and copying it costs
	// store-forwarding stalls, 10 % of a hit).
	v, flags, cas, exp := e.value(), e.flags, e.cas, e.exp
	s.mu.Unlock()
	ttl := NoExpiry
	if exp != 0 {
		ttl = memLeft(&c, exp)
	}
	return Item{Value: memClone(v), Flags: flags, CAS: cas, TTL: ttl}, true, nil
}

// read is Get under the shard's lock once e, the live item under key (or
// nil), was looked up, but for the item's Value: it returns the stored
// value for the caller to copy. It checks the key on a miss.
func (m *Memory) read(s *memShard, c *memClock, h uint64, key string, e *memEntry, opt GetOptions) (Item, string, bool, error) {
	if e == nil {
		if err := m.checkKey(key); err != nil || opt.Lease <= 0 {
			return Item{}, "", false, err
		}
		// A lease: an empty placeholder that its creator has won.
		lease := memEntry{hash: uint32(h >> 32), cas: m.nextCAS(), won: true}
		lease.setData(strings.Clone(key), len(key))
		lease.exp, _ = memExpiry(c, opt.Lease)
		if m.fits(s, len(key), 0, 0) {
			s.insert(c, &lease)
		}
		it := lease.snapshot(c)
		it.Won = true
		return it, "", true, nil
	}
	win := false
	if !e.won {
		win = e.stale ||
			opt.Recache > 0 && e.exp != 0 && int64(memLeft(c, e.exp)/time.Second) < memSeconds(opt.Recache)
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

// GetMulti implements Store.GetMulti: each distinct key is read as by Get
// with zero options (so, as on memcached, it may win a stale item). It
// reports ErrInvalidKey if any key is invalid, before reading anything, or
// ctx's error if ctx is already done.
func (m *Memory) GetMulti(ctx context.Context, keys []string) (map[string]Item, error) {
	return m.doGetMulti(ctx, keys, m.hook != nil)
}

// doGetMulti is GetMulti; with hooked set it goes through hookGetMulti, which times
// the operation, calls doGetMulti again without it, and reports to the hook.
func (m *Memory) doGetMulti(ctx context.Context, keys []string, hooked bool) (map[string]Item, error) {
	if hooked {
		return m.hookGetMulti(ctx, keys)
	}
	for _, key := range keys {
		if err := m.checkKey(key); err != nil {
			return nil, err
		}
	}
	if err := memCtxErr(ctx); err != nil {
		return nil, err
	}
	c := memClock{now: m.now}
	items := make(map[string]Item, len(keys))
	// The stored values found, to be copied once their total is known
	// (kept on the stack for a few keys).
	type hit struct{ key, value string }
	var few [16]hit
	hits := few[:0]
	if len(keys) > len(few) {
		hits = make([]hit, 0, len(keys))
	}
	total := 0
	for _, key := range keys {
		if _, dup := items[key]; dup {
			continue
		}
		h := m.hash(key)
		s := m.shardOf(h)
		s.mu.Lock()
		it, v, found, _ := m.read(s, &c, h, key, s.lookup(&c, h, key), GetOptions{}) // keys checked above
		s.mu.Unlock()
		if found {
			items[key] = it
			hits = append(hits, hit{key, v})
			total += len(v)
		}
	}
	// Copy the values into one allocation, each capped so that appending
	// to one cannot overwrite the next.
	buf := make([]byte, 0, total)
	for _, h := range hits {
		it := items[h.key]
		start := len(buf)
		buf = append(buf, h.value...)
		it.Value = buf[start:len(buf):len(buf)]
		items[h.key] = it
	}
	return items, nil
}

// Set implements Store.Set with memcached 1.6.18's outcomes, including
// those the Store documentation leaves open:
//
//   - ModeAdd ignores opt.CAS when the item is missing (it stores) and
//     reports ErrNotStored when it exists.
//   - ModeSet and ModeReplace with opt.CAS report ErrNotFound on a missing
//     item; ModeAppend and ModePrepend report ErrNotStored.
//   - A value that is too large on its own reports ErrValueTooLarge; an
//     append or prepend that would make the item too large reports
//     ErrNotStored and leaves the item as it was.
//   - A negative opt.TTL stores an item that is expired at once: the key
//     reads as a miss afterwards.
//
// Any write clears the item's stale and won states. Set panics if opt.Mode
// is not one of the SetMode constants.
func (m *Memory) Set(ctx context.Context, key string, value []byte, opt SetOptions) (uint64, error) {
	return m.doSet(ctx, key, value, opt, m.hook != nil)
}

// doSet is Set; with hooked set it goes through hookSet, which times
// the operation, calls doSet again without it, and reports to the hook.
func (m *Memory) doSet(ctx context.Context, key string, value []byte, opt SetOptions, hooked bool) (uint64, error) {
	if hooked {
		return m.hookSet(ctx, key, value, opt)
	}
	if opt.Mode > ModePrepend {
		panic("cachestruct: Set with an unknown SetMode")
	}
	// As in Get, the full key check waits until the key is not found in
	// the store (or another error is due: a bad key is reported first).
	if len(key) == 0 || len(key) > memcache.MaxKeyLen {
		if err := m.checkKey(key); err != nil {
			return 0, err
		}
	}
	h := m.hash(key)
	s := m.shardOf(h)
	if !m.fits(s, len(key), len(value), opt.Flags) {
		if err := m.checkKey(key); err != nil {
			return 0, err
		}
		return 0, ErrValueTooLarge
	}
	if ctx.Done() != nil {
		if err := memCtxErr(ctx); err != nil {
			if kerr := m.checkKey(key); kerr != nil {
				return 0, kerr
			}
			return 0, err
		}
	}
	var data string
	if opt.Mode < ModeAppend || opt.Vivify {
		// Copy outside the lock; append and prepend build a new value.
		data = memData(key, value)
	}
	c := memClock{now: m.now}
	s.mu.Lock()
	cas, err := m.set(s, &c, h, key, value, data, opt)
	s.mu.Unlock()
	return cas, err
}

// set is Set under the shard's lock, data being the item's value and key
// as memData makes them (empty for an append or prepend without Vivify).
// (A deferred Unlock in Set would cost 4 % of a write: with this many
// returns, the compiler does not open-code the defer.)
func (m *Memory) set(s *memShard, c *memClock, h uint64, key string, value []byte, data string, opt SetOptions) (uint64, error) {
	e := s.lookup(c, h, key)
	if e == nil {
		if err := m.checkKey(key); err != nil {
			return 0, err
		}
	}
	switch opt.Mode {
	case ModeAppend, ModePrepend:
		if e == nil {
			if !opt.Vivify || opt.CAS != 0 {
				return 0, ErrNotStored
			}
			return m.store(s, c, nil, h, data, len(key), opt.Flags, opt.TTL), nil
		}
		if opt.CAS != 0 && e.cas != opt.CAS {
			return 0, ErrCASConflict
		}
		return m.concat(s, c, e, value, opt.Mode == ModePrepend)
	case ModeAdd:
		if e != nil {
			return 0, ErrNotStored
		}
		return m.store(s, c, nil, h, data, len(key), opt.Flags, opt.TTL), nil
	case ModeReplace:
		if e == nil && opt.CAS == 0 {
			return 0, ErrNotStored
		}
	}
	if opt.CAS != 0 {
		if e == nil {
			return 0, ErrNotFound
		}
		if e.cas != opt.CAS {
			return 0, ErrCASConflict
		}
	}
	return m.store(s, c, e, h, data, len(key), opt.Flags, opt.TTL), nil
}

// store writes a whole item, data being its value and key (klen bytes),
// reusing e, the current one, if any; it returns the new CAS.
func (m *Memory) store(s *memShard, c *memClock, e *memEntry, h uint64, data string, klen int, flags uint32, ttl time.Duration) uint64 {
	cas := m.nextCAS()
	exp, expired := memExpiry(c, ttl)
	if expired {
		if e != nil {
			s.remove(e)
		}
		return cas
	}
	if e == nil {
		item := memEntry{hash: uint32(h >> 32), flags: flags, cas: cas, exp: exp}
		item.setData(data, klen)
		s.insert(c, &item)
		return cas
	}
	old := len(e.data)
	e.data, e.flags, e.cas, e.exp = data, flags, cas, exp
	e.stale, e.won = false, false
	s.resize(c, e, old)
	return cas
}

// concat appends (or prepends) value to e, keeping its flags and TTL.
func (m *Memory) concat(s *memShard, c *memClock, e *memEntry, value []byte, prepend bool) (uint64, error) {
	n := e.valueLen() + len(value)
	if !m.fits(s, int(e.klen), n, e.flags) {
		return 0, ErrNotStored
	}
	var b strings.Builder
	b.Grow(n + int(e.klen))
	if prepend {
		b.Write(value)
		b.WriteString(e.value())
	} else {
		b.WriteString(e.value())
		b.Write(value)
	}
	b.WriteString(e.key())
	old := len(e.data)
	e.data, e.cas = b.String(), m.nextCAS()
	e.stale, e.won = false, false
	s.resize(c, e, old)
	return e.cas, nil
}

// Delete implements Store.Delete. With opt.Invalidate the item gets a new
// CAS and becomes stale (its flags and value stay), and the next reader
// wins it even if a reader had won it before; a negative opt.TTL then
// expires it at once. It reports ErrInvalidKey, ErrNotFound,
// ErrCASConflict, or ctx's error if ctx is already done.
func (m *Memory) Delete(ctx context.Context, key string, opt DeleteOptions) error {
	return m.doDelete(ctx, key, opt, m.hook != nil)
}

// doDelete is Delete; with hooked set it goes through hookDelete, which times
// the operation, calls doDelete again without it, and reports to the hook.
func (m *Memory) doDelete(ctx context.Context, key string, opt DeleteOptions, hooked bool) error {
	if hooked {
		return m.hookDelete(ctx, key, opt)
	}
	if err := m.precheck(ctx, key); err != nil {
		return err
	}
	c := memClock{now: m.now}
	h := m.hash(key)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(&c, h, key)
	switch {
	case e == nil:
		if err := m.checkKey(key); err != nil {
			return err
		}
		return ErrNotFound
	case opt.CAS != 0 && e.cas != opt.CAS:
		return ErrCASConflict
	case !opt.Invalidate || opt.TTL < 0:
		s.remove(e)
		return nil
	}
	if opt.TTL > 0 {
		e.exp, _ = memExpiry(&c, opt.TTL)
	}
	e.stale, e.won = true, false
	e.cas = m.nextCAS()
	return nil
}
