package cachestruct

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expectations below were read off memcached 1.6.18 with raw meta
// commands (ms with M/C/N/T/F flags, mg with v c t f N R, md with C I T).

func TestMemorySetModes(t *testing.T) {
	const stale = 1 << 62 // a CAS nobody has
	tests := []struct {
		name     string
		exists   bool
		opt      SetOptions
		err      error
		want     string // value afterwards, "" for a miss
		matchCAS bool   // use the existing item's CAS as opt.CAS
	}{
		{"set missing", false, SetOptions{}, nil, "new", false},
		{"set existing", true, SetOptions{}, nil, "new", false},
		{"add missing", false, SetOptions{Mode: ModeAdd}, nil, "new", false},
		{"add existing", true, SetOptions{Mode: ModeAdd}, ErrNotStored, "old", false},
		{"replace missing", false, SetOptions{Mode: ModeReplace}, ErrNotStored, "", false},
		{"replace existing", true, SetOptions{Mode: ModeReplace}, nil, "new", false},
		{"append missing", false, SetOptions{Mode: ModeAppend}, ErrNotStored, "", false},
		{"append existing", true, SetOptions{Mode: ModeAppend}, nil, "oldnew", false},
		{"prepend missing", false, SetOptions{Mode: ModePrepend}, ErrNotStored, "", false},
		{"prepend existing", true, SetOptions{Mode: ModePrepend}, nil, "newold", false},
		{"append vivify missing", false, SetOptions{Mode: ModeAppend, Vivify: true}, nil, "new", false},
		{"prepend vivify missing", false, SetOptions{Mode: ModePrepend, Vivify: true}, nil, "new", false},
		{"append vivify existing", true, SetOptions{Mode: ModeAppend, Vivify: true}, nil, "oldnew", false},

		{"set cas match", true, SetOptions{}, nil, "new", true},
		{"set cas mismatch", true, SetOptions{CAS: stale}, ErrCASConflict, "old", false},
		{"set cas missing", false, SetOptions{CAS: stale}, ErrNotFound, "", false},
		{"add cas missing stores", false, SetOptions{Mode: ModeAdd, CAS: stale}, nil, "new", false},
		{"add cas existing", true, SetOptions{Mode: ModeAdd}, ErrNotStored, "old", true},
		{"replace cas match", true, SetOptions{Mode: ModeReplace}, nil, "new", true},
		{"replace cas mismatch", true, SetOptions{Mode: ModeReplace, CAS: stale}, ErrCASConflict, "old", false},
		{"replace cas missing", false, SetOptions{Mode: ModeReplace, CAS: stale}, ErrNotFound, "", false},
		{"append cas match", true, SetOptions{Mode: ModeAppend}, nil, "oldnew", true},
		{"append cas mismatch", true, SetOptions{Mode: ModeAppend, CAS: stale}, ErrCASConflict, "old", false},
		{"append cas missing", false, SetOptions{Mode: ModeAppend, CAS: stale}, ErrNotStored, "", false},
		{"prepend cas mismatch", true, SetOptions{Mode: ModePrepend, CAS: stale}, ErrCASConflict, "old", false},
		{"prepend cas missing", false, SetOptions{Mode: ModePrepend, CAS: stale}, ErrNotStored, "", false},
		{"append vivify cas missing", false, SetOptions{Mode: ModeAppend, Vivify: true, CAS: stale}, ErrNotStored, "", false},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{})
			var oldCAS uint64
			if tt.exists {
				oldCAS = mustSet(t, m, "k", "old", SetOptions{})
			}
			opt := tt.opt
			if tt.matchCAS {
				opt.CAS = oldCAS
			}
			cas, err := m.Set(ctx, "k", []byte("new"), opt)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Zero(t, cas)
			} else {
				require.NoError(t, err)
				assert.Greater(t, cas, oldCAS)
			}
			if tt.want == "" {
				requireMiss(t, m, "k")
				return
			}
			it := mustGet(t, m, "k", GetOptions{})
			assert.Equal(t, tt.want, string(it.Value))
			if tt.err == nil {
				assert.Equal(t, cas, it.CAS, "Set returns the item's new CAS")
			} else {
				assert.Equal(t, oldCAS, it.CAS, "a failed Set leaves the item alone")
			}
		})
	}
}

