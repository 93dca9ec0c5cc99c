// Package storetest is the contract suite of cachestruct.Store: Run checks
// that a Store behaves as memcached 1.6.18 does, case by case and against
// cachestruct.NewMemory on random operation sequences, so that any Store,
// the package's own or a user's, can be verified with one call from a test.
//
// The suite expects a store with memcached's default item size (1 MiB,
// counted as memcached counts it: key, value, 59 bytes of overhead and 4
// more for non-zero flags). Each case writes keys of its own (prefixed with
// the test's name or a unique run number), so stores may share a server
// between cases and between test runs; none is flushed.
//
// RunBinaryKeys runs the cases of a store built to accept binary keys,
// RunStructures runs the proofs of cachestruct's structures (stampede,
// locks, counters, tags, event log, stats, grace, online users) on clients
// of one shared backend, and Differential, the engine of Run's random
// sequences, can drive a fuzz test. The cases start goroutines of their own
// (concurrent callers of the store or the structures); each case waits for
// all of them before it returns.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/internal/memcache"
)

// Run runs every case of the Store contract as a subtest of t, each on a
// store from newStore (which may return the same store every time): the
// cases stated one by one (misses, modes, CAS, TTLs, leases, recache,
// invalidation, counters, multi-gets, invalid keys, item size, cancelled
// contexts) and the differential runs against cachestruct.NewMemory. The
// stores must accept text keys; RunBinaryKeys checks binary keys.
//
// Run takes about ten seconds on a local server: two cases wait for items
// to expire (skipped with -short).
func Run(t *testing.T, newStore func(t *testing.T) cachestruct.Store) {
	t.Helper()
	for _, c := range contractCases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			prefix := strings.ReplaceAll(t.Name(), "/", ":") + ":"
			c.run(t, s, func(k string) string { return prefix + k })
		})
	}
	t.Run("item_size", func(t *testing.T) { itemSize(t, newStore(t)) })
	t.Run("differential", func(t *testing.T) {
		s := newStore(t)
		rng := rand.New(rand.NewPCG(1, 2))
		for run := range 40 {
			prog := make([]byte, 4*60)
			for i := range prog {
				prog[i] = byte(rng.UintN(256))
			}
			t.Run(fmt.Sprintf("run=%d", run), func(t *testing.T) {
				Differential(t, cachestruct.NewMemory(cachestruct.MemoryOptions{}), s, prog, false)
			})
		}
	})
}

// RunBinaryKeys runs the cases of a store built to accept binary keys
// (any bytes, at most 186 of them, as cachestruct's MemcachedOptions and
// MemoryOptions BinaryKeys): such keys are items of their own, and longer
// ones report ErrInvalidKey.
func RunBinaryKeys(t *testing.T, newStore func(t *testing.T) cachestruct.Store) {
	t.Helper()
	t.Run("binary_keys", func(t *testing.T) { binaryKeys(t, newStore(t)) })
	t.Run("binary_differential", func(t *testing.T) {
		s := newStore(t)
		rng := rand.New(rand.NewPCG(3, 4))
		for run := range 10 {
			prog := make([]byte, 4*60)
			for i := range prog {
				prog[i] = byte(rng.UintN(256))
			}
			t.Run(fmt.Sprintf("run=%d", run), func(t *testing.T) {
				Differential(t, cachestruct.NewMemory(cachestruct.MemoryOptions{BinaryKeys: true}), s, prog, true)
			})
		}
	})
}

// Differential runs the operations that prog encodes (four bytes each:
// set in every mode with and without CAS, get with leases and recache
// thresholds, plain and invalidating deletes, increments, multi-gets, CAS
// checks) on ref and on s, and fails t at the first outcome that differs,
// with the log of the steps so far. Keys are unique to the call; with
// binaryKeys, two of the four hold a space and a NUL byte. It is the
// engine of Run's differential case, exported for fuzz tests:
//
//	f.Fuzz(func(t *testing.T, prog []byte) {
//		storetest.Differential(t, cachestruct.NewMemory(cachestruct.MemoryOptions{}), s, prog, false)
//	})
func Differential(t testing.TB, ref, s cachestruct.Store, prog []byte, binaryKeys bool) {
	t.Helper()
	runDiff(t, [2]*diffSide{
		{name: "reference", store: ref, cas: map[string]uint64{}},
		{name: "store", store: s, cas: map[string]uint64{}},
	}, prog, binaryKeys)
}

