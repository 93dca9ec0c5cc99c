package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/redisstore"
	"github.com/twine-go/twine/internal/redistest"
)

// faultClient is a client with short timeouts and no retries, as a
// service that must answer quickly would configure it.
func faultClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// callAll runs every Store operation (and two structures) on key with a
// ctx of deadline d and returns their errors, failing the test if any
// call outlives its ctx by more than a margin for a loaded machine.
func callAll(t *testing.T, s cachestruct.Store, key string, d time.Duration) []error {
	t.Helper()
	var errs []error
	call := func(name string, f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		start := time.Now()
		errs = append(errs, f(ctx))
		assert.Less(t, time.Since(start), d+time.Second, "%s returned late", name)
	}
	call("Get", func(ctx context.Context) error {
		_, _, err := s.Get(ctx, key, cachestruct.GetOptions{Lease: time.Second})
		return err
	})
	call("GetMulti", func(ctx context.Context) error {
		_, err := s.GetMulti(ctx, []string{key, key + "2"})
		return err
	})
	call("Set", func(ctx context.Context) error {
		_, err := s.Set(ctx, key, []byte("v"), cachestruct.SetOptions{})
		return err
	})
	call("Delete", func(ctx context.Context) error { return s.Delete(ctx, key, cachestruct.DeleteOptions{}) })
	call("Incr", func(ctx context.Context) error {
		_, err := s.Incr(ctx, key, 1, cachestruct.IncrOptions{Vivify: true})
		return err
	})
	call("Lock", func(ctx context.Context) error {
		_, err := cachestruct.NewLock(s, key+"lock", cachestruct.LockConfig{}).TryLock(ctx)
		return err
	})
	call("Counter", func(ctx context.Context) error {
		_, err := cachestruct.NewCounter(s, cachestruct.CounterConfig{}).Incr(ctx, key+"n", 1)
		return err
	})
	return errs
}

func requireUnavailable(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		require.ErrorIs(t, err, cachestruct.ErrUnavailable, "call %d", i)
	}
}

// requireWorks checks that every operation succeeds again within timeout
// (the client reconnects on demand; a ClusterClient reloads the slots at
// least every 10 s).
func requireWorks(t *testing.T, s cachestruct.Store, key string, timeout time.Duration) {
	t.Helper()
	var last error
	deadline := time.Now().Add(timeout)
	for ok := false; !ok; time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the store does not recover: %v", last)
		ok = true
		for i, err := range callAll(t, s, key, 2*time.Second) {
			if err != nil && !errors.Is(err, cachestruct.ErrNotFound) {
				ok, last = false, fmt.Errorf("call %d: %w", i, err)
			}
		}
	}
}

func TestServerKilledAndRestartedEmpty(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(faultClient(t, srv.Addr()), redisstore.Options{})
	ctx := context.Background()
	_, err := s.Set(ctx, "k", []byte("v"), cachestruct.SetOptions{})
	require.NoError(t, err)

	srv.Stop()
	requireUnavailable(t, callAll(t, s, "k", 500*time.Millisecond))

	srv.Restart() // empty, and without the script
	requireWorks(t, s, "k", 10*time.Second)
	_, found, err := s.Get(ctx, "gone", cachestruct.GetOptions{})
	require.NoError(t, err)
	assert.False(t, found)
}

func TestServerPaused(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(faultClient(t, srv.Addr()), redisstore.Options{})
	ctx := context.Background()
	_, err := s.Set(ctx, "k", []byte("v"), cachestruct.SetOptions{})
	require.NoError(t, err)

	srv.Pause()
	errs := callAll(t, s, "k", 150*time.Millisecond) // before the client's ReadTimeout
	requireUnavailable(t, errs)
	assert.ErrorIs(t, errs[0], context.DeadlineExceeded, "the ctx's end is in the chain")
	srv.Resume()
	requireWorks(t, s, "k", 10*time.Second)
	it, found, err := s.Get(ctx, "k", cachestruct.GetOptions{})
	require.NoError(t, err)
	require.True(t, found, "a paused server keeps its items")
	assert.Equal(t, "0", string(it.Value), "the counter created by requireWorks")
}

