package benchpeers

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
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
	m, err := t.c.GetMulti(context.Background(), keys)
	return len(m), err
}

type storeClient struct{ s *cachestruct.Memcached }

func (t storeClient) get(key string) error {
	_, _, err := t.s.Get(context.Background(), key, cachestruct.GetOptions{})
	return err
}
func (t storeClient) set(key string, value []byte) error {
	_, err := t.s.Set(context.Background(), key, value, cachestruct.SetOptions{})
	return err
}
func (t storeClient) getMulti(keys []string) (int, error) {
	m, err := t.s.GetMulti(context.Background(), keys)
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
// get and set of a 100-byte value from 1 and 64 goroutines, and a
// multi-get of 100 keys. gomemcache gets MaxIdleConns = 64 so that it
// keeps a connection per goroutine instead of redialling. The environment
// variable CONNS sets the twine client's connection count (default 2).
func BenchmarkMemcache(b *testing.B) {
	srv := memcachedtest.Start(b, memcachedtest.MemoryMB(64))
	tw := memcache.New(srv.Addr(), memcache.Config{Conns: benchConns()})
	defer tw.Close()
	store, err := cachestruct.NewMemcached([]string{srv.Addr()}, cachestruct.MemcachedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	gm := gomemcache.New(srv.Addr())
	gm.MaxIdleConns = 64
	clients := []struct {
		name string
		c    memcacheClient
	}{
		{"lib=twine", twineClient{tw}},
		{"lib=cachestruct", storeClient{store}},
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
					b.ReportAllocs()
					if g == 1 {
						i := 0
						for b.Loop() {
							if err := do(keys[i%len(keys)]); err != nil {
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
							if err := do(keys[i%len(keys)]); err != nil {
								b.Error(err)
								return
							}
							i++
						}
					})
				})
			}
		}
	}
	for _, cl := range clients {
		b.Run("op=getmulti/keys=100/"+cl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, err := cl.c.getMulti(keys)
				if err != nil || n != len(keys) {
					b.Fatalf("%d hits, %v", n, err)
				}
			}
		})
	}
	for _, cl := range clients {
		b.Run("op=getmulti/keys=100/goroutines=64/"+cl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n, err := cl.c.getMulti(keys)
					if err != nil || n != len(keys) {
						b.Errorf("%d hits, %v", n, err)
						return
					}
				}
			})
		})
	}
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
	servers := memcachedtest.Cluster(b, 3, memcachedtest.MemoryMB(64))
	addrs := memcachedtest.Addrs(servers)
	nodes := make([]hashring.Node, len(addrs))
	for i, a := range addrs {
		nodes[i] = hashring.Node{Name: a, Weight: 1}
	}
	ring, err := hashring.New(nodes)
	if err != nil {
		b.Fatal(err)
	}
	store, err := cachestruct.NewMemcached(addrs, cachestruct.MemcachedOptions{Picker: ring})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	gm := gomemcache.New(addrs...)
	gm.MaxIdleConns = 64
	clients := []struct {
		name string
		c    memcacheClient
	}{
		{"lib=cachestruct", storeClient{store}},
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
			b.ReportAllocs()
			for b.Loop() {
				n, err := cl.c.getMulti(keys)
				if err != nil || n != len(keys) {
					b.Fatalf("%d hits, %v", n, err)
				}
			}
		})
	}
	for _, cl := range clients {
		b.Run("op=get/goroutines=64/"+cl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := cl.c.get(keys[i%len(keys)]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkMemcachePaired measures the operations of BenchmarkMemcache
// interleaved, so that every client sees the same load on a noisy machine:
// each iteration runs every client in turn (the order rotating) and times
// it. From 1 goroutine a turn is one operation; from 64 goroutines it is a
// batch of operations shared by 64 goroutines, timed as a whole. The
// benchmark reports each client's median time per operation (a batch's
// time divided by its operations) and the ratios gomemcache/twine and
// gomemcache/store (above 1: twine is faster); ns/op is one iteration.
// From 1 goroutine it also times rawClient, the bare protocol exchange,
// as the floor (raw-ns).
func BenchmarkMemcachePaired(b *testing.B) {
	srv := memcachedtest.Start(b, memcachedtest.MemoryMB(64))
	tw := memcache.New(srv.Addr(), memcache.Config{Conns: benchConns()})
	defer tw.Close()
	store, err := cachestruct.NewMemcached([]string{srv.Addr()}, cachestruct.MemcachedOptions{ConnsPerServer: benchConns()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	gm := gomemcache.New(srv.Addr())
	gm.MaxIdleConns = 64
	raw, err := newRawClient(srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer raw.nc.Close()
	clients := []memcacheClient{twineClient{tw}, storeClient{store}, gomemcacheClient{gm}, raw}

	value := make([]byte, 100)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:paired:%d", i)
		if err := (gomemcacheClient{gm}).set(keys[i], value); err != nil {
			b.Fatal(err)
		}
	}
	ops := []struct {
		name  string
		batch int // operations per turn from 64 goroutines
		do    func(c memcacheClient, i int) error
	}{
		{"get", 1280, func(c memcacheClient, i int) error { return c.get(keys[i%len(keys)]) }},
		{"set", 1280, func(c memcacheClient, i int) error { return c.set(keys[i%len(keys)], value) }},
		{"getmulti/keys=100", 128, func(c memcacheClient, _ int) error {
			n, err := c.getMulti(keys)
			if err == nil && n != len(keys) {
				err = fmt.Errorf("%d hits of %d", n, len(keys))
			}
			return err
		}},
	}
	for _, g := range []int{1, 64} {
		for _, op := range ops {
			b.Run(fmt.Sprintf("op=%s/goroutines=%d", op.name, g), func(b *testing.B) {
				// One turn of c: one operation, or a batch from g goroutines.
				turn := func(c memcacheClient, i int) (time.Duration, error) {
					start := time.Now()
					if g == 1 {
						err := op.do(c, i)
						return time.Since(start), err
					}
					var next atomic.Int64
					var wg sync.WaitGroup
					errs := make(chan error, g)
					for range g {
						wg.Go(func() {
							for {
								j := int(next.Add(1)) - 1
								if j >= op.batch {
									return
								}
								if err := op.do(c, j); err != nil {
									errs <- err
									return
								}
							}
						})
					}
					wg.Wait()
					elapsed := time.Since(start) / time.Duration(op.batch)
					select {
					case err := <-errs:
						return 0, err
					default:
						return elapsed, nil
					}
				}
				clients := clients
				if g > 1 {
					clients = clients[:3] // the raw floor is one connection
				}
				for _, c := range clients { // connections dialled, code warm
					if _, err := turn(c, 0); err != nil {
						b.Fatal(err)
					}
				}
				lat := make([][]time.Duration, len(clients))
				i := 0
				for b.Loop() {
					for j := range clients {
						k := (i + j) % len(clients)
						d, err := turn(clients[k], i)
						if err != nil {
							b.Fatal(err)
						}
						lat[k] = append(lat[k], d)
					}
					i++
				}
				med := make([]float64, len(clients))
				for k, l := range lat {
					slices.Sort(l)
					med[k] = float64(l[len(l)/2])
				}
				b.ReportMetric(med[0], "twine-ns")
				b.ReportMetric(med[1], "store-ns")
				b.ReportMetric(med[2], "gomemcache-ns")
				b.ReportMetric(med[2]/med[0], "gomemcache/twine")
				b.ReportMetric(med[2]/med[1], "gomemcache/store")
				if len(med) > 3 {
					b.ReportMetric(med[3], "raw-ns")
				}
			})
		}
	}
}
