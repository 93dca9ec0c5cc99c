package memstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcache"
)

func TestLRUEviction(t *testing.T) {
	value := make([]byte, 100)
	perItem := charge("k000", len(value)) // every key below is 4 bytes
	tests := []struct {
		name     string
		capacity int64 // items that fit
	}{
		{"1 item", 1},
		{"10 items", 10},
		{"100 items", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{MaxBytes: tt.capacity * perItem})
			require.Len(t, m.shards, 1)
			for i := range tt.capacity + 5 {
				_, err := m.Set(fmt.Sprintf("k%03d", i), value, SetOptions{})
				require.NoError(t, err)
				check(t, m)
			}
			// Exactly the newest capacity items survive.
			for i := range tt.capacity + 5 {
				_, found, err := get(m, fmt.Sprintf("k%03d", i), GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, i >= 5, found, "k%03d", i)
			}
			assert.Equal(t, tt.capacity*perItem, m.shards[0].bytes)
		})
	}
}

// lruOrder returns the keys of a single-shard store from the front to the
// cold end of its LRU, a used item followed by "*".
func lruOrder(m *Store) []string {
	var keys []string
	m.shards[0].each(func(e *entry) {
		k := e.key()
		if e.ref {
			k += "*"
		}
		keys = append(keys, k)
	})
	return keys
}

func TestLRUSecondChance(t *testing.T) {
	m := New(Options{MaxBytes: 3 * charge("a", 1)})
	require.Len(t, m.shards, 1)
	mustSet(t, m, "a", "1", SetOptions{})
	mustSet(t, m, "b", "2", SetOptions{})
	mustSet(t, m, "c", "3", SetOptions{})
	assert.Equal(t, []string{"c", "b", "a"}, lruOrder(m), "new items enter at the front, unmarked")

	// A read or a write only marks the item: nothing moves.
	mustGet(t, m, "a", GetOptions{})
	_, err := m.Incr("b", 1, IncrOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"c", "b*", "a*"}, lruOrder(m))

	// Eviction gives a and b (in the order they reach the cold end) a
	// second chance and evicts c, the unmarked one.
	mustSet(t, m, "d", "4", SetOptions{})
	assert.Equal(t, []string{"b", "a", "d"}, lruOrder(m))
	requireMiss(t, m, "c")

	// Now nobody used d since it entered: it goes before a and b.
	mustSet(t, m, "e", "5", SetOptions{})
	assert.Equal(t, []string{"e", "b", "a"}, lruOrder(m))
	requireMiss(t, m, "d")

	// An overwrite marks the item too, and so does a write that fails on
	// it; a miss marks nothing.
	mustSet(t, m, "a", "6", SetOptions{})
	requireMiss(t, m, "zz")
	assert.Equal(t, []string{"e", "b", "a*"}, lruOrder(m))
	_, err = m.Set("e", []byte("x"), SetOptions{Mode: ModeAdd})
	require.ErrorIs(t, err, ErrNotStored)
	assert.Equal(t, []string{"e*", "b", "a*"}, lruOrder(m))
	mustSet(t, m, "f", "7", SetOptions{})
	assert.Equal(t, []string{"a", "f", "e*"}, lruOrder(m))
	requireMiss(t, m, "b")

	// When every item is marked, a whole pass clears the marks and the
	// one at the cold end goes.
	for _, k := range []string{"f", "a", "e"} {
		mustGet(t, m, k, GetOptions{})
	}
	mustSet(t, m, "g", "8", SetOptions{})
	assert.Equal(t, []string{"g", "a", "f"}, lruOrder(m))
	requireMiss(t, m, "e")
	check(t, m)
}

func TestLRUBoundsSecondChances(t *testing.T) {
	// 40 items, all read: one eviction moves the 32 coldest to the front
	// and evicts the 33rd though it was read too.
	m := New(Options{MaxBytes: 40 * charge("k00", 1)})
	require.Len(t, m.shards, 1)
	var want []string
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		mustSet(t, m, k, "v", SetOptions{})
		mustGet(t, m, k, GetOptions{})
	}
	mustSet(t, m, "n00", "v", SetOptions{})
	for i := maxChances - 1; i >= 0; i-- {
		want = append(want, fmt.Sprintf("k%02d", i))
	}
	want = append(want, "n00")
	for i := 39; i > maxChances; i-- {
		want = append(want, fmt.Sprintf("k%02d*", i))
	}
	assert.Equal(t, want, lruOrder(m))
	requireMiss(t, m, fmt.Sprintf("k%02d", maxChances))
	check(t, m)
}

