package memstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// version is what a writer in TestLockFreeGets wrote under a key: the
// value names the key and the version, the flags are derived from the
// version, and the value's length varies with it (so that overwrites
// change the item's size and evict).
type version struct {
	key string
	n   int
}

func (v version) value() []byte {
	b := fmt.Appendf(nil, "%s#%d#", v.key, v.n)
	return append(b, bytes.Repeat([]byte{byte('a' + v.n%26)}, v.n%120)...)
}

func (v version) flags() uint32 { return uint32(v.n) * 2654435761 }

// parseVersion reads back a value written by version.value and checks
// its flags.
func parseVersion(value []byte, flags uint32) (version, error) {
	parts := bytes.SplitN(value, []byte("#"), 3)
	if len(parts) != 3 {
		return version{}, fmt.Errorf("torn value %q", value)
	}
	n, err := strconv.Atoi(string(parts[1]))
	if err != nil {
		return version{}, fmt.Errorf("torn value %q", value)
	}
	v := version{string(parts[0]), n}
	if !bytes.Equal(v.value(), value) {
		return version{}, fmt.Errorf("torn value %q", value)
	}
	if v.flags() != flags {
		return version{}, fmt.Errorf("flags %d with the value of version %d", flags, n)
	}
	return v, nil
}

// TestLockFreeGets races plain gets, which take no lock, against writers
// that overwrite, delete, invalidate, expire and evict the same keys while
// the shards' tables grow, and counters being incremented. Every value a
// reader gets must be one that was written under that key, whole, with
// its own flags, and its CAS must be the one its Set returned.
func TestLockFreeGets(t *testing.T) {
	const (
		rounds  = 8
		keys    = 200
		writers = 3
		readers = 3
		ops     = 2000
	)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	key := func(i int) string { return "key:" + strconv.Itoa(i) }

	for round := range rounds {
		// 16 shards of 4 KiB: about 15 items each, so writes evict all the
		// time, and each table grows while the readers read.
		m := New(Options{MaxBytes: 64 << 10, MaxItemSize: 1 << 10, Now: clock})
		require.Len(t, m.shards, maxShards)
		var (
			mu      sync.Mutex
			written = map[uint64]version{} // CAS → what Set wrote with it
			seen    = map[uint64]version{} // CAS → what a reader got with it
			hits    atomic.Int64
			wg      sync.WaitGroup
		)
		for w := range writers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				mine := map[uint64]version{}
				for i := range ops {
					k := key(rng.IntN(keys))
					switch op := rng.IntN(10); {
					case op < 6:
						v := version{k, w*ops + i}
						ttl := time.Duration(0)
						if op == 5 {
							ttl = time.Second
						}
						cas, err := m.Set(k, v.value(), SetOptions{Flags: v.flags(), TTL: ttl})
						assert.NoError(t, err)
						mine[cas] = v
					case op == 6:
						_ = m.Delete(k, DeleteOptions{})
					case op == 7:
						_ = m.Delete(k, DeleteOptions{Invalidate: true})
					case op == 8:
						_, err := m.Incr("counter:"+strconv.Itoa(rng.IntN(4)), 1, IncrOptions{Vivify: true})
						assert.NoError(t, err)
					default:
						now.Add(int64(300 * time.Millisecond))
					}
				}
				mu.Lock()
				for cas, v := range mine {
					written[cas] = v
				}
				mu.Unlock()
			})
		}
		for r := range readers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(100+r)))
				mine := map[uint64]version{}
				var it Item
				for range ops {
					if rng.IntN(8) == 0 {
						c := "counter:" + strconv.Itoa(rng.IntN(4))
						if found, err := m.Get(c, GetOptions{}, &it); assert.NoError(t, err) && found {
							_, ok := parseCounter(it.Value)
							assert.True(t, ok, "counter %q", it.Value)
						}
						continue
					}
					k := key(rng.IntN(keys))
					found, err := m.Get(k, GetOptions{}, &it)
					if !assert.NoError(t, err) || !found {
						continue
					}
					hits.Add(1)
					v, err := parseVersion(it.Value, it.Flags)
					if !assert.NoError(t, err) || !assert.Equal(t, k, v.key, "another key's value") {
						return
					}
					if !it.Stale {
						// An invalidated item has a CAS of its own.
						if prev, dup := mine[it.CAS]; dup && !assert.Equal(t, prev, v, "two versions with one CAS") {
							return
						}
						mine[it.CAS] = v
					}
				}
				mu.Lock()
				for cas, v := range mine {
					seen[cas] = v
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		check(t, m)
		require.Positive(t, hits.Load(), "the readers hit nothing")
		for cas, v := range seen {
			require.Equal(t, written[cas], v, "CAS %d read with a version it was not written with", cas)
		}
	}
}

// TestLockFreeGetSeesWrites checks, from one goroutine, that a plain get
// (the lock-free path) sees every kind of write at once: overwrite,
// append, incr, delete, invalidation, expiry, and a key whose entry was
// freed and reused.
func TestLockFreeGetSeesWrites(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := New(Options{MaxBytes: 4 << 20, Now: func() time.Time { return now }})
	require.Len(t, m.shards, 1)

	cas := mustSet(t, m, "a", "1", SetOptions{Flags: 7})
	it := mustGet(t, m, "a", GetOptions{})
	assert.Equal(t, Item{Value: []byte("1"), Flags: 7, CAS: cas, TTL: NoExpiry}, it)

	cas = mustSet(t, m, "a", "22", SetOptions{Flags: 8, TTL: time.Minute})
	assert.Equal(t, Item{Value: []byte("22"), Flags: 8, CAS: cas, TTL: time.Minute}, mustGet(t, m, "a", GetOptions{}))

	mustSet(t, m, "a", "3", SetOptions{Mode: ModeAppend})
	assert.Equal(t, "223", string(mustGet(t, m, "a", GetOptions{}).Value))
	_, err := m.Incr("a", 1, IncrOptions{})
	require.NoError(t, err)
	it = mustGet(t, m, "a", GetOptions{})
	assert.Equal(t, "224", string(it.Value))
	assert.Equal(t, uint32(8), it.Flags)

	require.NoError(t, m.Delete("a", DeleteOptions{Invalidate: true}))
	it = mustGet(t, m, "a", GetOptions{})
	assert.True(t, it.Stale && it.Won, "a stale item goes the locked way and is won")
	assert.True(t, mustGet(t, m, "a", GetOptions{}).Busy)

	require.NoError(t, m.Delete("a", DeleteOptions{}))
	requireMiss(t, m, "a")

	// The freed entry goes to the next key; the old key stays missing.
	mustSet(t, m, "b", "x", SetOptions{})
	requireMiss(t, m, "a")
	assert.Equal(t, "x", string(mustGet(t, m, "b", GetOptions{}).Value))

	mustSet(t, m, "c", "y", SetOptions{TTL: time.Second})
	now = now.Add(time.Second)
	requireMiss(t, m, "c")
	check(t, m)
}