func TestMemoryCASChangesOnEveryWrite(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	ctx := context.Background()
	seen := map[uint64]bool{}
	last := uint64(0)
	next := func(what string) {
		t.Helper()
		it := mustGet(t, m, "k", GetOptions{})
		require.Greater(t, it.CAS, last, what)
		require.False(t, seen[it.CAS], what)
		seen[it.CAS], last = true, it.CAS
	}
	mustSet(t, m, "k", "1", SetOptions{})
	next("set")
	mustSet(t, m, "k", "2", SetOptions{})
	next("set again, same size")
	mustSet(t, m, "k", "3", SetOptions{Mode: ModeReplace})
	next("replace")
	mustSet(t, m, "k", "4", SetOptions{Mode: ModeAppend})
	next("append")
	mustSet(t, m, "k", "5", SetOptions{Mode: ModePrepend})
	next("prepend")
	_, err := m.Incr(ctx, "k", 1, IncrOptions{})
	require.NoError(t, err)
	next("incr")
	_, err = m.Incr(ctx, "k", -1, IncrOptions{})
	require.NoError(t, err)
	next("decr")
	require.NoError(t, m.Delete(ctx, "k", DeleteOptions{Invalidate: true}))
	next("invalidate")
	mustGet(t, m, "k", GetOptions{})
	it := mustGet(t, m, "k", GetOptions{})
	assert.Equal(t, last, it.CAS, "reads do not change the CAS")

	// CASes are unique across keys too.
	other := mustSet(t, m, "other", "x", SetOptions{})
	assert.False(t, seen[other])
}

func TestMemoryAppendKeepsFlagsAndTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(MemoryOptions{})
		mustSet(t, m, "k", "hi", SetOptions{TTL: 100 * time.Second, Flags: 4})
		time.Sleep(10 * time.Second)
		mustSet(t, m, "k", "abc", SetOptions{Mode: ModeAppend, TTL: 5 * time.Second, Flags: 9})
		mustSet(t, m, "k", "Z", SetOptions{Mode: ModePrepend, TTL: time.Hour, Flags: 1})
		it := mustGet(t, m, "k", GetOptions{})
		assert.Equal(t, "Zhiabc", string(it.Value))
		assert.Equal(t, uint32(4), it.Flags)
		assert.Equal(t, 90*time.Second, it.TTL)

		// Vivify creates with the options' TTL and flags.
		mustSet(t, m, "v", "x", SetOptions{Mode: ModeAppend, Vivify: true, TTL: 30 * time.Second, Flags: 6})
		it = mustGet(t, m, "v", GetOptions{})
		assert.Equal(t, "x", string(it.Value))
		assert.Equal(t, uint32(6), it.Flags)
		assert.Equal(t, 30*time.Second, it.TTL)
		_, err := m.Set(context.Background(), "gone", []byte("x"), SetOptions{Mode: ModeAppend, Vivify: true, TTL: -1})
		require.NoError(t, err)
		requireMiss(t, m, "gone")
	})
}

func TestMemorySetCopiesValue(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	buf := []byte("abc")
	mustSet(t, m, "k", string(buf), SetOptions{})
	_, err := m.Set(context.Background(), "k", buf, SetOptions{})
	require.NoError(t, err)
	buf[0] = 'X'
	it := mustGet(t, m, "k", GetOptions{})
	assert.Equal(t, "abc", string(it.Value), "Set copies the caller's buffer")
	it.Value[0] = 'Y'
	assert.Equal(t, "abc", string(mustGet(t, m, "k", GetOptions{}).Value), "Get returns a copy")
	_, err = m.Set(context.Background(), "k", buf, SetOptions{Mode: ModeAppend})
	require.NoError(t, err)
	buf[1] = 'Y'
	assert.Equal(t, "abcXbc", string(mustGet(t, m, "k", GetOptions{}).Value))
}

func TestMemoryDelete(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	ctx := context.Background()
	require.ErrorIs(t, m.Delete(ctx, "nope", DeleteOptions{}), ErrNotFound)
	require.ErrorIs(t, m.Delete(ctx, "nope", DeleteOptions{Invalidate: true}), ErrNotFound)
	require.ErrorIs(t, m.Delete(ctx, "nope", DeleteOptions{CAS: 1}), ErrNotFound)

	cas := mustSet(t, m, "k", "v", SetOptions{})
	require.ErrorIs(t, m.Delete(ctx, "k", DeleteOptions{CAS: cas + 100}), ErrCASConflict)
	require.ErrorIs(t, m.Delete(ctx, "k", DeleteOptions{CAS: cas + 100, Invalidate: true}), ErrCASConflict)
	assert.False(t, mustGet(t, m, "k", GetOptions{}).Stale)
	require.NoError(t, m.Delete(ctx, "k", DeleteOptions{CAS: cas}))
	requireMiss(t, m, "k")
	require.ErrorIs(t, m.Delete(ctx, "k", DeleteOptions{}), ErrNotFound)
}

func TestMemoryLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(MemoryOptions{})
		ctx := context.Background()
		lease := GetOptions{Lease: 30 * time.Second}

		won := mustGet(t, m, "k", lease)
		assert.True(t, won.Won)
		assert.False(t, won.Busy)
		assert.Empty(t, won.Value)
		assert.NotNil(t, won.Value)
		assert.Zero(t, won.Flags)
		assert.NotZero(t, won.CAS)

		// Everyone else sees the placeholder as busy, with or without a lease.
		time.Sleep(time.Second)
		for _, opt := range []GetOptions{lease, {}, {Recache: time.Hour}} {
			it := mustGet(t, m, "k", opt)
			assert.True(t, it.Busy)
			assert.False(t, it.Won)
			assert.Equal(t, won.CAS, it.CAS)
			assert.Equal(t, 29*time.Second, it.TTL)
		}
		items, err := m.GetMulti(ctx, []string{"k"})
		require.NoError(t, err)
		assert.True(t, items["k"].Busy)
		_, err = m.Incr(ctx, "k", 1, IncrOptions{})
		require.ErrorIs(t, err, ErrNotNumber, "a placeholder is not a counter")

		// The winner stores with the placeholder's CAS; a late writer with
		// the same old CAS loses.
		cas, err := m.Set(ctx, "k", []byte("fresh"), SetOptions{CAS: won.CAS, TTL: time.Minute, Flags: 7})
		require.NoError(t, err)
		_, err = m.Set(ctx, "k", []byte("late"), SetOptions{CAS: won.CAS})
		require.ErrorIs(t, err, ErrCASConflict)
		it := mustGet(t, m, "k", lease)
		assert.Equal(t, Item{Value: []byte("fresh"), Flags: 7, CAS: cas, TTL: time.Minute}, it)

		// An abandoned lease expires and can be won again.
		mustGet(t, m, "a", GetOptions{Lease: 2 * time.Second})
		assert.True(t, mustGet(t, m, "a", lease).Busy)
		time.Sleep(2 * time.Second)
		again := mustGet(t, m, "a", lease)
		assert.True(t, again.Won)
		assert.Equal(t, 30*time.Second, again.TTL)

		// A plain Set over a placeholder, and a Delete of one, end the lease.
		mustGet(t, m, "p", lease)
		mustSet(t, m, "p", "zz", SetOptions{})
		it = mustGet(t, m, "p", lease)
		assert.False(t, it.Busy || it.Won)
		mustGet(t, m, "d", lease)
		require.NoError(t, m.Delete(ctx, "d", DeleteOptions{}))
		assert.True(t, mustGet(t, m, "d", lease).Won)

		// A sub-second lease lasts a whole second; a lease on a hit does
		// nothing.
		mustGet(t, m, "s", GetOptions{Lease: time.Nanosecond})
		assert.Equal(t, time.Second, mustGet(t, m, "s", GetOptions{}).TTL)
		mustSet(t, m, "h", "v", SetOptions{})
		it = mustGet(t, m, "h", lease)
		assert.False(t, it.Won || it.Busy)
		assert.Equal(t, NoExpiry, it.TTL)
	})
}

func TestMemoryRecache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(MemoryOptions{})
		mustSet(t, m, "k", "hi", SetOptions{TTL: 30 * time.Second})
		mustSet(t, m, "forever", "hi", SetOptions{})

		it := mustGet(t, m, "k", GetOptions{Recache: 20 * time.Second})
		assert.False(t, it.Won || it.Busy, "30s left is not below 20s")
		it = mustGet(t, m, "k", GetOptions{Recache: 30 * time.Second})
		assert.False(t, it.Won || it.Busy, "30s left is not below 30s")
		assert.False(t, mustGet(t, m, "forever", GetOptions{Recache: time.Hour}).Won, "no TTL, no recache")

		time.Sleep(11 * time.Second) // 19s left
		it = mustGet(t, m, "k", GetOptions{Recache: 20 * time.Second})
		assert.True(t, it.Won)
		assert.False(t, it.Busy)
		assert.Equal(t, "hi", string(it.Value))
		for _, opt := range []GetOptions{{Recache: 20 * time.Second}, {}} {
			it = mustGet(t, m, "k", opt)
			assert.True(t, it.Busy, "the others are told someone is on it")
			assert.False(t, it.Won)
		}
		// Rewriting the item ends the recache.
		mustSet(t, m, "k", "ho", SetOptions{TTL: 30 * time.Second})
		it = mustGet(t, m, "k", GetOptions{Recache: 30 * time.Second})
		assert.False(t, it.Won || it.Busy)
		// A sub-second threshold counts as a whole second.
		time.Sleep(29 * time.Second)
		it = mustGet(t, m, "k", GetOptions{Recache: time.Millisecond})
		assert.False(t, it.Won, "1s left is not below 1s")
		it = mustGet(t, m, "k", GetOptions{Recache: 1001 * time.Millisecond})
		assert.True(t, it.Won)
		mustSet(t, m, "k", "v", SetOptions{TTL: time.Hour})
		it = mustGet(t, m, "k", GetOptions{Recache: time.Duration(1<<63 - 1)})
		assert.True(t, it.Won, "the longest threshold does not overflow")
	})
}

func TestMemoryInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(MemoryOptions{})
		ctx := context.Background()
		old := mustSet(t, m, "k", "hi", SetOptions{TTL: 100 * time.Second, Flags: 3})
		require.NoError(t, m.Delete(ctx, "k", DeleteOptions{Invalidate: true, TTL: 30 * time.Second}))

		first := mustGet(t, m, "k", GetOptions{})
		assert.Equal(t, Item{Value: []byte("hi"), Flags: 3, CAS: first.CAS, TTL: 30 * time.Second, Stale: true, Won: true}, first)
		assert.Greater(t, first.CAS, old, "invalidation gives a new CAS")
		for _, opt := range []GetOptions{{}, {Lease: time.Minute}, {Recache: time.Hour}} {
			it := mustGet(t, m, "k", opt)
			assert.True(t, it.Stale && it.Busy && !it.Won)
		}

		// A writer holding the CAS from before the invalidation loses; the
		// winner (with the stale item's CAS) stores a fresh item.
		_, err := m.Set(ctx, "k", []byte("old"), SetOptions{CAS: old})
		require.ErrorIs(t, err, ErrCASConflict)
		cas, err := m.Set(ctx, "k", []byte("nw"), SetOptions{CAS: first.CAS, TTL: 50 * time.Second})
		require.NoError(t, err)
		assert.Equal(t, Item{Value: []byte("nw"), CAS: cas, TTL: 50 * time.Second}, mustGet(t, m, "k", GetOptions{}))

		// Without a TTL the stale item keeps its own; invalidating again
		// gives the win to the next reader again.
		mustSet(t, m, "t", "hi", SetOptions{TTL: 100 * time.Second})
		require.NoError(t, m.Delete(ctx, "t", DeleteOptions{Invalidate: true}))
		it := mustGet(t, m, "t", GetOptions{})
		assert.True(t, it.Won && it.Stale)
		assert.Equal(t, 100*time.Second, it.TTL)
		require.NoError(t, m.Delete(ctx, "t", DeleteOptions{Invalidate: true, TTL: 10 * time.Second, CAS: it.CAS}))
		it = mustGet(t, m, "t", GetOptions{})
		assert.True(t, it.Won && it.Stale)
		assert.Equal(t, 10*time.Second, it.TTL)

		// A Recache winner loses its claim to the invalidation.
		mustSet(t, m, "r", "hi", SetOptions{TTL: 100 * time.Second})
		assert.True(t, mustGet(t, m, "r", GetOptions{Recache: time.Hour}).Won)
		require.NoError(t, m.Delete(ctx, "r", DeleteOptions{Invalidate: true}))
		assert.True(t, mustGet(t, m, "r", GetOptions{}).Won)

		// A negative TTL expires the item at once.
		mustSet(t, m, "n", "hi", SetOptions{})
		require.NoError(t, m.Delete(ctx, "n", DeleteOptions{Invalidate: true, TTL: -1}))
		requireMiss(t, m, "n")

		// Stale items: add fails, replace and append store fresh items,
		// a plain Delete removes them.
		for _, tc := range []struct {
			opt  SetOptions
			err  error
			want string
		}{
			{SetOptions{Mode: ModeAdd}, ErrNotStored, "5"},
			{SetOptions{Mode: ModeReplace}, nil, "6"},
			{SetOptions{Mode: ModeAppend}, nil, "56"},
			{SetOptions{}, nil, "6"},
		} {
			mustSet(t, m, "s", "5", SetOptions{})
			require.NoError(t, m.Delete(ctx, "s", DeleteOptions{Invalidate: true}))
			_, err := m.Set(ctx, "s", []byte("6"), tc.opt)
			require.ErrorIs(t, err, tc.err)
			it := mustGet(t, m, "s", GetOptions{})
			assert.Equal(t, tc.want, string(it.Value))
			assert.Equal(t, tc.err != nil, it.Stale, "mode %d", tc.opt.Mode)
		}
		require.NoError(t, m.Delete(ctx, "s", DeleteOptions{}))
		requireMiss(t, m, "s")

		// GetMulti is a plain read: it takes the win of a stale item.
		mustSet(t, m, "g", "v", SetOptions{})
		require.NoError(t, m.Delete(ctx, "g", DeleteOptions{Invalidate: true}))
		items, err := m.GetMulti(ctx, []string{"g", "g"})
		require.NoError(t, err)
		assert.True(t, items["g"].Won && items["g"].Stale)
		assert.True(t, mustGet(t, m, "g", GetOptions{}).Busy)
	})
}