func TestLRUKeepsTheWrittenItem(t *testing.T) {
	// Growing the item at the cold end evicts others, never the item
	// itself: it goes to the front instead.
	m := New(Options{MaxBytes: 3 * charge("a", 1)})
	mustSet(t, m, "a", "1", SetOptions{})
	mustSet(t, m, "b", "2", SetOptions{})
	mustSet(t, m, "c", "3", SetOptions{})
	mustSet(t, m, "a", "11", SetOptions{Mode: ModeAppend})
	assert.Equal(t, []string{"a", "c"}, lruOrder(m))
	requireMiss(t, m, "b")
	assert.Equal(t, "111", string(mustGet(t, m, "a", GetOptions{}).Value))
	check(t, m)

	// The same when it is the only one left to evict (a was read: marked).
	mustSet(t, m, "a", strings.Repeat("1", 200), SetOptions{Mode: ModeAppend})
	assert.Equal(t, []string{"a*"}, lruOrder(m))
	check(t, m)
}

func TestLRUEvictsExpiredMarkedItems(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := New(Options{MaxBytes: 3 * charge("a", 1), Now: func() time.Time { return now }})
	mustSet(t, m, "x", "1", SetOptions{TTL: time.Second})
	mustSet(t, m, "a", "2", SetOptions{})
	mustSet(t, m, "b", "3", SetOptions{})
	mustGet(t, m, "x", GetOptions{})
	now = now.Add(2 * time.Second)
	// x is marked but expired: evicted, no second chance, and a stays.
	mustSet(t, m, "c", "4", SetOptions{})
	assert.Equal(t, []string{"c", "b", "a"}, lruOrder(m))
	check(t, m)
}

func TestShardsBoundMemory(t *testing.T) {
	const maxBytes = 8 << 20
	m := New(Options{MaxBytes: maxBytes, MaxItemSize: 64 << 10})
	require.Len(t, m.shards, maxShards)
	value := make([]byte, 200)
	var total int
	for i := range 40_000 {
		_, err := m.Set("key:"+strconv.Itoa(i), value, SetOptions{})
		require.NoError(t, err)
		total += int(charge("key:"+strconv.Itoa(i), len(value)))
	}
	check(t, m)
	var bytes int64
	for i := range m.shards {
		bytes += m.shards[i].bytes
	}
	assert.LessOrEqual(t, bytes, int64(maxBytes))
	assert.Greater(t, bytes, int64(maxBytes*9/10), "shards are filled evenly")
	assert.Greater(t, total, maxBytes, "the test did overflow the store")
}

func TestTinyStore(t *testing.T) {
	// A store too small for any item refuses values and leases quietly.
	m := New(Options{MaxBytes: 10})
	_, err := m.Set("k", nil, SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
	it := mustGet(t, m, "k", GetOptions{Lease: time.Minute})
	assert.True(t, it.Won)
	n, err := m.Incr("n", 1, IncrOptions{Vivify: true, Initial: 3})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), n)
	requireMiss(t, m, "k")
	requireMiss(t, m, "n")
	check(t, m)
}

