package cachestruct

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemoryLRUEviction(t *testing.T) {
	ctx := context.Background()
	value := make([]byte, 100)
	perItem := memCharge("k000", len(value)) // every key below is 4 bytes
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
			m := NewMemory(MemoryOptions{MaxBytes: tt.capacity * perItem})
			require.Len(t, m.shards, 1)
			for i := range tt.capacity + 5 {
				_, err := m.Set(ctx, fmt.Sprintf("k%03d", i), value, SetOptions{})
				require.NoError(t, err)
				memCheck(t, m)
			}
			// Exactly the newest capacity items survive.
			for i := range tt.capacity + 5 {
				_, found, err := m.Get(ctx, fmt.Sprintf("k%03d", i), GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, i >= 5, found, "k%03d", i)
			}
			assert.Equal(t, tt.capacity*perItem, m.shards[0].bytes)
		})
	}
}

// lruOrder returns the keys of a single-shard store from the front to the
// cold end of its LRU, a used item followed by "*".
func lruOrder(m *Memory) []string {
	var keys []string
	m.shards[0].each(func(e *memEntry) {
		k := e.key()
		if e.ref {
			k += "*"
		}
		keys = append(keys, k)
	})
	return keys
}

func TestMemoryLRUSecondChance(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{MaxBytes: 3 * memCharge("a", 1)})
	require.Len(t, m.shards, 1)
	mustSet(t, m, "a", "1", SetOptions{})
	mustSet(t, m, "b", "2", SetOptions{})
	mustSet(t, m, "c", "3", SetOptions{})
	assert.Equal(t, []string{"c", "b", "a"}, lruOrder(m), "new items enter at the front, unmarked")

	// A read or a write only marks the item: nothing moves.
	mustGet(t, m, "a", GetOptions{})
	_, err := m.Incr(ctx, "b", 1, IncrOptions{})
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
	_, err = m.Set(ctx, "e", []byte("x"), SetOptions{Mode: ModeAdd})
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
	memCheck(t, m)
}

func TestMemoryLRUBoundsSecondChances(t *testing.T) {
	// 40 items, all read: one eviction moves the 32 coldest to the front
	// and evicts the 33rd though it was read too.
	m := NewMemory(MemoryOptions{MaxBytes: 40 * memCharge("k00", 1)})
	require.Len(t, m.shards, 1)
	var want []string
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		mustSet(t, m, k, "v", SetOptions{})
		mustGet(t, m, k, GetOptions{})
	}
	mustSet(t, m, "n00", "v", SetOptions{})
	for i := memMaxChances - 1; i >= 0; i-- {
		want = append(want, fmt.Sprintf("k%02d", i))
	}
	want = append(want, "n00")
	for i := 39; i > memMaxChances; i-- {
		want = append(want, fmt.Sprintf("k%02d*", i))
	}
	assert.Equal(t, want, lruOrder(m))
	requireMiss(t, m, fmt.Sprintf("k%02d", memMaxChances))
	memCheck(t, m)
}

func TestMemoryLRUKeepsTheWrittenItem(t *testing.T) {
	// Growing the item at the cold end evicts others, never the item
	// itself: it goes to the front instead.
	m := NewMemory(MemoryOptions{MaxBytes: 3 * memCharge("a", 1)})
	mustSet(t, m, "a", "1", SetOptions{})
	mustSet(t, m, "b", "2", SetOptions{})
	mustSet(t, m, "c", "3", SetOptions{})
	mustSet(t, m, "a", "11", SetOptions{Mode: ModeAppend})
	assert.Equal(t, []string{"a", "c"}, lruOrder(m))
	requireMiss(t, m, "b")
	assert.Equal(t, "111", string(mustGet(t, m, "a", GetOptions{}).Value))
	memCheck(t, m)

	// The same when it is the only one left to evict (a was read: marked).
	mustSet(t, m, "a", strings.Repeat("1", 200), SetOptions{Mode: ModeAppend})
	assert.Equal(t, []string{"a*"}, lruOrder(m))
	memCheck(t, m)
}

func TestMemoryLRUEvictsExpiredMarkedItems(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewMemory(MemoryOptions{MaxBytes: 3 * memCharge("a", 1), Now: func() time.Time { return now }})
	mustSet(t, m, "x", "1", SetOptions{TTL: time.Second})
	mustSet(t, m, "a", "2", SetOptions{})
	mustSet(t, m, "b", "3", SetOptions{})
	mustGet(t, m, "x", GetOptions{})
	now = now.Add(2 * time.Second)
	// x is marked but expired: evicted, no second chance, and a stays.
	mustSet(t, m, "c", "4", SetOptions{})
	assert.Equal(t, []string{"c", "b", "a"}, lruOrder(m))
	memCheck(t, m)
}

