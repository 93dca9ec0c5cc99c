package memstore

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIncr(t *testing.T) {
	// Each row was checked with ma/mg on memcached 1.6.18.
	tests := []struct {
		name   string
		stored string
		delta  int64
		want   uint64
		after  string // the value a Get sees afterwards
		err    error
	}{
		{"incr", "5", 3, 8, "8", nil},
		{"decr", "10", -1, 9, "9 ", nil},
		{"decr floors at 0", "10", -100, 0, "0 ", nil},
		{"incr grows", "99", 1, 100, "100", nil},
		{"incr wraps at 2^64", "18446744073709551615", 1, 0, "0                   ", nil},
		{"wrap by max", "18446744073709551615", math.MaxInt64, math.MaxInt64 - 1, "9223372036854775806 ", nil},
		{"decr by MinInt64", "18446744073709551615", math.MinInt64, 1<<63 - 1, "9223372036854775807 ", nil},
		{"zero delta", "7", 0, 7, "7", nil},
		{"leading space", " 12", 1, 13, "13 ", nil},
		{"trailing space", "12 ", 1, 13, "13 ", nil},
		{"leading tab", "\t5", 1, 6, "6 ", nil},
		{"trailing tab", "5\t", 1, 6, "6 ", nil},
		{"plus sign", "+12", 1, 13, "13 ", nil},
		{"minus zero", "-0", 1, 1, "1 ", nil},
		{"leading zeros", "012", 1, 13, "13 ", nil},
		{"23 digits with zeros", "00000000000000000000001", 1, 2, "2" + strings.Repeat(" ", 22), nil},
		{"number then words", "1 2", 1, 2, "2  ", nil},
		{"number then crlf", "5\r\nx", 1, 6, "6   ", nil},
		{"number then nul", "007\x00\xff", 73, 80, "80   ", nil},
		{"nul first", "\x007", 1, 0, "\x007", ErrNotNumber},
		{"minus", "-12", 1, 0, "-12", ErrNotNumber},
		{"minus wraps positive", "-18446744073709551615", 1, 2, "2                    ", nil},
		{"letters", "1a", 1, 0, "1a", ErrNotNumber},
		{"hex", "0x10", 1, 0, "0x10", ErrNotNumber},
		{"empty", "", 1, 0, "", ErrNotNumber},
		{"only spaces", "  ", 1, 0, "  ", ErrNotNumber},
		{"sign only", "+", 1, 0, "+", ErrNotNumber},
		{"21 digits", "123456789012345678901", 1, 0, "123456789012345678901", ErrNotNumber},
		{"2^64", "18446744073709551616", 1, 0, "18446744073709551616", ErrNotNumber},
		{"2^63 with a minus after", "9223372036854775808 -", 1, 0, "9223372036854775808 -", ErrNotNumber},
		{"2^63-1 with a minus after", "9223372036854775807 -", 1, 1 << 63, "9223372036854775808  ", nil},
		{"2^63 with a minus after a nul", "9223372036854775808\x00-", 1, 1<<63 + 1, "9223372036854775809  ", nil},
		{"-2^63", "-9223372036854775808", 1, 0, "-9223372036854775808", ErrNotNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{})
			cas := mustSet(t, m, "n", tt.stored, SetOptions{Flags: 9})
			got, err := m.Incr("n", tt.delta, IncrOptions{})
			it := mustGet(t, m, "n", GetOptions{})
			assert.Equal(t, tt.after, string(it.Value))
			assert.Equal(t, uint32(9), it.Flags, "flags are kept")
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Equal(t, cas, it.CAS)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Greater(t, it.CAS, cas)
			check(t, m)
		})
	}
}

func TestIncrVivify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Options{})
		_, err := m.Incr("n", 1, IncrOptions{})
		require.ErrorIs(t, err, ErrNotFound)
		_, err = m.Incr("n", 1, IncrOptions{Initial: 5})
		require.ErrorIs(t, err, ErrNotFound, "Initial without Vivify")

		opt := IncrOptions{Vivify: true, Initial: 5, TTL: 30 * time.Second}
		got, err := m.Incr("n", 3, opt)
		require.NoError(t, err)
		assert.Equal(t, uint64(5), got, "delta is not applied on creation")
		it := mustGet(t, m, "n", GetOptions{})
		assert.Equal(t, Item{Value: []byte("5"), CAS: it.CAS, TTL: 30 * time.Second}, it)

		time.Sleep(10 * time.Second)
		got, err = m.Incr("n", 3, IncrOptions{Vivify: true, Initial: 5, TTL: time.Hour})
		require.NoError(t, err)
		assert.Equal(t, uint64(8), got)
		assert.Equal(t, 20*time.Second, mustGet(t, m, "n", GetOptions{}).TTL, "Incr never changes a TTL")

		got, err = m.Incr("d", -3, IncrOptions{Vivify: true, Initial: 7})
		require.NoError(t, err)
		assert.Equal(t, uint64(7), got)
		assert.Equal(t, NoExpiry, mustGet(t, m, "d", GetOptions{}).TTL)

		got, err = m.Incr("x", 1, IncrOptions{Vivify: true, Initial: 9, TTL: -time.Second})
		require.NoError(t, err)
		assert.Equal(t, uint64(9), got)
		requireMiss(t, m, "x")
	})
}

