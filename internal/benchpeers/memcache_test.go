package benchpeers

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/hashring"
	"github.com/twine-go/twine/internal/memcache"
	"github.com/twine-go/twine/internal/memcachedtest"
)

// *hashring.Ring picks servers for the memcached store, with failover to
// its successors, without either package importing the other.
var _ cachestruct.SuccessorPicker = (*hashring.Ring)(nil)

// memcacheClient is the part of each client the benchmarks use.
type memcacheClient interface {
	get(key string) error
	set(key string, value []byte) error
	getMulti(keys []string) (int, error)
}

// twineClient is internal/memcache's client; its multi-get is the
// classic one (gets), the fastest of the client's two.
type twineClient struct{ c *memcache.Client }

func (t twineClient) get(key string) error {
	_, err := t.c.Get(context.Background(), key, memcache.GetOptions{})
	return err
}
func (t twineClient) set(key string, value []byte) error {
	_, err := t.c.Set(context.Background(), key, value, memcache.SetOptions{})
	return err
}
func (t twineClient) getMulti(keys []string) (int, error) {
	n := 0
	err := t.c.GetMulti(context.Background(), keys, memcache.GetMultiOptions{Classic: true}, func(string, memcache.Item) { n++ })
	return n, err
}

// storeClient is the cachestruct store; its multi-get is GetMultiPlain
// (gets), or GetMulti (mg per key, with TTLs and marks) when meta is set.
type storeClient struct {
	s    *cachestruct.Memcached
	meta bool
}

func (t storeClient) get(key string) error {
	_, _, err := t.s.Get(context.Background(), key, cachestruct.GetOptions{})
	return err
}
func (t storeClient) set(key string, value []byte) error {
	_, err := t.s.Set(context.Background(), key, value, cachestruct.SetOptions{})
	return err
}
func (t storeClient) getMulti(keys []string) (int, error) {
	get := t.s.GetMultiPlain
	if t.meta {
		get = t.s.GetMulti
	}
	m, err := get(context.Background(), keys)
	return len(m), err
}

type gomemcacheClient struct{ c *gomemcache.Client }

func (g gomemcacheClient) get(key string) error {
	_, err := g.c.Get(key)
	return err
}
func (g gomemcacheClient) set(key string, value []byte) error {
	return g.c.Set(&gomemcache.Item{Key: key, Value: value})
}
func (g gomemcacheClient) getMulti(keys []string) (int, error) {
	m, err := g.c.GetMulti(keys)
	return len(m), err
}