func TestMemoryGetMulti(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(MemoryOptions{})
		ctx := context.Background()
		mustSet(t, m, "a", "1", SetOptions{Flags: 1})
		mustSet(t, m, "b", "2", SetOptions{TTL: time.Second})
		mustSet(t, m, "c", "3", SetOptions{TTL: 10 * time.Second})
		time.Sleep(time.Second)

		items, err := m.GetMulti(ctx, []string{"a", "b", "c", "missing", "a"})
		require.NoError(t, err)
		require.Len(t, items, 2)
		assert.Equal(t, "1", string(items["a"].Value))
		assert.Equal(t, uint32(1), items["a"].Flags)
		assert.Equal(t, NoExpiry, items["a"].TTL)
		assert.Equal(t, 9*time.Second, items["c"].TTL)

		// The values are private copies, and appending to one leaves the
		// others alone.
		a := items["a"]
		a.Value[0] = 'X'
		_ = append(a.Value, "yyyy"...)
		assert.Equal(t, "3", string(items["c"].Value))
		assert.Equal(t, "1", string(mustGet(t, m, "a", GetOptions{}).Value))

		items, err = m.GetMulti(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, items)
		_, err = m.GetMulti(ctx, []string{"a", "bad key"})
		require.ErrorIs(t, err, ErrInvalidKey)
	})
}

func TestMemoryAllocations(t *testing.T) {
	// The hot paths allocate only what they must: a get its private copy
	// of the value, a write the stored string (value and key together).
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	value, big := make([]byte, 100), make([]byte, 1000)
	mustSet(t, m, "user:1:profile", string(value), SetOptions{})
	mustSet(t, m, "counter", "1", SetOptions{})
	tests := []struct {
		name string
		op   func()
		want float64
	}{
		{"get hit", func() { _, _, _ = m.Get(ctx, "user:1:profile", GetOptions{}) }, 1},
		{"get miss", func() { _, _, _ = m.Get(ctx, "user:2:profile", GetOptions{}) }, 0},
		{"set over an item", func() { _, _ = m.Set(ctx, "user:1:profile", value, SetOptions{}) }, 1},
		{"set of a large value", func() { _, _ = m.Set(ctx, "big", big, SetOptions{}) }, 1},
		{"incr", func() { _, _ = m.Incr(ctx, "counter", 1, IncrOptions{}) }, 1},
		{"delete of a missing item", func() { _ = m.Delete(ctx, "none", DeleteOptions{}) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, testing.AllocsPerRun(100, tt.op))
		})
	}
}

func TestMemoryErrors(t *testing.T) {
	// Each of the engine's outcomes reaches the caller as this package's
	// sentinel, and only as that.
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	cas := mustSet(t, m, "k", "x", SetOptions{})
	tests := []struct {
		name string
		err  func() error
		want error
	}{
		{"invalid key", func() error { _, _, err := m.Get(ctx, "a b", GetOptions{}); return err }, ErrInvalidKey},
		{"value too large", func() error { _, err := m.Set(ctx, "k", make([]byte, 2<<20), SetOptions{}); return err }, ErrValueTooLarge},
		{"not found", func() error { return m.Delete(ctx, "none", DeleteOptions{}) }, ErrNotFound},
		{"not stored", func() error { _, err := m.Set(ctx, "k", nil, SetOptions{Mode: ModeAdd}); return err }, ErrNotStored},
		{"cas conflict", func() error { _, err := m.Set(ctx, "k", nil, SetOptions{CAS: cas + 1}); return err }, ErrCASConflict},
		{"not a number", func() error { _, err := m.Incr(ctx, "k", 1, IncrOptions{}); return err }, ErrNotNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			require.ErrorIs(t, err, tt.want)
			assert.Equal(t, tt.want, err, "the sentinel itself, unwrapped")
		})
	}
}