func TestConcurrent(t *testing.T) {
	m := New(Options{MaxBytes: 1 << 20, MaxItemSize: 8 << 10})
	const workers, ops = 8, 500
	var wg sync.WaitGroup
	cases := make([][]uint64, workers)
	wins := make([]int, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				_, err := m.Incr("counter", 1, IncrOptions{Vivify: true})
				assert.NoError(t, err)
				cas, err := m.Set(fmt.Sprintf("w%d:%d", w, i%50), []byte("value"), SetOptions{})
				assert.NoError(t, err)
				cases[w] = append(cases[w], cas)
				it, _, err := get(m, "lease", GetOptions{Lease: time.Hour})
				assert.NoError(t, err)
				if it.Won {
					wins[w]++
				}
				_, err = GetMulti(m, []string{"counter", "w0:1", "w1:2"}, func(it Item) Item { return it })
				assert.NoError(t, err)
				_, err = m.Set("log", []byte("x"), SetOptions{Mode: ModeAppend, Vivify: true})
				assert.NoError(t, err)
				_ = m.Delete(fmt.Sprintf("w%d:%d", (w+1)%workers, i%50), DeleteOptions{})
			}
		})
	}
	wg.Wait()
	check(t, m)

	it := mustGet(t, m, "counter", GetOptions{})
	// The first Incr created the counter at 0 without adding 1.
	assert.Equal(t, strconv.Itoa(workers*ops-1), string(it.Value))
	assert.Len(t, mustGet(t, m, "log", GetOptions{}).Value, workers*ops)
	total := 0
	for _, n := range wins {
		total += n
	}
	assert.Equal(t, 1, total, "exactly one goroutine wins the lease")
	seen := map[uint64]bool{}
	for _, cs := range cases {
		for i, c := range cs {
			require.False(t, seen[c], "CAS %d handed out twice", c)
			seen[c] = true
			if i > 0 {
				require.Greater(t, c, cs[i-1], "CAS values increase")
			}
		}
	}
}

// FuzzMemoryOps runs a sequence of operations decoded from the input on a
// small store and checks its invariants after each one.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("set get lease recache invalidate incr append prepend delete"))
	f.Add([]byte{7, 0, 7, 1, 2, 0, 3, 0, 9, 200, 4, 255, 1, 1, 1, 1, 6, 6, 6})
	f.Fuzz(func(t *testing.T, prog []byte) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		m := New(Options{MaxBytes: 2048, MaxItemSize: 400, BinaryKeys: true, Now: func() time.Time { return now }})
		keys := []string{"a", "b", "c d", "\x00", "counter"}
		for len(prog) >= 4 {
			op, k, arg, n := prog[0]%10, keys[int(prog[1])%len(keys)], prog[2], prog[3]
			prog = prog[4:]
			ttl := time.Duration(int(arg%8)-2) * time.Second // -2s .. 5s
			value := make([]byte, int(n)*2)
			var err error
			switch op {
			case 0:
				_, err = m.Set(k, value, SetOptions{Mode: Mode(arg % 5), TTL: ttl, Flags: uint32(n), Vivify: n%2 == 0})
			case 1:
				_, _, err = get(m, k, GetOptions{Lease: ttl, Recache: time.Duration(n) * time.Second})
			case 2:
				err = m.Delete(k, DeleteOptions{Invalidate: arg%2 == 0, TTL: ttl})
			case 3:
				_, err = m.Incr(k, int64(int8(n)), IncrOptions{Vivify: arg%2 == 0, Initial: uint64(n), TTL: ttl})
			case 4:
				_, err = GetMulti(m, keys, func(it Item) Item { return it })
			case 5:
				now = now.Add(time.Duration(n) * 100 * time.Millisecond)
			case 6:
				_, err = m.Set(k, strconv.AppendUint(nil, uint64(n), 10), SetOptions{TTL: ttl})
			case 7:
				var it Item
				it, _, err = get(m, k, GetOptions{})
				if err == nil && it.CAS != 0 {
					_, err = m.Set(k, value, SetOptions{CAS: it.CAS + uint64(arg%2)})
				}
			case 8:
				_, err = m.Set(k, binary.AppendUvarint(nil, uint64(n)), SetOptions{Mode: ModeAppend})
			case 9:
				var it Item
				var found bool
				it, found, err = get(m, k, GetOptions{})
				if found {
					require.False(t, it.Won && it.Busy)
					require.True(t, it.TTL == NoExpiry || it.TTL >= time.Second, "TTL %v", it.TTL)
					require.LessOrEqual(t, memcache.ItemSize(len(k), len(it.Value), it.Flags), 400)
				}
			}
			if err != nil {
				require.Truef(t, errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotStored) ||
					errors.Is(err, ErrCASConflict) || errors.Is(err, ErrNotNumber) ||
					errors.Is(err, ErrValueTooLarge), "op %d: %v", op, err)
			}
			check(t, m)
		}
	})
}
