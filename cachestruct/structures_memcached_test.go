package cachestruct

import (
	"context"
	"errors"
	"hash/crc32"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// stPicker is the trivial picker of the structures' proofs: the CRC-32 of
// the key modulo the number of servers (cachestruct cannot import hashring).
type stPicker []string

func (p stPicker) Get(key string) string {
	return p[crc32.ChecksumIEEE([]byte(key))%uint32(len(p))]
}

// stMemcachedClients starts a cluster of servers real memcached processes
// and returns n separate clients (each its own connection pools, as n
// processes would have), sharded over the cluster by stPicker.
func stMemcachedClients(t *testing.T, servers, n int, opts MemcachedOptions) ([]*memcachedtest.Server, []Store) {
	t.Helper()
	cluster := memcachedtest.Cluster(t, servers)
	addrs := memcachedtest.Addrs(cluster)
	opts.Picker = stPicker(addrs)
	if opts.Timeout == 0 {
		// The proofs run hundreds of goroutines under -race on a shared
		// 2-core machine, where a reply can wait over the default 1 s for
		// a core; fault tests set their own, short Timeout.
		opts.Timeout = 10 * time.Second
	}
	out := make([]Store, n)
	for i := range out {
		m, err := NewMemcached(addrs, opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		out[i] = m
	}
	return cluster, out
}

// TestCacheStampedeUnprotectedMemcached is what the stampede proof
// (storetest.RunStructures, run on memcached by storetest's tests) guards
// against: 200 goroutines in each of 4 clients, on three real memcached
// servers, meet one missing key with get, compute, set and no protection,
// and many of them compute.
func TestCacheStampedeUnprotectedMemcached(t *testing.T) {
	const clients, perClient = 4, 200
	ctx := context.Background()
	_, stores := stMemcachedClients(t, 3, clients, MemcachedOptions{})
	// Without protection: get, compute on a miss, set.
	var naive atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		for range perClient {
			wg.Go(func() {
				_, found, err := stores[c].Get(ctx, "naive", GetOptions{})
				assert.NoError(t, err)
				if found {
					return
				}
				naive.Add(1)
				time.Sleep(50 * time.Millisecond)
				_, err = stores[c].Set(ctx, "naive", []byte("v"), SetOptions{TTL: time.Second})
				assert.NoError(t, err)
			})
		}
	}
	wg.Wait()
	t.Logf("unprotected: %d computes for one miss of %d callers", naive.Load(), clients*perClient)
	assert.Greater(t, naive.Load(), int64(1))
}

// TestFaultsMemcached: a paused (hung) or killed server gives errors within
// the ctx deadline, and GetOrCompute falls back to a local compute.
func TestFaultsMemcached(t *testing.T) {
	cluster, stores := stMemcachedClients(t, 1, 1, MemcachedOptions{Timeout: 200 * time.Millisecond, EjectAfter: -1})
	srv, store := cluster[0], stores[0]
	cache := NewCache(store, StringCodec{}, CacheConfig{})
	counter := NewCounter(store, CounterConfig{})
	lock := NewLock(store, "lock", LockConfig{})
	compute := func(context.Context) (string, error) { return "computed", nil }
	const deadline = 2 * time.Second

	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Counter.Incr", func(ctx context.Context) error { _, err := counter.Incr(ctx, "c", 1); return err }},
		{"Lock.TryLock", func(ctx context.Context) error { _, err := lock.TryLock(ctx); return err }},
		{"Tags.Get", func(ctx context.Context) error {
			_, _, err := NewTags(store, TagsConfig{}).Get(ctx, "e", "t")
			return err
		}},
	}
	check := func(t *testing.T, state string) {
		for _, c := range calls {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			start := time.Now()
			err := c.call(ctx)
			cancel()
			require.Error(t, err, "%s on a %s server", c.name, state)
			assert.Less(t, time.Since(start), deadline+500*time.Millisecond, c.name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		v, err := cache.GetOrCompute(ctx, "k", time.Minute, compute)
		require.NoError(t, err, "GetOrCompute computes locally on a %s server", state)
		assert.Equal(t, "computed", v)
		assert.Less(t, time.Since(start), deadline)
	}

	ctx := context.Background()
	_, err := counter.Incr(ctx, "c", 1)
	require.NoError(t, err)

	t.Run("paused", func(t *testing.T) {
		srv.Pause()
		defer srv.Resume()
		check(t, "paused")
		// A caller with a short ctx gets ctx's error, in time.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := counter.Incr(ctx, "c", 1)
		require.Error(t, err)
	})
	t.Run("killed", func(t *testing.T) {
		srv.Stop()
		check(t, "killed")
		// The local fallback is still deduplicated in process.
		var computes atomic.Int64
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				v, err := cache.GetOrCompute(ctx, "down", time.Minute, func(context.Context) (string, error) {
					computes.Add(1)
					time.Sleep(50 * time.Millisecond)
					return "local", nil
				})
				assert.NoError(t, err)
				assert.Equal(t, "local", v)
			})
		}
		wg.Wait()
		t.Logf("store down: %d local computes for 50 concurrent callers", computes.Load())
		assert.LessOrEqual(t, computes.Load(), int64(10))
	})
	t.Run("restarted", func(t *testing.T) {
		srv.Restart()
		require.Eventually(t, func() bool {
			_, err := counter.Incr(ctx, "c", 1)
			return err == nil
		}, 10*time.Second, 50*time.Millisecond, "the client recovers")
		n, err := counter.Get(ctx, "c")
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "restarted empty: the counter restarted")
		v, err := cache.GetOrCompute(ctx, "k2", time.Minute, compute)
		require.NoError(t, err)
		assert.Equal(t, "computed", v)
		_, found, err := cache.Get(ctx, "k2")
		require.NoError(t, err)
		assert.True(t, found, "cached again once the server is back")
	})
}