// TestScriptFlushed: a server that lost its scripts (SCRIPT FLUSH, a
// restart, a promoted replica) gets the script again through EVAL, and
// GetMulti's pipeline too.
func TestScriptFlushed(t *testing.T) {
	addr := redistest.Start(t).Addr()
	c := faultClient(t, addr)
	s := redisstore.New(c, redisstore.Options{})
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, c.ScriptFlush(ctx).Err())
		cas, err := s.Set(ctx, "k", []byte(strconv.Itoa(i)), cachestruct.SetOptions{})
		require.NoError(t, err)
		require.NoError(t, c.ScriptFlush(ctx).Err())
		items, err := s.GetMulti(ctx, []string{"k", "missing"})
		require.NoError(t, err)
		assert.Equal(t, cas, items["k"].CAS)
		require.NoError(t, c.ScriptFlush(ctx).Err())
		n, err := s.Incr(ctx, "n", 1, cachestruct.IncrOptions{Vivify: true})
		require.NoError(t, err)
		assert.EqualValues(t, i, n)
	}
}

// TestForeignKeys: keys written by another client read as ErrCorrupt (or
// are replaced by a plain Set, removed by a plain Delete), never a panic.
func TestForeignKeys(t *testing.T) {
	addr := redistest.Start(t).Addr()
	c := faultClient(t, addr)
	s := redisstore.New(c, redisstore.Options{})
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "plain", "hello", 0).Err())
	require.NoError(t, c.Set(ctx, "short", "\xc7\x01x", 0).Err())
	require.NoError(t, c.HSet(ctx, "hash", "f", "v").Err())
	require.NoError(t, c.RPush(ctx, "list", "a").Err())
	for _, k := range []string{"plain", "short", "hash", "list"} {
		_, _, err := s.Get(ctx, k, cachestruct.GetOptions{})
		require.ErrorIs(t, err, cachestruct.ErrCorrupt, k)
		_, err = s.GetMulti(ctx, []string{k})
		require.ErrorIs(t, err, cachestruct.ErrCorrupt, k)
		_, err = s.Incr(ctx, k, 1, cachestruct.IncrOptions{Vivify: true})
		require.ErrorIs(t, err, cachestruct.ErrCorrupt, k)
		_, err = s.Set(ctx, k, []byte("x"), cachestruct.SetOptions{Mode: cachestruct.ModeAppend})
		require.ErrorIs(t, err, cachestruct.ErrCorrupt, k)
		_, err = s.Set(ctx, k, []byte("x"), cachestruct.SetOptions{CAS: 1})
		require.ErrorIs(t, err, cachestruct.ErrCorrupt, k)
		require.ErrorIs(t, s.Delete(ctx, k, cachestruct.DeleteOptions{Invalidate: true}), cachestruct.ErrCorrupt, k)
		_, err = cachestruct.NewCounter(s, cachestruct.CounterConfig{}).Get(ctx, k)
		require.Error(t, err, k)
	}
	for _, k := range []string{"plain", "short"} {
		_, err := s.Set(ctx, k, []byte("mine"), cachestruct.SetOptions{})
		require.NoError(t, err, "a plain Set replaces a foreign string")
		it, found, err := s.Get(ctx, k, cachestruct.GetOptions{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, "mine", string(it.Value))
	}
	require.NoError(t, c.Set(ctx, "plain", "hello", 0).Err())
	require.NoError(t, s.Delete(ctx, "plain", cachestruct.DeleteOptions{}), "a plain Delete removes a foreign string")
	_, err := s.Set(ctx, "hash", []byte("mine"), cachestruct.SetOptions{})
	require.NoError(t, err, "a plain Set replaces a foreign hash")
	require.NoError(t, c.RPush(ctx, "list", "a").Err())
	require.NoError(t, s.Delete(ctx, "list", cachestruct.DeleteOptions{}), "a plain Delete removes a foreign list")
}