// BenchmarkMemcache compares twine's meta-protocol client (and the
// cachestruct store over it) with bradfitz/gomemcache on one real memcached:
// get and set of a 100-byte value and multi-gets of 100 keys, from 1 and
// 64 goroutines (see oneServer for the clients' settings). The
// environment variable CONNS sets the twine client's connection count
// (default 2).
func BenchmarkMemcache(b *testing.B) {
	_, tw, store, gm := oneServer(b)
	clients := []struct {
		name string
		c    memcacheClient
	}{
		{"lib=twine", twineClient{tw}},
		{"lib=cachestruct", storeClient{s: store}},
		{"lib=gomemcache", gomemcacheClient{gm}},
	}

	value := make([]byte, 100)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:key:%d", i)
		if err := (gomemcacheClient{gm}).set(keys[i], value); err != nil {
			b.Fatal(err)
		}
	}

	// A first round of every client, not to be quoted: the first
	// sub-benchmark otherwise pays for dialling and a cold CPU.
	b.Run("op=warmup", func(b *testing.B) {
		for b.Loop() {
			for _, cl := range clients {
				if err := cl.c.get(keys[0]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	for _, g := range []int{1, 64} {
		for _, op := range []string{"get", "set"} {
			for _, cl := range clients {
				b.Run(fmt.Sprintf("op=%s/goroutines=%d/%s", op, g, cl.name), func(b *testing.B) {
					do := cl.c.get
					if op == "set" {
						do = func(k string) error { return cl.c.set(k, value) }
					}
					benchOp(b, g, func(i int) error { return do(keys[i%len(keys)]) })
				})
			}
		}
	}
	for _, g := range []int{1, 64} {
		for _, cl := range clients {
			name := "op=getmulti/keys=100/"
			if g > 1 {
				name += fmt.Sprintf("goroutines=%d/", g)
			}
			b.Run(name+cl.name, func(b *testing.B) {
				benchOp(b, g, func(int) error { return getAll(cl.c, keys) })
			})
		}
	}
}

// benchOp runs do(i), i = 0, 1, …, as the operations of b, from one
// goroutine or from g (each counting its own i), reporting allocations.
func benchOp(b *testing.B, g int, do func(i int) error) {
	b.ReportAllocs()
	if g == 1 {
		i := 0
		for b.Loop() {
			if err := do(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
		return
	}
	b.SetParallelism((g + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := do(i); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// getAll reads keys with c's multi-get and reports an error unless every
// key was a hit.
func getAll(c memcacheClient, keys []string) error {
	n, err := c.getMulti(keys)
	if err == nil && n != len(keys) {
		err = fmt.Errorf("%d hits of %d", n, len(keys))
	}
	return err
}

// benchTimeout is every client's timeout in the benchmarks: gomemcache's
// default of 500 ms failed runs on a loaded 2-core machine with 64
// goroutines, and all clients get the same.
const benchTimeout = 10 * time.Second

// oneServer starts one memcached (64 MB, plus MEMCACHED_ARGS) and returns
// its address and the clients the benchmarks compare on it, closed when b
// ends: twine's client and the cachestruct store with CONNS connections,
// and gomemcache with MaxIdleConns = 64, so that 64 goroutines keep their
// connections instead of redialling. All have benchTimeout.
func oneServer(b *testing.B) (string, *memcache.Client, *cachestruct.Memcached, *gomemcache.Client) {
	srv := memcachedtest.Start(b, append(benchServerArgs(), memcachedtest.MemoryMB(64))...)
	tw := memcache.New(srv.Addr(), memcache.Config{Conns: benchConns(), Timeout: benchTimeout})
	b.Cleanup(func() { _ = tw.Close() })
	store, err := cachestruct.NewMemcached([]string{srv.Addr()},
		cachestruct.MemcachedOptions{ConnsPerServer: benchConns(), Timeout: benchTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	return srv.Addr(), tw, store, newGomemcache(srv.Addr())
}

// threeServers starts three memcached (64 MB each) and returns the
// cachestruct store sharded over them by a *hashring.Ring and gomemcache
// with its own server list, as oneServer configures them, and the raw
// floor on the store's ring.
func threeServers(b *testing.B) (*cachestruct.Memcached, *gomemcache.Client, *rawSharded) {
	addrs := memcachedtest.Addrs(memcachedtest.Cluster(b, 3, memcachedtest.MemoryMB(64)))
	nodes := make([]hashring.Node, len(addrs))
	for i, a := range addrs {
		nodes[i] = hashring.Node{Name: a, Weight: 1}
	}
	ring, err := hashring.New(nodes)
	if err != nil {
		b.Fatal(err)
	}
	store, err := cachestruct.NewMemcached(addrs, cachestruct.MemcachedOptions{Picker: ring, Timeout: benchTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	raw, err := newRawSharded(addrs, ring.Get)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(raw.close)
	return store, newGomemcache(addrs...), raw
}

// newGomemcache returns gomemcache on addrs as the benchmarks use it.
func newGomemcache(addrs ...string) *gomemcache.Client {
	gm := gomemcache.New(addrs...)
	gm.MaxIdleConns = 64
	gm.Timeout = benchTimeout
	return gm
}

// benchServerArgs passes MEMCACHED_ARGS (space-separated, e.g. "-R 100")
// to the server of BenchmarkMemcachePaired, for experiments with its
// settings; the recorded figures use memcached's defaults.
func benchServerArgs() []memcachedtest.Option {
	if a := strings.Fields(os.Getenv("MEMCACHED_ARGS")); len(a) > 0 {
		return []memcachedtest.Option{memcachedtest.Args(a...)}
	}
	return nil
}

// benchConns reads CONNS (0, the default, when unset).
func benchConns() int {
	n := 0
	fmt.Sscan(os.Getenv("CONNS"), &n)
	return n
}

// BenchmarkMemcacheSharded compares, on three real memcached servers, the
// cachestruct store sharded by a *hashring.Ring with gomemcache's own
// server list: a multi-get of 100 keys spread over the servers (both ask
// the three servers in parallel) and gets from 64 goroutines.
func BenchmarkMemcacheSharded(b *testing.B) {
	store, gm, _ := threeServers(b)
	clients := []struct {
		name string
		c    memcacheClient
	}{
		{"lib=cachestruct", storeClient{s: store}},
		{"lib=gomemcache", gomemcacheClient{gm}},
	}
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:sharded:%d", i)
		// Each client writes its own copy: they place keys differently.
		for _, cl := range clients {
			if err := cl.c.set(keys[i], make([]byte, 100)); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, cl := range clients {
		b.Run("op=getmulti/keys=100/"+cl.name, func(b *testing.B) {
			benchOp(b, 1, func(int) error { return getAll(cl.c, keys) })
		})
	}
	for _, cl := range clients {
		b.Run("op=get/goroutines=64/"+cl.name, func(b *testing.B) {
			benchOp(b, 64, func(i int) error { return cl.c.get(keys[i%len(keys)]) })
		})
	}
}

// BenchmarkMemcachePaired measures the operations of BenchmarkMemcache
// interleaved, so that every client sees the same load on a noisy machine
// (see runPaired): it reports each client's median time and allocations
// per operation and the ratios gomemcache/twine, gomemcache/store and
// gomemcache/store-mg (above 1: ours is faster). The multi-gets: twine's
// client and the store (GetMultiPlain) send one gets line, store-mg (the
// store's GetMulti) one mg per key. From 1 goroutine it also times
// rawClient, the bare protocol exchange (gets for the multi-get), as the
// floor (raw-ns).
func BenchmarkMemcachePaired(b *testing.B) {
	addr, tw, store, gm := oneServer(b)
	raw, err := newRawClient(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.nc.Close()
	clients := []pairedClient[memcacheClient]{
		{"twine", twineClient{tw}, true}, {"store", storeClient{s: store}, true},
		{"store-mg", storeClient{s: store, meta: true}, true},
		{"gomemcache", gomemcacheClient{gm}, true}, {"raw", raw, false},
	}
	value := make([]byte, 100)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:paired:%d", i)
		if err := (gomemcacheClient{gm}).set(keys[i], value); err != nil {
			b.Fatal(err)
		}
	}
	runPaired(b, memcachePairing(clients, pairedOps(keys, value, "get", "set", "getmulti")))
}

// BenchmarkMemcacheShardedPaired is BenchmarkMemcacheSharded interleaved as
// BenchmarkMemcachePaired is: the store sharded by a *hashring.Ring over
// three servers (store: GetMultiPlain, store-mg: GetMulti) against
// gomemcache's server list, multi-gets of 100 keys and gets, with
// rawSharded on the store's ring as the floor from 1 goroutine.
func BenchmarkMemcacheShardedPaired(b *testing.B) {
	store, gm, raw := threeServers(b)
	clients := []pairedClient[memcacheClient]{
		{"store", storeClient{s: store}, true}, {"store-mg", storeClient{s: store, meta: true}, true},
		{"gomemcache", gomemcacheClient{gm}, true}, {"raw", raw, false},
	}
	value := make([]byte, 100)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:sharded:paired:%d", i)
		for _, c := range clients { // they place keys differently
			if err := c.c.set(keys[i], value); err != nil {
				b.Fatal(err)
			}
		}
	}
	runPaired(b, memcachePairing(clients, pairedOps(keys, value, "getmulti", "get")))
}

// memcachePairing runs ops on clients from 1 and 64 goroutines (a turn
// from one goroutine is one operation: a round trip dwarfs the timer) and
// reports the ratios of gomemcache's time to twine's and the store's
// (above 1: twine is faster).
func memcachePairing(clients []pairedClient[memcacheClient], ops []pairedOp[memcacheClient]) pairing[memcacheClient] {
	return pairing[memcacheClient]{
		clients: clients, ops: ops, goroutines: []int{1, 64},
		ratios: [][2]string{{"gomemcache", "twine"}, {"gomemcache", "store"}, {"gomemcache", "store-mg"}},
	}
}

// pairedOps returns the named operations on keys: get and set of value,
// and a multi-get of all the keys (which must all be present).
func pairedOps(keys []string, value []byte, names ...string) []pairedOp[memcacheClient] {
	all := map[string]pairedOp[memcacheClient]{
		"get": {name: "get", batch: 1280, do: func(c memcacheClient, i int) error { return c.get(keys[i%len(keys)]) }},
		"set": {name: "set", batch: 1280, do: func(c memcacheClient, i int) error { return c.set(keys[i%len(keys)], value) }},
		"getmulti": {name: fmt.Sprintf("getmulti/keys=%d", len(keys)), batch: 128, do: func(c memcacheClient, _ int) error {
			return getAll(c, keys)
		}},
	}
	var ops []pairedOp[memcacheClient]
	for _, n := range names {
		ops = append(ops, all[n])
	}
	return ops
}