// TestFaultsMidOperationMemcached: the server hangs or dies while callers
// are already waiting (a Lock poller, GetOrCompute waiters behind a lease):
// they end within their deadline, the waiters with the local fallback.
func TestFaultsMidOperationMemcached(t *testing.T) {
	cluster, stores := stMemcachedClients(t, 1, 2, MemcachedOptions{Timeout: 200 * time.Millisecond, EjectAfter: -1})
	srv := cluster[0]
	ctx := context.Background()
	// Each subtest has its own key: a lock request queued at the paused
	// server is still carried out when it resumes, after the test has
	// moved on, and must not land on the cache's key.

	t.Run("lock waiter, server paused", func(t *testing.T) {
		holder, err := NewLock(stores[0], "mid:lock", LockConfig{}).TryLock(ctx)
		require.NoError(t, err)
		waiter := NewLock(stores[1], "mid:lock", LockConfig{Poll: 10 * time.Millisecond, MaxPoll: 20 * time.Millisecond})
		const deadline = 1500 * time.Millisecond
		wctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		errc := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := waiter.Lock(wctx)
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond) // the waiter is polling
		srv.Pause()
		err = <-errc
		srv.Resume()
		require.Error(t, err)
		assert.True(t, errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded), "%v", err)
		assert.Less(t, time.Since(start), deadline+2*time.Second, "the call ends with its context (margin for a loaded machine)")
		require.NoError(t, holder.Unlock(ctx))
	})

	t.Run("cache waiters, server killed", func(t *testing.T) {
		winner := NewCache(stores[0], StringCodec{}, CacheConfig{})
		waiters := NewCache(stores[1], StringCodec{}, CacheConfig{Poll: 10 * time.Millisecond, MaxPoll: 20 * time.Millisecond})
		release := make(chan struct{})
		won := make(chan string, 1)
		go func() {
			v, err := winner.GetOrCompute(ctx, "mid:cache", time.Minute, func(context.Context) (string, error) {
				<-release
				return "winner", nil
			})
			assert.NoError(t, err, "the winner's lost write is not an error")
			won <- v
		}()
		require.Eventually(t, func() bool { // the winner holds the lease
			it, found, err := stores[1].Get(ctx, "mid:cache", GetOptions{})
			return err == nil && found && len(it.Value) == 0
		}, 2*time.Second, 10*time.Millisecond)

		const n = 20
		got := make(chan string, n)
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		for range n {
			go func() {
				v, err := waiters.GetOrCompute(wctx, "mid:cache", time.Minute, func(context.Context) (string, error) {
					return "local", nil
				})
				assert.NoError(t, err)
				got <- v
			}()
		}
		time.Sleep(100 * time.Millisecond) // the waiters are polling
		srv.Stop()
		for range n {
			assert.Equal(t, "local", <-got, "a waiter computes locally once the store is down")
		}
		close(release)
		assert.Equal(t, "winner", <-won)
	})
}

func TestOnlineMemcached(t *testing.T) {
	// memcached's clock is real: count real users in the current slot by
	// reading it back as the next slot would.
	ctx := context.Background()
	_, stores := stMemcachedClients(t, 3, 2, MemcachedOptions{})
	clk := newStClock(time.Now())
	a := NewOnline(stores[0], "on", OnlineConfig{Slot: time.Minute, Slots: 5, Now: clk.Now})
	b := NewOnline(stores[1], "on", OnlineConfig{Slot: time.Minute, Slots: 5, Now: clk.Now})
	for i := range 50 {
		require.NoError(t, a.Hit(ctx, "user"+strconv.Itoa(i)))
		require.NoError(t, b.Hit(ctx, "user"+strconv.Itoa(i%10))) // counted already
	}
	// The slot key's TTL on the server is the aligned one (memcached
	// reports whole seconds, and a second may tick meanwhile).
	slot, _ := a.slotOf(clk.Now())
	it, found, err := stores[0].Get(ctx, a.slotKey(slot), GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	want := a.SlotTTL(clk.Now())
	assert.InDelta(t, want.Seconds(), it.TTL.Seconds(), 1, "TTL %v, aligned %v", it.TTL, want)

	clk.Advance(time.Minute)
	n, err := b.Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 50, n)
}

// The hot paths on one real memcached server: each is one round trip.
func BenchmarkStructuresMemcached(b *testing.B) {
	srv := memcachedtest.Start(b)
	store, err := NewMemcached([]string{srv.Addr()}, MemcachedOptions{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = store.Close() })
	val := make([]byte, 100)
	b.Run("cache-hit/value=100", func(b *testing.B) { benchCacheHit(b, store, val) })
	b.Run("store-get/value=100", func(b *testing.B) { benchStoreGet(b, store, val) })
	b.Run("counter-incr", func(b *testing.B) {
		ctx := context.Background()
		c := NewCounter(store, CounterConfig{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Incr(ctx, "views", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lock-unlock", func(b *testing.B) {
		ctx := context.Background()
		l := NewLock(store, "lock", LockConfig{Owner: "bench"})
		b.ReportAllocs()
		for b.Loop() {
			h, err := l.TryLock(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Unlock(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
