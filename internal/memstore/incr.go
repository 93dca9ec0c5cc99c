package memstore

import (
	"math"
	"strconv"
	"strings"
)

// Incr adds delta to the counter under key as memcached 1.6.18's ma
// command does (cachestruct.Memory.Incr lists the rules: parseCounter
// reads the value, addCounter adds, a result no longer than the value is
// written in place, space padded) and returns the new value. opt.Vivify
// creates a missing counter with value opt.Initial, without adding delta.
// It reports ErrInvalidKey, ErrNotFound or ErrNotNumber.
func (s *Store) Incr(key string, delta int64, opt IncrOptions) (uint64, error) {
	if badLength(key) {
		return 0, ErrInvalidKey
	}
	c := clock{now: s.now}
	h := s.hash(key)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(&c, h, key)
	if e == nil {
		if err := s.CheckKey(key); err != nil {
			return 0, err
		}
		if !opt.Vivify {
			return 0, ErrNotFound
		}
		var digits [20]byte
		v := strconv.AppendUint(digits[:0], opt.Initial, 10)
		if s.fits(sh, len(key), len(v), 0) {
			s.store(sh, &c, nil, h, join(key, v), len(key), 0, opt.TTL)
		}
		return opt.Initial, nil
	}
	v, ok := parseCounter(e.value())
	if !ok {
		return 0, ErrNotNumber
	}
	v = addCounter(v, delta)
	var digits [32]byte
	d := strconv.AppendUint(digits[:0], v, 10)
	old := e.valueLen()
	// A new string even "in place": readers may be copying the old one.
	if len(d) <= old {
		// In place, as memcached does when nobody else holds the item:
		// same length, space padded, same stale and won states.
		for len(d) < old {
			d = append(d, ' ')
		}
		e.data = join(e.key(), d)
	} else {
		oldLen := len(e.data)
		e.data = join(e.key(), d)
		e.stale, e.won = false, false
		sh.resize(&c, e, oldLen)
	}
	e.cas = s.nextCAS()
	return v, nil
}

// parseCounter reads a counter value the way memcached's safe_strtoull
// does (see Incr).
func parseCounter(b string) (uint64, bool) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var v uint64
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false // strtoull's ERANGE
		}
		v = v*10 + d
	}
	// memcached's value is followed by "\r\n", and C strings end at a NUL:
	// both count as an end of the number.
	if i == start || i < len(b) && !isSpace(b[i]) && b[i] != 0 {
		return 0, false
	}
	if neg {
		v = -v // as strtoull does
	}
	// memcached refuses a number that is negative as a signed integer if
	// the string holds a '-' anywhere before a NUL (it uses strchr), so
	// "-0" is 0 but "-12" and "9223372036854775808 -" are not numbers.
	// (Its strchr also runs on past the item into whatever memory follows
	// it: a counter of 2^63 or more may thus be refused at random. The
	// store behaves as if that memory held no '-'.)
	if int64(v) < 0 {
		if nul := strings.IndexByte(b, 0); nul >= 0 {
			b = b[:nul]
		}
		if strings.IndexByte(b, '-') >= 0 {
			return 0, false
		}
	}
	return v, true
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || '\t' <= c && c <= '\r'
}

// addCounter adds delta to a counter as memcached does: increments wrap
// at 2^64, decrements (a negative delta) stop at 0.
func addCounter(v uint64, delta int64) uint64 {
	if delta >= 0 {
		return v + uint64(delta)
	}
	d := uint64(-(delta + 1)) + 1 // |delta|, also for math.MinInt64
	if d > v {
		return 0
	}
	return v - d
}
