package benchpeers

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bsm/redislock"
	rediscache "github.com/go-redis/cache/v9"
	"github.com/go-redsync/redsync/v4"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/redisstore"
	"github.com/twine-go/twine/internal/redistest"
)

// The Redis benchmarks run twine's structures on redisstore against the
// Redis libraries that do the same work, all on one real redis-server
// through one go-redis client (pool of 100 connections, so that 64
// goroutines never wait for one), from 1 and 64 goroutines. Every
// operation compared is one round trip in each library.

// redisGoroutines are the concurrency levels of the Redis benchmarks.
var redisGoroutines = []int{1, 64}

// newRedisClient starts one redis-server and returns a client of it.
func newRedisClient(b *testing.B) *redis.Client {
	srv := redistest.Start(b)
	c := redis.NewClient(&redis.Options{
		Addr: srv.Addr(), PoolSize: 100, MaxRetries: -1, ContextTimeoutEnabled: true,
		ReadTimeout: benchTimeout, WriteTimeout: benchTimeout,
	})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// benchEach runs the operation that setup returns for each goroutine (one
// setup per goroutine, given the goroutine's number) b.N times in all,
// from g goroutines.
func benchEach(b *testing.B, g int, setup func(id int) func() error) {
	b.ReportAllocs()
	if g == 1 {
		op := setup(0)
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var ids atomic.Int64
	b.SetParallelism((g + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		op := setup(int(ids.Add(1)))
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRedisLock compares an uncontended acquire + release (two round
// trips in each library; each goroutine its own lock key) of
// cachestruct.Lock on redisstore with bsm/redislock and go-redsync on one
// instance.
func BenchmarkRedisLock(b *testing.B) {
	c := newRedisClient(b)
	ctx := context.Background()
	store := redisstore.New(c, redisstore.Options{})
	locker := redislock.New(c)
	rs := redsync.New(redsyncgoredis.NewPool(c))
	peers := []struct {
		name  string
		setup func(key string) func() error
	}{
		{"twine", func(key string) func() error {
			l := cachestruct.NewLock(store, key, cachestruct.LockConfig{TTL: time.Minute})
			return func() error {
				h, err := l.TryLock(ctx)
				if err != nil {
					return err
				}
				return h.Unlock(ctx)
			}
		}},
		{"redislock", func(key string) func() error {
			return func() error {
				l, err := locker.Obtain(ctx, key, time.Minute, nil)
				if err != nil {
					return err
				}
				return l.Release(ctx)
			}
		}},
		{"redsync", func(key string) func() error {
			m := rs.NewMutex(key, redsync.WithExpiry(time.Minute), redsync.WithTries(1))
			return func() error {
				if err := m.LockContext(ctx); err != nil {
					return err
				}
				ok, err := m.UnlockContext(ctx)
				if err == nil && !ok {
					err = fmt.Errorf("redsync: not unlocked")
				}
				return err
			}
		}},
	}
	for _, g := range redisGoroutines {
		for _, p := range peers {
			b.Run(fmt.Sprintf("goroutines=%d/%s", g, p.name), func(b *testing.B) {
				benchEach(b, g, func(id int) func() error {
					return p.setup("bench:lock:" + p.name + ":" + strconv.Itoa(id))
				})
			})
		}
	}
}

// BenchmarkRedisCacheHit compares a hit of cachestruct.Cache.GetOrCompute
// on redisstore with go-redis/cache's Once without its local cache (one
// GET), for a 100-byte string value; each goroutine reads its own key
// (Once shares one GET among concurrent callers of a key, which would
// measure its singleflight, not a hit).
func BenchmarkRedisCacheHit(b *testing.B) {
	c := newRedisClient(b)
	ctx := context.Background()
	value := strings.Repeat("v", 100)
	compute := func(context.Context) (string, error) { return value, nil }
	twine := cachestruct.NewCache(redisstore.New(c, redisstore.Options{}), cachestruct.StringCodec{}, cachestruct.CacheConfig{})
	peer := rediscache.New(&rediscache.Options{Redis: c})
	peers := []struct {
		name  string
		setup func(key string) func() error
	}{
		{"twine", func(key string) func() error {
			if _, err := twine.GetOrCompute(ctx, key, time.Hour, compute); err != nil {
				b.Fatal(err)
			}
			return func() error {
				v, err := twine.GetOrCompute(ctx, key, time.Hour, compute)
				if err == nil && len(v) != len(value) {
					err = fmt.Errorf("got %d bytes", len(v))
				}
				return err
			}
		}},
		{"go-redis-cache", func(key string) func() error {
			item := func(v *string) *rediscache.Item {
				return &rediscache.Item{Ctx: ctx, Key: key, Value: v, TTL: time.Hour,
					Do: func(*rediscache.Item) (any, error) { return value, nil }}
			}
			var warm string
			if err := peer.Once(item(&warm)); err != nil {
				b.Fatal(err)
			}
			return func() error {
				var v string
				err := peer.Once(item(&v))
				if err == nil && len(v) != len(value) {
					err = fmt.Errorf("got %d bytes", len(v))
				}
				return err
			}
		}},
	}
	for _, g := range redisGoroutines {
		for _, p := range peers {
			b.Run(fmt.Sprintf("goroutines=%d/%s", g, p.name), func(b *testing.B) {
				benchEach(b, g, func(id int) func() error {
					return p.setup("bench:cache:" + p.name + ":" + strconv.Itoa(id))
				})
			})
		}
	}
}

// BenchmarkRedisCounter compares cachestruct.Counter.Incr on redisstore
// (memcached's incr: vivify, wrap at 2^64, keep the TTL) with a bare
// go-redis INCR, on one key per goroutine.
func BenchmarkRedisCounter(b *testing.B) {
	c := newRedisClient(b)
	ctx := context.Background()
	counter := cachestruct.NewCounter(redisstore.New(c, redisstore.Options{}), cachestruct.CounterConfig{TTL: time.Hour})
	peers := []struct {
		name  string
		setup func(key string) func() error
	}{
		{"twine", func(key string) func() error {
			return func() error {
				_, err := counter.Incr(ctx, key, 1)
				return err
			}
		}},
		{"go-redis-incr", func(key string) func() error {
			return func() error { return c.Incr(ctx, key).Err() }
		}},
	}
	for _, g := range redisGoroutines {
		for _, p := range peers {
			b.Run(fmt.Sprintf("goroutines=%d/%s", g, p.name), func(b *testing.B) {
				benchEach(b, g, func(id int) func() error {
					return p.setup("bench:counter:" + p.name + ":" + strconv.Itoa(id))
				})
			})
		}
	}
}
