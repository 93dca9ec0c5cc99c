package cachestruct

import (
	"context"
	"math"
	"strconv"
	"strings"
)

// Incr implements Store.Incr as memcached 1.6.18's ma command does:
//
//   - The stored value is read like C's strtoull: leading white space and
//     one '+' or '-' sign are accepted, the digits must be followed by white
//     space, a NUL byte or the end, and overflowing 2^64−1 is not a number;
//     a number of 2^63 or more is refused if the value holds a '-'. So
//     " 12", "12 ", "+12" and "007" count as numbers; "", "1a", "-12" and
//     "18446744073709551616" report ErrNotNumber.
//   - When the result has no more digits than the stored value, it is
//     written in place and padded with trailing spaces to the old length
//     (decrementing "10" leaves "9 "); the item keeps its stale and won
//     states then. A longer result replaces the value and clears them.
//   - Every increment gives the item a new CAS and keeps its flags and TTL.
//   - A created counter (opt.Vivify) has flags 0; a negative opt.TTL makes
//     it expire at once, though the call still returns opt.Initial.
//
// It reports ErrInvalidKey, ErrNotFound, ErrNotNumber, or ctx's error if
// ctx is already done.
func (m *Memory) Incr(ctx context.Context, key string, delta int64, opt IncrOptions) (uint64, error) {
	return m.doIncr(ctx, key, delta, opt, m.hook != nil)
}

// doIncr is Incr; with hooked set it goes through hookIncr, which times
// the operation, calls doIncr again without it, and reports to the hook.
func (m *Memory) doIncr(ctx context.Context, key string, delta int64, opt IncrOptions, hooked bool) (uint64, error) {
	if hooked {
		return m.hookIncr(ctx, key, delta, opt)
	}
	if err := m.precheck(ctx, key); err != nil {
		return 0, err
	}
	c := memClock{now: m.now}
	h := m.hash(key)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(&c, h, key)
	if e == nil {
		if err := m.checkKey(key); err != nil {
			return 0, err
		}
		if !opt.Vivify {
			return 0, ErrNotFound
		}
		var digits [20]byte
		v := strconv.AppendUint(digits[:0], opt.Initial, 10)
		if m.fits(s, len(key), len(v), 0) {
			m.store(s, &c, nil, h, memData(key, v), len(key), 0, opt.TTL)
		}
		return opt.Initial, nil
	}
	v, ok := memParseCounter(e.value())
	if !ok {
		return 0, ErrNotNumber
	}
	v = memAddCounter(v, delta)
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
		e.data = memData(e.key(), d)
	} else {
		oldLen := len(e.data)
		e.data = memData(e.key(), d)
		e.stale, e.won = false, false
		s.resize(&c, e, oldLen)
	}
	e.cas = m.nextCAS()
	return v, nil
}

// memParseCounter reads a counter value the way memcached's safe_strtoull
// does (see Incr).
func memParseCounter(b string) (uint64, bool) {
	i := 0
	for i < len(b) && memIsSpace(b[i]) {
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
	if i == start || i < len(b) && !memIsSpace(b[i]) && b[i] != 0 {
		return 0, false
	}
	if neg {
		v = -v // as strtoull does
	}
	// memcached refuses a number that is negative as a signed integer if
	// the string holds a '-' anywhere before a NUL (it uses strchr), so
	// "-0" is 0 but "-12" and "9223372036854775808 -" are not numbers.
	// (Its strchr also runs on past the item into whatever memory follows
	// it: a counter of 2^63 or more may thus be refused at random. Memory
	// behaves as if that memory held no '-'.)
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

// memIsSpace is C's isspace in the C locale.
func memIsSpace(c byte) bool {
	return c == ' ' || '\t' <= c && c <= '\r'
}

// memAddCounter adds delta to a counter as memcached does: increments wrap
// at 2^64, decrements (a negative delta) stop at 0.
func memAddCounter(v uint64, delta int64) uint64 {
	if delta >= 0 {
		return v + uint64(delta)
	}
	d := uint64(-(delta + 1)) + 1 // |delta|, also for math.MinInt64
	if d > v {
		return 0
	}
	return v - d
}
