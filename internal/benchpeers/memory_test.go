package benchpeers

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"

	"github.com/twine-go/twine/cachestruct"
)

// localCache is the part of an in-process cache the memory benchmarks use.
// As a cachestruct.Store must, get returns a copy of the value (the caller
// may keep or change it) and set stores a copy of value.
type localCache interface {
	get(key string) ([]byte, error)
	set(key string, value []byte) error
}

// errLocalMiss reports a miss where the benchmark expects a hit.
var errLocalMiss = errors.New("miss")

// localMaxBytes bounds every cache of the memory benchmarks by bytes of
// key and value (cachestruct.NewMemory's default): far more than the
// 10,000 entries of 100 bytes need, so nothing is evicted.
const localMaxBytes = 64 << 20

type storeCache struct{ s cachestruct.Store }

func (c storeCache) get(key string) ([]byte, error) {
	it, found, err := c.s.Get(context.Background(), key, cachestruct.GetOptions{})
	if err == nil && !found {
		err = errLocalMiss
	}
	return it.Value, err
}

func (c storeCache) set(key string, value []byte) error {
	_, err := c.s.Set(context.Background(), key, value, cachestruct.SetOptions{})
	return err
}

type otterCache struct{ c *otter.Cache[string, []byte] }

func newOtterCache() otterCache {
	return otterCache{otter.Must(&otter.Options[string, []byte]{
		MaximumWeight: localMaxBytes,
		Weigher:       func(k string, v []byte) uint32 { return uint32(len(k) + len(v)) },
	})}
}

func (c otterCache) get(key string) ([]byte, error) {
	v, ok := c.c.GetIfPresent(key)
	if !ok {
		return nil, errLocalMiss
	}
	return append([]byte(nil), v...), nil
}

func (c otterCache) set(key string, value []byte) error {
	c.c.Set(key, append([]byte(nil), value...))
	return nil
}

// ristrettoCache is ristretto with the settings its documentation advises
// (counters for 10× the entries, 64 keys per buffer) and the cost of an
// entry in bytes. Its sets are asynchronous and may be dropped under load:
// a set reports no error either way, as the cache does not.
type ristrettoCache struct {
	c *ristretto.Cache[string, []byte]
}

func newRistrettoCache(b *testing.B, entries int) ristrettoCache {
	c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters: int64(10 * entries), MaxCost: localMaxBytes, BufferItems: 64,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return ristrettoCache{c}
}

func (c ristrettoCache) get(key string) ([]byte, error) {
	v, ok := c.c.Get(key)
	if !ok {
		return nil, errLocalMiss
	}
	return append([]byte(nil), v...), nil
}

func (c ristrettoCache) set(key string, value []byte) error {
	c.c.Set(key, append([]byte(nil), value...), int64(len(key)+len(value)))
	return nil
}

// mapCache is the floor: one mutex, one map, the copies, and nothing else
// (no bound, TTL, CAS, eviction or key check).
type mapCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *mapCache) get(key string) ([]byte, error) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if !ok {
		return nil, errLocalMiss
	}
	return append([]byte(nil), v...), nil
}

func (c *mapCache) set(key string, value []byte) error {
	v := append([]byte(nil), value...)
	c.mu.Lock()
	c.m[key] = v
	c.mu.Unlock()
	return nil
}

// BenchmarkMemoryPaired compares the in-memory cachestruct store (used
// through the Store interface, as NewMemory returns it) with
// maypok86/otter v2, dgraph-io/ristretto v2 and a bare mutex and map, all
// bounded to 64 MiB of keys and values: gets and sets of 100-byte values
// on 10,000 keys, drawn from a Zipf distribution (s = 1.1: a hot few hundred
// keys take most accesses, the usual shape of cache traffic) or in turn
// (each key's entry has left the CPU's caches when it comes round again),
// from 1 and 2 goroutines, interleaved by runPaired (a turn is 64
// operations from one goroutine, 1280 from two). It reports the ratios
// twine/otter, twine/ristretto and twine/map of the median times (below 1:
// twine is faster).
func BenchmarkMemoryPaired(b *testing.B) {
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i) + ":profile"
	}
	cycle := make([]int, len(keys))
	for i := range cycle {
		cycle[i] = i
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, uint64(len(keys)-1))
	zipf := make([]int, 1<<16)
	for i := range zipf {
		zipf[i] = int(z.Uint64())
	}

	rc := newRistrettoCache(b, len(keys))
	clients := []pairedClient[localCache]{
		{"twine", storeCache{cachestruct.NewMemory(cachestruct.MemoryOptions{MaxBytes: localMaxBytes})}, true},
		{"otter", newOtterCache(), true},
		{"ristretto", rc, true},
		{"map", &mapCache{m: make(map[string][]byte, len(keys))}, true},
	}
	value := make([]byte, 100)
	for _, c := range clients {
		for _, k := range keys {
			if err := c.c.set(k, value); err != nil {
				b.Fatal(err)
			}
		}
	}
	rc.c.Wait() // ristretto's sets applied

	var ops []pairedOp[localCache]
	for _, acc := range []struct {
		name string
		seq  []int
	}{{"zipf", zipf}, {"cycle", cycle}} {
		key := func(i int) string { return keys[acc.seq[i%len(acc.seq)]] }
		ops = append(ops,
			pairedOp[localCache]{name: "get/access=" + acc.name, serial: 64, batch: 1280,
				do: func(c localCache, i int) error { _, err := c.get(key(i)); return err }},
			pairedOp[localCache]{name: "set/access=" + acc.name, serial: 64, batch: 1280,
				do: func(c localCache, i int) error { return c.set(key(i), value) }})
	}
	runPaired(b, pairing[localCache]{
		clients: clients, ops: ops, goroutines: []int{1, 2},
		ratios: [][2]string{{"twine", "otter"}, {"twine", "ristretto"}, {"twine", "map"}},
	})
}
