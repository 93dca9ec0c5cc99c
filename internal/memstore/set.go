package memstore

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
	c := clock{now: s.now}
	exp, expired := expiry(&c, opt.TTL)
	var r record
	if !expired && (opt.Mode < ModeAppend || opt.Vivify) {
		// Built outside the lock; append and prepend build a new value.
		r = newRecord(key, value, opt.Flags, exp)
	}
	sh.mu.Lock()
	cas, err := s.set(sh, &c, h, key, value, r, expired, opt)
	sh.mu.Unlock()
	return cas, err
}

// set is Set under the shard's lock, r being the item's new record as
// newRecord makes it, without its CAS (nil for an append or prepend
// without Vivify, or when the TTL expires the item at once). (Set unlocks
// without a defer: with this many returns, the compiler would not
// open-code it.)
func (s *Store) set(sh *shard, c *clock, h uint64, key string, value []byte, r record, expired bool, opt SetOptions) (uint64, error) {
	e, old := sh.lookup(c, h, key)
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
			return s.store(sh, c, nil, nil, h, r, expired), nil
		}
		if opt.CAS != 0 && old.cas() != opt.CAS {
			return 0, ErrCASConflict
		}
		return s.concat(sh, c, e, old, key, value, opt.Mode == ModePrepend)
	case ModeAdd:
		if e != nil {
			return 0, ErrNotStored
		}
		return s.store(sh, c, nil, nil, h, r, expired), nil
	case ModeReplace:
		if e == nil && opt.CAS == 0 {
			return 0, ErrNotStored
		}
	}
	if opt.CAS != 0 {
		if e == nil {
			return 0, ErrNotFound
		}
		if old.cas() != opt.CAS {
			return 0, ErrCASConflict
		}
	}
	return s.store(sh, c, e, old, h, r, expired), nil
}

// store writes a whole item, r being its new record (nil if expired),
// replacing e, the current one, and its record old, if any; it returns
// the new CAS.
func (s *Store) store(sh *shard, c *clock, e *entry, old record, h uint64, r record, expired bool) uint64 {
	cas := s.nextCAS()
	if expired {
		if e != nil {
			sh.remove(e)
		}
		return cas
	}
	r.setCAS(cas)
	if e == nil {
		sh.insert(c, h, r)
	} else {
		sh.replace(c, e, old, r)
	}
	return cas
}

// concat appends (or prepends) value to e's item, whose record is old,
// keeping its flags and TTL.
func (s *Store) concat(sh *shard, c *clock, e *entry, old record, key string, value []byte, prepend bool) (uint64, error) {
	v := old.value()
	n := len(v) + len(value)
	if !s.fits(sh, len(key), n, old.flags()) {
		return 0, ErrNotStored
	}
	first, second := v, value
	if prepend {
		first, second = value, v
	}
	r := makeRecord(key, n, old.flags(), old.exp())
	copy(r.value()[copy(r.value(), first):], second)
	cas := s.nextCAS()
	r.setCAS(cas)
	sh.replace(c, e, old, r)
	return cas, nil
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
	e, r := sh.lookup(&c, h, key)
	switch {
	case e == nil:
		if err := s.CheckKey(key); err != nil {
			return err
		}
		return ErrNotFound
	case opt.CAS != 0 && r.cas() != opt.CAS:
		return ErrCASConflict
	case !opt.Invalidate || opt.TTL < 0:
		sh.remove(e)
		return nil
	}
	exp := r.exp()
	if opt.TTL > 0 {
		exp, _ = expiry(&c, opt.TTL)
	}
	// Rare: a new record (of the same size), which costs an allocation.
	sh.publish(e, r.with(s.nextCAS(), exp, stateStale))
	return nil
}