func TestNoGoroutineLeak(t *testing.T) {
	srv := redistest.Start(t)
	// A first client starts whatever go-redis starts once per process.
	warm := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	require.NoError(t, warm.Ping(context.Background()).Err())
	require.NoError(t, warm.Close())
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()
	func() {
		c := redis.NewClient(&redis.Options{
			Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1,
			DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
		})
		defer c.Close()
		s := redisstore.New(c, redisstore.Options{})
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				ctx := context.Background()
				key := "k" + strconv.Itoa(i)
				_, _ = s.Set(ctx, key, []byte("v"), cachestruct.SetOptions{})
				_, _ = s.GetMulti(ctx, []string{key, "x"})
			})
		}
		wg.Wait()
		srv.Pause()
		requireUnavailable(t, callAll(t, s, "k", 100*time.Millisecond))
		srv.Resume()
	}()
	// Polled here, not with Eventually, whose own goroutine would count.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if runtime.NumGoroutine() > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: %d before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}

// clusterMasterLost kills a master of c while clients work: calls on its
// slots fail with ErrUnavailable within their ctx (or succeed once its
// replica, which never loaded the script, has taken over), nothing
// panics, and everything works again once the cluster is ok. Then the old
// master comes back (as a replica) and slots are resharded under load:
// go-redis follows MOVED and ASK, and no increment is lost or doubled.
func clusterMasterLost(t *testing.T, c *redistest.Cluster) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: c.Addrs(), ContextTimeoutEnabled: true,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, MaxRetries: -1,
		// Dial errors do not make go-redis reload the slots (MOVED does):
		// without this it notices a promoted replica within 60 s.
		ClusterStateReloadInterval: time.Second,
	})
	t.Cleanup(func() { _ = cc.Close() })
	s := redisstore.New(cc, redisstore.Options{})
	ctx := context.Background()
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = "lost:" + strconv.Itoa(i)
		_, err := s.Set(ctx, keys[i], []byte("v"), cachestruct.SetOptions{})
		require.NoError(t, err)
	}
	masters := c.Masters()
	require.Len(t, masters, 3)
	victim := masters[0]
	victim.Stop()
	for _, k := range keys[:10] {
		for _, err := range callAll(t, s, k, 300*time.Millisecond) {
			if err != nil && !errors.Is(err, cachestruct.ErrNotFound) {
				require.ErrorIs(t, err, cachestruct.ErrUnavailable)
			}
		}
	}
	c.WaitOK(t, 30*time.Second)
	for _, k := range keys {
		requireWorks(t, s, k, 30*time.Second)
	}
	victim.Restart()
	c.WaitOK(t, 30*time.Second)

	// Reshard under load: counters stay exact.
	var wg sync.WaitGroup
	var stop atomic.Bool
	var done [8]atomic.Int64
	for g := range done {
		wg.Go(func() {
			key := "reshard:" + strconv.Itoa(g)
			for !stop.Load() {
				if _, err := s.Incr(ctx, key, 1, cachestruct.IncrOptions{Vivify: true, Initial: 1}); !assert.NoError(t, err) {
					return
				}
				done[g].Add(1)
			}
		})
	}
	masters = c.Masters()
	require.Len(t, masters, 3)
	c.Reshard(t, masters[0], masters[1], 500)
	stop.Store(true)
	wg.Wait()
	for g := range done {
		n, err := s.Incr(ctx, "reshard:"+strconv.Itoa(g), 0, cachestruct.IncrOptions{})
		require.NoError(t, err)
		assert.EqualValues(t, done[g].Load(), n, "counter %d", g)
	}
}
