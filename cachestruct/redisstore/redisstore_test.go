package redisstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/redisstore"
	"github.com/twine-go/twine/cachestruct/storetest"
	"github.com/twine-go/twine/hashring"
	"github.com/twine-go/twine/internal/redistest"
)

// newClient returns a client of one server, closed in t.Cleanup. Its
// timeouts leave room for a loaded CI machine; fault tests set their own.
func newClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: 10 * time.Second,
		MaxRetries: -1, DialTimeout: time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newRing returns a go-redis Ring over addrs, routed by a hashring, closed
// in t.Cleanup.
func newRing(t testing.TB, addrs []string) *redis.Ring {
	shards := map[string]string{}
	for i, a := range addrs {
		shards[string(rune('a'+i))] = a
	}
	r := redis.NewRing(&redis.RingOptions{
		Addrs: shards, ContextTimeoutEnabled: true, ReadTimeout: 10 * time.Second,
		MaxRetries: -1, DialTimeout: time.Second,
		NewConsistentHash: func(names []string) redis.ConsistentHash {
			nodes := make([]hashring.Node, len(names))
			for i, n := range names {
				nodes[i] = hashring.Node{Name: n}
			}
			h, err := hashring.New(nodes)
			if err != nil {
				return new(hashring.Ring)
			}
			return h
		},
	})
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// newClusterClient returns a Cluster client of c, closed in t.Cleanup.
func newClusterClient(t testing.TB, c *redistest.Cluster) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: c.Addrs(), ContextTimeoutEnabled: true, ReadTimeout: 10 * time.Second,
		DialTimeout: time.Second,
	})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func TestSingleServer(t *testing.T) {
	c := newClient(t, redistest.Start(t).Addr())
	storetest.Run(t, func(*testing.T) cachestruct.Store { return redisstore.New(c, redisstore.Options{}) })
	storetest.RunBinaryKeys(t, func(*testing.T) cachestruct.Store {
		return redisstore.New(c, redisstore.Options{BinaryKeys: true})
	})
}

func TestRing(t *testing.T) {
	r := newRing(t, redistest.Addrs(redistest.Servers(t, 3)))
	storetest.Run(t, func(*testing.T) cachestruct.Store { return redisstore.New(r, redisstore.Options{}) })
}

func TestSingleServerStructures(t *testing.T) {
	addr := redistest.Start(t).Addr()
	storetest.RunStructures(t, func(t *testing.T, n int) []cachestruct.Store {
		stores := make([]cachestruct.Store, n)
		for i := range stores {
			stores[i] = redisstore.New(newClient(t, addr), redisstore.Options{})
		}
		return stores
	})
}

func TestRingStructures(t *testing.T) {
	addrs := redistest.Addrs(redistest.Servers(t, 3))
	storetest.RunStructures(t, func(t *testing.T, n int) []cachestruct.Store {
		stores := make([]cachestruct.Store, n)
		for i := range stores {
			stores[i] = redisstore.New(newRing(t, addrs), redisstore.Options{})
		}
		return stores
	})
}

// TestCluster runs everything on one real Redis Cluster (three masters,
// each with a replica), started once for the test binary: the contract,
// the structures' proofs, and last the loss of a master.
func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3, 1)
	cc := newClusterClient(t, c)
	t.Run("contract", func(t *testing.T) {
		storetest.Run(t, func(*testing.T) cachestruct.Store { return redisstore.New(cc, redisstore.Options{}) })
		storetest.RunBinaryKeys(t, func(*testing.T) cachestruct.Store {
			return redisstore.New(cc, redisstore.Options{BinaryKeys: true})
		})
	})
	t.Run("structures", func(t *testing.T) {
		storetest.RunStructures(t, func(t *testing.T, n int) []cachestruct.Store {
			stores := make([]cachestruct.Store, n)
			for i := range stores {
				stores[i] = redisstore.New(newClusterClient(t, c), redisstore.Options{})
			}
			return stores
		})
	})
	t.Run("rate", func(t *testing.T) {
		// One key, one slot: AllowRate decides there, one at a time.
		limiters := make([]*cachestruct.RateLimiter, 32)
		for i := range 2 {
			store := redisstore.New(newClusterClient(t, c), redisstore.Options{})
			for g := i; g < len(limiters); g += 2 {
				limiters[g] = cachestruct.NewRateLimiter(store, rateLimit, cachestruct.RateLimiterConfig{MaxTries: 1})
			}
		}
		rateExact(t, limiters, 40, rateLimit.Burst)
	})
	t.Run("master_lost", func(t *testing.T) { clusterMasterLost(t, c) })
}

// quiet is a go-redis logger that drops the pool's dial-failure messages,
// which the fault tests provoke by the hundred.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}