func TestMemoryShardsBoundMemory(t *testing.T) {
	ctx := context.Background()
	const maxBytes = 8 << 20
	m := NewMemory(MemoryOptions{MaxBytes: maxBytes, MaxItemSize: 64 << 10})
	require.Len(t, m.shards, memMaxShards)
	value := make([]byte, 200)
	var total int
	for i := range 40_000 {
		_, err := m.Set(ctx, "key:"+strconv.Itoa(i), value, SetOptions{})
		require.NoError(t, err)
		total += int(memCharge("key:"+strconv.Itoa(i), len(value)))
	}
	memCheck(t, m)
	var bytes int64
	for i := range m.shards {
		bytes += m.shards[i].bytes
	}
	assert.LessOrEqual(t, bytes, int64(maxBytes))
	assert.Greater(t, bytes, int64(maxBytes*9/10), "shards are filled evenly")
	assert.Greater(t, total, maxBytes, "the test did overflow the store")
}

func TestMemoryTinyStore(t *testing.T) {
	// A store too small for any item refuses values and leases quietly.
	m := NewMemory(MemoryOptions{MaxBytes: 10})
	_, err := m.Set(context.Background(), "k", nil, SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
	it := mustGet(t, m, "k", GetOptions{Lease: time.Minute})
	assert.True(t, it.Won)
	n, err := m.Incr(context.Background(), "n", 1, IncrOptions{Vivify: true, Initial: 3})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), n)
	requireMiss(t, m, "k")
	requireMiss(t, m, "n")
	memCheck(t, m)
}

func TestMemoryConcurrent(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{MaxBytes: 1 << 20, MaxItemSize: 8 << 10})
	const workers, ops = 8, 500
	var wg sync.WaitGroup
	cases := make([][]uint64, workers)
	wins := make([]int, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				_, err := m.Incr(ctx, "counter", 1, IncrOptions{Vivify: true})
				assert.NoError(t, err)
				cas, err := m.Set(ctx, fmt.Sprintf("w%d:%d", w, i%50), []byte("value"), SetOptions{})
				assert.NoError(t, err)
				cases[w] = append(cases[w], cas)
				it, _, err := m.Get(ctx, "lease", GetOptions{Lease: time.Hour})
				assert.NoError(t, err)
				if it.Won {
					wins[w]++
				}
				_, err = m.GetMulti(ctx, []string{"counter", "w0:1", "w1:2"})
				assert.NoError(t, err)
				_, err = m.Set(ctx, "log", []byte("x"), SetOptions{Mode: ModeAppend, Vivify: true})
				assert.NoError(t, err)
				_ = m.Delete(ctx, fmt.Sprintf("w%d:%d", (w+1)%workers, i%50), DeleteOptions{})
			}
		})
	}
	wg.Wait()
	memCheck(t, m)

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
func FuzzMemoryOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("set get lease recache invalidate incr append prepend delete"))
	f.Add([]byte{7, 0, 7, 1, 2, 0, 3, 0, 9, 200, 4, 255, 1, 1, 1, 1, 6, 6, 6})
	f.Fuzz(func(t *testing.T, prog []byte) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		m := NewMemory(MemoryOptions{MaxBytes: 2048, MaxItemSize: 400, BinaryKeys: true, Now: func() time.Time { return now }})
		ctx := context.Background()
		keys := []string{"a", "b", "c d", "\x00", "counter"}
		for len(prog) >= 4 {
			op, k, arg, n := prog[0]%10, keys[int(prog[1])%len(keys)], prog[2], prog[3]
			prog = prog[4:]
			ttl := time.Duration(int(arg%8)-2) * time.Second // -2s .. 5s
			value := make([]byte, int(n)*2)
			var err error
			switch op {
			case 0:
				_, err = m.Set(ctx, k, value, SetOptions{Mode: SetMode(arg % 5), TTL: ttl, Flags: uint32(n), Vivify: n%2 == 0})
			case 1:
				_, _, err = m.Get(ctx, k, GetOptions{Lease: ttl, Recache: time.Duration(n) * time.Second})
			case 2:
				err = m.Delete(ctx, k, DeleteOptions{Invalidate: arg%2 == 0, TTL: ttl})
			case 3:
				_, err = m.Incr(ctx, k, int64(int8(n)), IncrOptions{Vivify: arg%2 == 0, Initial: uint64(n), TTL: ttl})
			case 4:
				_, err = m.GetMulti(ctx, keys)
			case 5:
				now = now.Add(time.Duration(n) * 100 * time.Millisecond)
			case 6:
				_, err = m.Set(ctx, k, strconv.AppendUint(nil, uint64(n), 10), SetOptions{TTL: ttl})
			case 7:
				var it Item
				it, _, err = m.Get(ctx, k, GetOptions{})
				if err == nil && it.CAS != 0 {
					_, err = m.Set(ctx, k, value, SetOptions{CAS: it.CAS + uint64(arg%2)})
				}
			case 8:
				_, err = m.Set(ctx, k, binary.AppendUvarint(nil, uint64(n)), SetOptions{Mode: ModeAppend})
			case 9:
				var it Item
				var found bool
				it, found, err = m.Get(ctx, k, GetOptions{})
				if found {
					require.False(t, it.Won && it.Busy)
					require.True(t, it.TTL == NoExpiry || it.TTL >= time.Second, "TTL %v", it.TTL)
					require.LessOrEqual(t, memItemSize(len(k), len(it.Value), it.Flags), 400)
				}
			}
			if err != nil {
				require.Truef(t, errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotStored) ||
					errors.Is(err, ErrCASConflict) || errors.Is(err, ErrNotNumber) ||
					errors.Is(err, ErrValueTooLarge), "op %d: %v", op, err)
			}
			memCheck(t, m)
		}
	})
}

