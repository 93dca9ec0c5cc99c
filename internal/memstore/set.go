package memstore

import (
	"strings"
	"time"
)

// Set stores value under key as opt.Mode says and returns the item's new
// CAS, with memcached 1.6.18's outcomes (cachestruct.Memory.Set lists
// them). Any write clears the item's stale and won states. It reports
// ErrInvalidKey first, whatever else would fail, then ErrValueTooLarge,
// ErrNotStored, ErrNotFound or ErrCASConflict.
func (s *Store) Set(key string, value []byte, opt SetOptions) (uint64, error) {
	if badLength(key) {
		return 0, ErrInvalidKey
	}
	h := s.hash(key)
	sh := s.shardOf(h)
	if !s.fits(sh, len(key), len(value), opt.Flags) {
		if err := s.CheckKey(key); err != nil {
			return 0, err
		}
		return 0, ErrValueTooLarge
	}
	var data string
	if opt.Mode < ModeAppend || opt.Vivify {
		// Copy outside the lock; append and prepend build a new value.
		data = join(key, value)
	}
	c := clock{now: s.now}
	sh.mu.Lock()
	cas, err := s.set(sh, &c, h, key, value, data, opt)
	sh.mu.Unlock()
	return cas, err
}

// set is Set under the shard's lock, data being the item's value and key
// as join makes them (empty for an append or prepend without Vivify).
// (Set unlocks without a defer: with this many returns, the compiler
// would not open-code it.)
func (s *Store) set(sh *shard, c *clock, h uint64, key string, value []byte, data string, opt SetOptions) (uint64, error) {
	e := sh.lookup(c, h, key)
	if e == nil {
		if err := s.CheckKey(key); err != nil {
			return 0, err
		}
	}
	switch opt.Mode {
	case ModeAppend, ModePrepend:
		if e == nil {
			if !opt.Vivify || opt.CAS != 0 {
				return 0, ErrNotStored
			}
			return s.store(sh, c, nil, h, data, len(key), opt.Flags, opt.TTL), nil
		}
		if opt.CAS != 0 && e.cas != opt.CAS {
			return 0, ErrCASConflict
		}
		return s.concat(sh, c, e, value, opt.Mode == ModePrepend)
	case ModeAdd:
		if e != nil {
			return 0, ErrNotStored
		}
		return s.store(sh, c, nil, h, data, len(key), opt.Flags, opt.TTL), nil
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
	return s.store(sh, c, e, h, data, len(key), opt.Flags, opt.TTL), nil
}

// store writes a whole item, data being its value and key (klen bytes),
// reusing e, the current one, if any; it returns the new CAS.
func (s *Store) store(sh *shard, c *clock, e *entry, h uint64, data string, klen int, flags uint32, ttl time.Duration) uint64 {
	cas := s.nextCAS()
	exp, expired := expiry(c, ttl)
	if expired {
		if e != nil {
			sh.remove(e)
		}
		return cas
	}
	if e == nil {
		item := entry{hash: uint32(h >> 32), flags: flags, cas: cas, exp: exp}
		item.setData(data, klen)
		sh.insert(c, &item)
		return cas
	}
	old := len(e.data)
	e.data, e.flags, e.cas, e.exp = data, flags, cas, exp
	e.stale, e.won = false, false
	sh.resize(c, e, old)
	return cas
}

// concat appends (or prepends) value to e, keeping its flags and TTL.
func (s *Store) concat(sh *shard, c *clock, e *entry, value []byte, prepend bool) (uint64, error) {
	n := e.valueLen() + len(value)
	if !s.fits(sh, int(e.klen), n, e.flags) {
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
	e.data, e.cas = b.String(), s.nextCAS()
	e.stale, e.won = false, false
	sh.resize(c, e, old)
	return e.cas, nil
}

// Delete removes the item under key. With opt.Invalidate the item gets a
// new CAS and becomes stale (its flags and value stay), and the next
// reader wins it even if a reader had won it before; a negative opt.TTL
// then expires it at once. It reports ErrInvalidKey, ErrNotFound or
// ErrCASConflict.
func (s *Store) Delete(key string, opt DeleteOptions) error {
	if badLength(key) {
		return ErrInvalidKey
	}
	c := clock{now: s.now}
	h := s.hash(key)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(&c, h, key)
	switch {
	case e == nil:
		if err := s.CheckKey(key); err != nil {
			return err
		}
		return ErrNotFound
	case opt.CAS != 0 && e.cas != opt.CAS:
		return ErrCASConflict
	case !opt.Invalidate || opt.TTL < 0:
		sh.remove(e)
		return nil
	}
	if opt.TTL > 0 {
		e.exp, _ = expiry(&c, opt.TTL)
	}
	e.stale, e.won = true, false
	e.cas = s.nextCAS()
	return nil
}

// smallData is the largest item (value and key) join builds on the stack.
const smallData = 256

// join returns an item's value and key as one string, in one fresh
// allocation: a hit compares the key and copies the value from the same
// cache lines (for small values), and the key never pins a larger string
// of the caller's. Kept over a separate key string: gets and inserts are
// faster with one allocation (BENCHMARKS.md).
func join(key string, value []byte) string {
	if n := len(value) + len(key); n <= smallData {
		// Joined on the stack, then copied into the string once. Kept: it
		// beats a strings.Builder's checks and write barrier (BENCHMARKS.md).
		var tmp [smallData]byte
		copy(tmp[copy(tmp[:], value):], key)
		return string(tmp[:n])
	}
	var b strings.Builder
	b.Grow(len(value) + len(key))
	b.Write(value)
	b.WriteString(key)
	return b.String()
}