func TestIncrStaleItem(t *testing.T) {
	// In place (same length) keeps the stale and won states; a longer
	// result replaces the item and clears them, as memcached does.
	m := New(Options{})
	mustSet(t, m, "a", "9", SetOptions{})
	require.NoError(t, m.Delete("a", DeleteOptions{Invalidate: true}))
	_, err := m.Incr("a", -1, IncrOptions{})
	require.NoError(t, err)
	it := mustGet(t, m, "a", GetOptions{})
	assert.True(t, it.Stale && it.Won, "in place: still stale, and nobody won yet")
	_, err = m.Incr("a", -1, IncrOptions{})
	require.NoError(t, err)
	it = mustGet(t, m, "a", GetOptions{})
	assert.True(t, it.Stale && it.Busy)

	mustSet(t, m, "b", "9", SetOptions{})
	require.NoError(t, m.Delete("b", DeleteOptions{Invalidate: true}))
	mustGet(t, m, "b", GetOptions{})
	_, err = m.Incr("b", 1, IncrOptions{})
	require.NoError(t, err)
	it = mustGet(t, m, "b", GetOptions{})
	assert.Equal(t, "10", string(it.Value))
	assert.False(t, it.Stale || it.Busy || it.Won)
}

// parseCounterReference is an independent statement of memcached's rule:
// optional white space, an optional sign, at least one digit, then white
// space or the end; no overflow; a '-' only when the negated value is not
// negative as a signed number.
func parseCounterReference(s string) (uint64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	end := strings.IndexAny(t, " \t\n\v\f\r\x00")
	if end < 0 {
		end = len(t)
	}
	num := t[:end]
	neg := strings.HasPrefix(num, "-")
	num = strings.TrimPrefix(strings.TrimPrefix(num, "-"), "+")
	if num == "" || strings.ContainsAny(num[:1], "+-") {
		return 0, false
	}
	v, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	if before, _, _ := strings.Cut(s, "\x00"); int64(v) < 0 && strings.Contains(before, "-") {
		return 0, false
	}
	return v, true
}

func FuzzParseCounter(f *testing.F) {
	for _, s := range []string{"0", "12", " 12", "12 ", "+1", "-0", "-1", "1a", "", " ", "+", "-",
		"18446744073709551615", "18446744073709551616", "-18446744073709551615", "0001", "1 2", "\v7\f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseCounter(s)
		want, wantOK := parseCounterReference(s)
		require.Equal(t, wantOK, ok, "%q", s)
		require.Equal(t, want, got, "%q", s)
	})
}

func FuzzIncr(f *testing.F) {
	f.Add(uint64(5), int64(3))
	f.Add(uint64(10), int64(-1))
	f.Add(uint64(math.MaxUint64), int64(1))
	f.Add(uint64(0), int64(math.MinInt64))
	f.Add(uint64(99), int64(1))
	f.Fuzz(func(t *testing.T, v uint64, delta int64) {
		m := New(Options{})
		old := strconv.FormatUint(v, 10)
		mustSet(t, m, "n", old, SetOptions{})
		got, err := m.Incr("n", delta, IncrOptions{})
		require.NoError(t, err)
		// Reference in big integers: increments wrap at 2^64, decrements
		// stop at 0.
		r := new(big.Int).Add(new(big.Int).SetUint64(v), big.NewInt(delta))
		if r.Sign() < 0 {
			r.SetInt64(0)
		}
		want := new(big.Int).Mod(r, new(big.Int).Lsh(big.NewInt(1), 64)).Uint64()
		require.Equal(t, want, got)
		stored := string(mustGet(t, m, "n", GetOptions{}).Value)
		require.Equal(t, strconv.FormatUint(want, 10), strings.TrimRight(stored, " "))
		require.Equal(t, max(len(old), len(strconv.FormatUint(want, 10))), len(stored), "padded in place")
		check(t, m)
	})
}