func TestMemoryEntryIsOneCacheLine(t *testing.T) {
	// The layout the docs promise: a hit reads one line of entry, and the
	// pages (powers of two of entries) keep entries on line boundaries.
	assert.Equal(t, uintptr(64), unsafe.Sizeof(memEntry{}))
}

func TestMemoryPages(t *testing.T) {
	m := NewMemory(MemoryOptions{MaxBytes: 4 << 20})
	require.Len(t, m.shards, 1)
	s := &m.shards[0]
	for i := range 3000 {
		mustSet(t, m, strconv.Itoa(i), "v", SetOptions{})
	}
	// Pages double: 8, 16, 32, ... and every slot is its own entry.
	for k, p := range s.pages {
		require.Len(t, p, memFirstPage<<k)
	}
	seen := map[*memEntry]bool{}
	for i := uint32(0); i < s.used; i++ {
		e := s.at(i)
		require.False(t, seen[e], "slot %d", i)
		seen[e] = true
		if i > 0 {
			require.Equal(t, i, e.idx)
		}
	}
	// Freed slots are reused before new ones.
	used := s.used
	for i := range 1000 {
		require.NoError(t, m.Delete(context.Background(), strconv.Itoa(i), DeleteOptions{}))
	}
	for i := range 1000 {
		mustSet(t, m, "again"+strconv.Itoa(i), "v", SetOptions{})
	}
	assert.Equal(t, used, s.used)
	memCheck(t, m)
}

// FuzzMemoryTable adds and removes items in a shard whose key hashes are
// chosen to collide (same hash, different keys) and to pile up at the end
// of the table and wrap around, and checks after each step that every
// item, and only those, is found, against a map.
func FuzzMemoryTable(f *testing.F) {
	f.Add([]byte{0, 8, 16, 1, 9, 17, 7, 15, 23, 0, 8, 31, 30, 29, 7, 6})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice: the quick brown fox"))
	f.Add([]byte{24, 25, 26, 27, 28, 29, 30, 31, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 17, 18, 19, 20, 21, 22, 23, 3, 11, 19, 7, 0, 24, 31})
	f.Fuzz(func(t *testing.T, prog []byte) {
		const keys = 32
		// Keys 0–23 get the top eight homes of any table of eight slots
		// or more, three keys per hash; keys 24–31 spread out.
		hash := func(k int) uint64 {
			if k < 24 {
				return uint64(0xFFFF_FFF8|uint32(k%8)) << 32
			}
			return uint64(uint32(k)*0x9E37_79B9) << 32
		}
		var s memShard
		s.init(1 << 40)
		c := memClock{now: time.Now}
		model := map[string]uint32{}
		for _, b := range prog {
			k := int(b) % keys
			key := "k" + strconv.Itoa(k)
			if idx, ok := model[key]; ok {
				s.remove(s.at(idx))
				delete(model, key)
			} else {
				item := memEntry{hash: uint32(hash(k) >> 32)}
				item.setData(key, len(key))
				s.insert(&c, &item)
				model[key] = s.sentinel().next
			}
			require.Equal(t, len(model), s.count)
			slots := 0
			for _, slot := range s.table {
				if slot != 0 {
					slots++
				}
			}
			require.Equal(t, s.count, slots)
			for k := range keys {
				key := "k" + strconv.Itoa(k)
				require.Equal(t, model[key], s.find(hash(k), key), "key %s", key)
			}
		}
	})
}
