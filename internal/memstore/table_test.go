package memstore

import (
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEntryIsOneCacheLine(t *testing.T) {
	// The layout the docs promise: a hit reads one line of entry, and the
	// pages (powers of two of entries) keep entries on line boundaries.
	assert.Equal(t, uintptr(64), unsafe.Sizeof(entry{}))
}

func TestPages(t *testing.T) {
	m := New(Options{MaxBytes: 4 << 20})
	require.Len(t, m.shards, 1)
	s := &m.shards[0]
	for i := range 3000 {
		mustSet(t, m, strconv.Itoa(i), "v", SetOptions{})
	}
	// Pages double: 8, 16, 32, ... and every slot is its own entry.
	for k, p := range s.pages {
		require.Len(t, p, firstPage<<k)
	}
	seen := map[*entry]bool{}
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
		require.NoError(t, m.Delete(strconv.Itoa(i), DeleteOptions{}))
	}
	for i := range 1000 {
		mustSet(t, m, "again"+strconv.Itoa(i), "v", SetOptions{})
	}
	assert.Equal(t, used, s.used)
	check(t, m)
}

// FuzzMemoryTable adds and removes items in a shard whose key hashes are
// chosen to collide (same hash, different keys) and to pile up at the end
// of the table and wrap around, and checks after each step that every
// item, and only those, is found, against a map.
func FuzzTable(f *testing.F) {
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
		var s shard
		s.init(1 << 40)
		c := clock{now: time.Now}
		model := map[string]uint32{}
		for _, b := range prog {
			k := int(b) % keys
			key := "k" + strconv.Itoa(k)
			if idx, ok := model[key]; ok {
				s.remove(s.at(idx))
				delete(model, key)
			} else {
				item := entry{hash: uint32(hash(k) >> 32)}
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
