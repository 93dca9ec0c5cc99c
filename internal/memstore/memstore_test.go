package memstore

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcache"
)

// check verifies the internal consistency of every shard: table and LRU
// list hold the same entries, each in the shard its hash picks and found
// from its slot's home, the table is at most three quarters full, the
// byte count is the sum of the charges and stays within the limit.
func check(t testing.TB, m *Store) {
	t.Helper()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n, bytes := 0, int64(0)
		s.each(func(e *entry) {
			require.Equal(t, e.idx, s.at(e.next).prev, "broken LRU links")
			require.Equal(t, e.idx, s.at(e.prev).next, "broken LRU links")
			h := m.hash(e.key())
			require.Equal(t, uint64(i), h&m.mask, "entry in the wrong shard")
			require.Equal(t, uint32(h>>32), e.hash, "entry's hash")
			require.Equal(t, e.idx, s.find(h, e.key()), "LRU entry not in the table")
			bytes += charge(e.key(), e.valueLen())
			n++
		})
		slots := 0
		for _, slot := range s.table {
			if slot != 0 {
				slots++
			}
		}
		require.Equal(t, s.count, slots, "table count")
		require.LessOrEqual(t, 4*slots, 3*len(s.table), "table load")
		free := 0
		for i := s.free; i != 0; i = s.at(i).next {
			require.Empty(t, s.at(i).data, "a free slot holds data")
			free++
		}
		require.Equal(t, int(s.used)-1, n+free, "slots leak")
		require.Equal(t, s.count, n, "table and LRU sizes differ")
		require.Equal(t, bytes, s.bytes, "byte count")
		require.LessOrEqual(t, s.bytes, s.limit, "shard over its limit")
		s.mu.Unlock()
	}
}

// each calls f for every item from the front to the cold end of the LRU.
func (sh *shard) each(f func(*entry)) {
	for i := sh.sentinel().next; i != 0; i = sh.at(i).next {
		f(sh.at(i))
	}
}

// charge is what an item costs against MaxBytes.
func charge(key string, valueLen int) int64 {
	return int64(len(key)) + int64(valueLen) + entryOverhead
}

func mustSet(t *testing.T, m *Store, key, value string, opt SetOptions) uint64 {
	t.Helper()
	cas, err := m.Set(key, []byte(value), opt)
	require.NoError(t, err)
	return cas
}

func mustGet(t *testing.T, m *Store, key string, opt GetOptions) Item {
	t.Helper()
	it, found, err := get(m, key, opt)
	require.NoError(t, err)
	require.True(t, found, "miss on %q", key)
	return it
}

func requireMiss(t *testing.T, m *Store, key string) {
	t.Helper()
	_, found, err := get(m, key, GetOptions{})
	require.NoError(t, err)
	require.False(t, found, "hit on %q", key)
}

func TestNew(t *testing.T) {
	m := New(Options{})
	assert.Equal(t, memcache.DefaultMaxItemSize, m.maxItemSize)
	assert.Len(t, m.shards, maxShards)
	assert.Equal(t, int64(defaultMaxBytes/maxShards), m.shards[0].limit)

	small := New(Options{MaxBytes: 4 << 20})
	assert.Len(t, small.shards, 1, "4 MiB with 1 MiB items is one exact LRU")
	two := New(Options{MaxBytes: 8 << 20})
	assert.Len(t, two.shards, 2)

	assert.PanicsWithValue(t, "memstore: New with a negative MaxBytes or MaxItemSize", func() {
		New(Options{MaxBytes: -1})
	})
	assert.Panics(t, func() { New(Options{MaxItemSize: -1}) })
}

func TestTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Options{})
		mustSet(t, m, "forever", "v", SetOptions{TTL: 0})
		mustSet(t, m, "sub", "v", SetOptions{TTL: time.Millisecond})
		mustSet(t, m, "1.5s", "v", SetOptions{TTL: 1500 * time.Millisecond})
		mustSet(t, m, "30s", "v", SetOptions{TTL: 30 * time.Second})
		_, err := m.Set("neg", []byte("v"), SetOptions{TTL: -time.Second})
		require.NoError(t, err)

		requireMiss(t, m, "neg")
		assert.Equal(t, NoExpiry, mustGet(t, m, "forever", GetOptions{}).TTL)
		assert.Equal(t, time.Second, mustGet(t, m, "sub", GetOptions{}).TTL, "sub-second rounds up")
		assert.Equal(t, 2*time.Second, mustGet(t, m, "1.5s", GetOptions{}).TTL)
		assert.Equal(t, 30*time.Second, mustGet(t, m, "30s", GetOptions{}).TTL)

		time.Sleep(500 * time.Millisecond)
		assert.Equal(t, time.Second, mustGet(t, m, "sub", GetOptions{}).TTL)
		assert.Equal(t, 30*time.Second, mustGet(t, m, "30s", GetOptions{}).TTL, "TTL left rounds up")

		time.Sleep(500 * time.Millisecond)
		requireMiss(t, m, "sub")
		assert.Equal(t, time.Second, mustGet(t, m, "1.5s", GetOptions{}).TTL)
		assert.Equal(t, 29*time.Second, mustGet(t, m, "30s", GetOptions{}).TTL)

		time.Sleep(time.Second)
		requireMiss(t, m, "1.5s")
		time.Sleep(27*time.Second + 999*time.Millisecond)
		assert.Equal(t, time.Second, mustGet(t, m, "30s", GetOptions{}).TTL)
		time.Sleep(time.Millisecond)
		requireMiss(t, m, "30s")
		time.Sleep(365 * 24 * time.Hour)
		assert.Equal(t, NoExpiry, mustGet(t, m, "forever", GetOptions{}).TTL)
		check(t, m)
	})
}

func TestInjectedClock(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := New(Options{Now: func() time.Time { return now }})
	mustSet(t, m, "k", "v", SetOptions{TTL: 90 * 24 * time.Hour}) // > 30 days stays relative
	now = now.Add(89 * 24 * time.Hour)
	assert.Equal(t, 24*time.Hour, mustGet(t, m, "k", GetOptions{}).TTL)
	now = now.Add(24 * time.Hour)
	requireMiss(t, m, "k")
	mustSet(t, m, "max", "v", SetOptions{TTL: time.Duration(1<<63 - 1)})
	assert.Equal(t, NoExpiry, mustGet(t, m, "max", GetOptions{}).TTL, "beyond 2262 is never")

	// A clock before 1970 works too.
	now = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	mustSet(t, m, "old", "v", SetOptions{TTL: time.Minute})
	assert.Equal(t, time.Minute, mustGet(t, m, "old", GetOptions{}).TTL)
	mustSet(t, m, "old", "v", SetOptions{TTL: time.Duration(1<<63 - 1)})
	assert.Equal(t, NoExpiry, mustGet(t, m, "old", GetOptions{}).TTL)
}

func TestExpiredItemsAreReclaimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Options{MaxBytes: 1 << 20})
		for i := range 100 {
			mustSet(t, m, "old"+string(rune('A'+i%26))+strings.Repeat("x", i), "v", SetOptions{TTL: time.Second})
		}
		time.Sleep(2 * time.Second)
		for i := range 60 {
			mustSet(t, m, "new"+strings.Repeat("y", i), "v", SetOptions{})
		}
		check(t, m)
		assert.Equal(t, 60, m.shards[0].count, "each write drops up to two expired items from the cold end")
	})
}

func TestItemTooLargeForTheShard(t *testing.T) {
	m := New(Options{MaxBytes: 1000})
	_, err := m.Set("k", make([]byte, 1000-entryOverhead-1), SetOptions{})
	require.NoError(t, err)
	_, err = m.Set("k", make([]byte, 1000-entryOverhead), SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
	check(t, m)
}

// get is Get with the item returned.
func get(m *Store, key string, opt GetOptions) (Item, bool, error) {
	var it Item
	found, err := m.Get(key, opt, &it)
	return it, found, err
}