// itemSize checks the item size limit as memcached counts it: a value that
// fits is stored, one byte more reports ErrValueTooLarge, and an append
// that would overflow reports ErrNotStored and leaves the item alone.
func itemSize(t *testing.T, s cachestruct.Store) {
	ctx := context.Background()
	prefix := fmt.Sprintf("size%d:", time.Now().UnixNano())
	for _, klen := range []int{len(prefix) + 1, 100, 250} {
		for _, flags := range []uint32{0, 5} {
			key := prefix + strings.Repeat("s", klen-len(prefix))
			limit := memcache.DefaultMaxItemSize - (klen + memcache.ItemOverhead)
			if flags != 0 {
				limit -= 4
			}
			for _, size := range []int{limit - 1, limit, limit + 1} {
				_, err := s.Set(ctx, key, make([]byte, size), cachestruct.SetOptions{Flags: flags})
				if size > limit {
					require.ErrorIs(t, err, cachestruct.ErrValueTooLarge, "key %d bytes, flags %d, value %d bytes", klen, flags, size)
				} else {
					require.NoError(t, err, "key %d bytes, flags %d, value %d bytes", klen, flags, size)
				}
			}
			// Appending up to the limit works; one byte more is not stored
			// and leaves the item as it was.
			_, err := s.Set(ctx, key, make([]byte, limit-10), cachestruct.SetOptions{Flags: flags})
			require.NoError(t, err)
			for _, extra := range []int{10, 1} {
				_, err := s.Set(ctx, key, make([]byte, extra), cachestruct.SetOptions{Mode: cachestruct.ModeAppend})
				if extra == 1 {
					require.ErrorIs(t, err, cachestruct.ErrNotStored, "append past the limit")
				} else {
					require.NoError(t, err, "append up to the limit")
				}
				it, found, err := s.Get(ctx, key, cachestruct.GetOptions{})
				require.NoError(t, err)
				require.True(t, found)
				require.Len(t, it.Value, limit)
			}
		}
	}
}

// binaryKeys checks that binary keys are items of their own.
func binaryKeys(t *testing.T, s cachestruct.Store) {
	ctx := context.Background()
	prefix := strconv.FormatInt(time.Now().UnixNano(), 10)
	keys := []string{
		prefix + " space", prefix + "\r\nflush_all", prefix + "\x00\xff\x01", prefix + "\t",
		prefix + strings.Repeat("\x01", 186-len(prefix)),
		prefix + "plain", prefix + strings.Repeat("k", 250-len(prefix)),
	}
	for i, k := range keys {
		_, err := s.Set(ctx, k, []byte(strconv.Itoa(i)), cachestruct.SetOptions{})
		require.NoError(t, err, "%q", k)
	}
	for i, k := range keys {
		it, found, err := s.Get(ctx, k, cachestruct.GetOptions{})
		require.NoError(t, err)
		require.True(t, found, "%q", k)
		assert.Equal(t, strconv.Itoa(i), string(it.Value), "each binary key is its own item")
	}
	items, err := s.GetMulti(ctx, append(keys, prefix+"\x00missing"))
	require.NoError(t, err)
	assert.Len(t, items, len(keys))
	n, err := s.Incr(ctx, prefix+"\x00n", 1, cachestruct.IncrOptions{Vivify: true, Initial: 5})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), n)
	require.NoError(t, s.Delete(ctx, keys[0], cachestruct.DeleteOptions{}))
	_, found, err := s.Get(ctx, keys[0], cachestruct.GetOptions{})
	require.NoError(t, err)
	assert.False(t, found)

	for _, k := range []string{"", strings.Repeat("\x01", 187), strings.Repeat("k", 251)} {
		_, err := s.Set(ctx, k, []byte("v"), cachestruct.SetOptions{})
		require.ErrorIs(t, err, cachestruct.ErrInvalidKey, "%q", k)
		_, _, err = s.Get(ctx, k, cachestruct.GetOptions{})
		require.ErrorIs(t, err, cachestruct.ErrInvalidKey, "%q", k)
	}
}
