package cachestruct

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcache"
	"github.com/twine-go/twine/internal/memcachedtest"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Unix(1_700_000_000, 0).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fixedPicker sends every key to order[0], with the rest as successors.
type fixedPicker []string

func (p fixedPicker) Get(string) string { return p[0] }
func (p fixedPicker) AppendN(dst []string, _ string, n int) ([]string, error) {
	return append(dst, p[:min(n, len(p))]...), nil
}

// onlyGet is a Picker without successors.
type onlyGet struct{ p fixedPicker }

func (o onlyGet) Get(k string) string { return o.p.Get(k) }

var errNet = &memcache.NetError{Addr: "a", Op: "read", Err: errors.New("connection reset")}

func TestMemcachedEjection(t *testing.T) {
	clock := newFakeClock()
	m, err := NewMemcached([]string{"a", "b", "c"}, MemcachedOptions{
		Picker: fixedPicker{"a", "b", "c"}, EjectAfter: 3,
		RetryAfter: time.Second, MaxRetryAfter: 3 * time.Second, Now: clock.Now,
	})
	require.NoError(t, err)
	defer m.Close()
	a, b := m.servers["a"], m.servers["b"]
	pick := func() string {
		t.Helper()
		s, err := m.pick("k")
		require.NoError(t, err)
		return s.addr
	}

	// Failures must be consecutive: an answer (even a miss) resets them,
	// a cancellation by the caller counts for nothing.
	m.record(a, errNet)
	m.record(a, errNet)
	m.record(a, memcache.ErrCacheMiss)
	m.record(a, errNet)
	m.record(a, context.Canceled)
	m.record(a, fmt.Errorf("wrapped: %w", context.DeadlineExceeded))
	assert.Equal(t, "a", pick())
	assert.Empty(t, m.Ejected())
	m.record(a, errNet)
	assert.Equal(t, []string{"a"}, m.Ejected())
	assert.Equal(t, "b", pick(), "an ejected server's keys go to its successor")

	// After RetryAfter one request probes a; the others keep using b.
	clock.Advance(time.Second)
	assert.Equal(t, "a", pick())
	assert.Equal(t, "b", pick())
	m.record(a, errNet) // the probe failed: ejected for 2s
	clock.Advance(1999 * time.Millisecond)
	assert.Equal(t, "b", pick())
	clock.Advance(time.Millisecond)
	assert.Equal(t, "a", pick())
	m.record(a, errNet) // failed again: 3s (the cap)
	clock.Advance(2999 * time.Millisecond)
	assert.Equal(t, "b", pick())
	clock.Advance(time.Millisecond)
	assert.Equal(t, "a", pick())
	m.record(a, errNet)
	clock.Advance(3 * time.Second)
	assert.Equal(t, "a", pick())
	m.record(a, nil) // the probe succeeded: readmitted
	assert.Empty(t, m.Ejected())
	assert.Equal(t, "a", pick())
	assert.Equal(t, "a", pick())

	// With a and b ejected, c serves; with all ejected, nothing does.
	for range 3 {
		m.record(a, errNet)
		m.record(b, errNet)
	}
	assert.Equal(t, "c", pick())
	for range 3 {
		m.record(m.servers["c"], errNet)
	}
	_, err = m.pick("k")
	require.ErrorIs(t, err, ErrUnavailable)
	_, _, err = m.Get(context.Background(), "k", GetOptions{})
	require.ErrorIs(t, err, ErrUnavailable, "no waiting when every server is ejected")
}

func TestMemcachedEjectionOptions(t *testing.T) {
	t.Run("never", func(t *testing.T) {
		m, err := NewMemcached([]string{"a", "b"}, MemcachedOptions{Picker: fixedPicker{"a", "b"}, EjectAfter: -1})
		require.NoError(t, err)
		defer m.Close()
		for range 100 {
			m.record(m.servers["a"], errNet)
		}
		s, err := m.pick("k")
		require.NoError(t, err)
		assert.Equal(t, "a", s.addr)
	})
	t.Run("no successors", func(t *testing.T) {
		m, err := NewMemcached([]string{"a", "b"}, MemcachedOptions{Picker: onlyGet{fixedPicker{"a", "b"}}})
		require.NoError(t, err)
		defer m.Close()
		for range 3 {
			m.record(m.servers["a"], errNet)
		}
		_, err = m.pick("k")
		require.ErrorIs(t, err, ErrUnavailable)
	})
	t.Run("unknown server", func(t *testing.T) {
		m, err := NewMemcached([]string{"a"}, MemcachedOptions{Picker: fixedPicker{""}})
		require.NoError(t, err)
		defer m.Close()
		_, _, err = m.Get(context.Background(), "k", GetOptions{})
		require.ErrorIs(t, err, ErrUnavailable, "an empty ring picks no server")
	})
	t.Run("bad addresses", func(t *testing.T) {
		_, err := NewMemcached(nil, MemcachedOptions{})
		require.Error(t, err)
		_, err = NewMemcached([]string{"a", "a"}, MemcachedOptions{})
		require.Error(t, err)
	})
	t.Run("default picker spreads keys", func(t *testing.T) {
		p := modPicker{"a", "b", "c"}
		counts := map[string]int{}
		for i := range 3000 {
			k := fmt.Sprint("key", i)
			counts[p.Get(k)]++
			nodes, err := p.AppendN(nil, k, 5)
			require.NoError(t, err)
			require.Len(t, nodes, 3)
			assert.Equal(t, p.Get(k), nodes[0])
			assert.ElementsMatch(t, []string{"a", "b", "c"}, nodes)
		}
		for _, n := range counts {
			assert.InDelta(t, 1000, n, 150)
		}
	})
}

// callAll runs every Store method once with a deadline d and checks that
// each returns within d plus a generous margin for a loaded machine (a
// call that waited for a hung server would take far longer: Timeout is
// seconds there); it returns the errors.
func callAll(t *testing.T, s Store, key string, d time.Duration) []error {
	t.Helper()
	var errs []error
	run := func(f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		start := time.Now()
		errs = append(errs, f(ctx))
		assert.Less(t, time.Since(start), d+2*time.Second, "a call outlived its deadline")
	}
	run(func(ctx context.Context) error { _, _, err := s.Get(ctx, key, GetOptions{}); return err })
	run(func(ctx context.Context) error { _, err := s.GetMulti(ctx, []string{key, key + "2"}); return err })
	run(func(ctx context.Context) error { _, err := s.Set(ctx, key, []byte("v"), SetOptions{}); return err })
	run(func(ctx context.Context) error { return s.Delete(ctx, key, DeleteOptions{}) })
	run(func(ctx context.Context) error { _, err := s.Incr(ctx, key, 1, IncrOptions{Vivify: true}); return err })
	return errs
}

func TestMemcachedServerDown(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		srv := memcachedtest.Start(t)
		srv.Stop()
		m := newMemcachedStore(t, []string{srv.Addr()}, MemcachedOptions{EjectAfter: -1})
		for _, err := range callAll(t, m, "k", time.Second) {
			require.ErrorIs(t, err, ErrUnavailable)
		}
		srv.Restart()
		_, err := m.Set(context.Background(), "k", []byte("v"), SetOptions{})
		require.NoError(t, err, "the client recovers when the server is back")
	})
	t.Run("all down", func(t *testing.T) {
		servers := memcachedtest.Cluster(t, 2)
		m := newMemcachedStore(t, memcachedtest.Addrs(servers), MemcachedOptions{})
		for _, s := range servers {
			s.Stop()
		}
		for i := range 5 {
			for _, err := range callAll(t, m, fmt.Sprint("k", i), time.Second) {
				require.ErrorIs(t, err, ErrUnavailable)
			}
		}
		assert.Len(t, m.Ejected(), 2)
	})
	t.Run("killed mid-run and restarted empty", func(t *testing.T) {
		srv := memcachedtest.Start(t)
		m := newMemcachedStore(t, []string{srv.Addr()}, MemcachedOptions{EjectAfter: -1})
		ctx := context.Background()
		_, err := m.Set(ctx, "k", []byte("v"), SetOptions{})
		require.NoError(t, err)
		// Callers in flight while the server dies get an answer or an
		// error, never a hang.
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					cctx, cancel := context.WithTimeout(ctx, time.Second)
					_, _, err := m.Get(cctx, "k", GetOptions{})
					cancel()
					if err != nil && !errors.Is(err, ErrUnavailable) {
						assert.NoError(t, err)
					}
				}
			})
		}
		srv.Stop()
		srv.Restart()
		close(stop)
		wg.Wait()
		require.Eventually(t, func() bool {
			_, found, err := m.Get(ctx, "k", GetOptions{})
			return err == nil && !found
		}, 5*time.Second, 10*time.Millisecond, "the restarted server is used, and it is empty")
	})
}

func TestMemcachedPausedServer(t *testing.T) {
	srv := memcachedtest.Start(t)
	m := newMemcachedStore(t, []string{srv.Addr()}, MemcachedOptions{Timeout: 10 * time.Second, EjectAfter: -1})
	ctx := context.Background()
	_, err := m.Set(ctx, "k", []byte("v"), SetOptions{})
	require.NoError(t, err)

	// Requests sent to a hung server may still run when it resumes, so
	// the calls made meanwhile use keys of their own.
	srv.Pause()
	// SIGSTOP takes effect asynchronously: wait until the server hangs.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, _, err := m.Get(ctx, "probe", GetOptions{})
		return errors.Is(err, context.DeadlineExceeded)
	}, 5*time.Second, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i, err := range callAll(t, m, fmt.Sprint("x", g), 100*time.Millisecond) {
				if !errors.Is(err, context.DeadlineExceeded) {
					assert.ErrorIs(t, err, ErrUnavailable, "call %d", i)
				}
			}
		})
	}
	wg.Wait()
	srv.Resume()
	require.Eventually(t, func() bool {
		it, found, err := m.Get(ctx, "k", GetOptions{})
		return err == nil && found && string(it.Value) == "v"
	}, 5*time.Second, 10*time.Millisecond, "the client recovers when the server resumes")
}

func TestMemcachedFailoverToSuccessor(t *testing.T) {
	servers := memcachedtest.Cluster(t, 2)
	addrs := memcachedtest.Addrs(servers)
	clock := newFakeClock()
	m := newMemcachedStore(t, addrs, MemcachedOptions{
		Picker: fixedPicker(addrs), EjectAfter: 2, RetryAfter: time.Minute, Now: clock.Now,
	})
	ctx := context.Background()
	_, err := m.Set(ctx, "k", []byte("on-0"), SetOptions{})
	require.NoError(t, err)

	servers[0].Stop()
	for range 2 {
		_, _, err := m.Get(ctx, "k", GetOptions{})
		require.ErrorIs(t, err, ErrUnavailable)
	}
	require.Equal(t, []string{addrs[0]}, m.Ejected())
	missC(t, m, "k") // now served by the successor, which never saw k
	mustSetC(t, m, "k", "on-1", SetOptions{})
	assert.Equal(t, "on-1", string(mustGetC(t, m, "k", GetOptions{}).Value))

	// The server comes back (empty); after RetryAfter a probe readmits it
	// and the key is read from it again: the successor's write is not
	// seen there (the documented consistency cost of failover).
	servers[0].Restart()
	clock.Advance(time.Minute)
	missC(t, m, "k")
	assert.Empty(t, m.Ejected())
}

func TestMemcachedNoGoroutineLeak(t *testing.T) {
	servers := memcachedtest.Cluster(t, 3)
	before := runtime.NumGoroutine()
	m, err := NewMemcached(memcachedtest.Addrs(servers), MemcachedOptions{ConnsPerServer: 4})
	require.NoError(t, err)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				k := fmt.Sprint("g", g, "-", i)
				_, err := m.Set(ctx, k, []byte("v"), SetOptions{})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	servers[1].Stop()
	callAll(t, m, "x", 200*time.Millisecond)
	require.NoError(t, m.Close())
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before }, 5*time.Second, 10*time.Millisecond,
		"every goroutine ends after Close")
	_, _, err = m.Get(ctx, "k", GetOptions{})
	require.ErrorIs(t, err, ErrUnavailable, "a closed store is unavailable")
}

// TestMemcachedHungServerEjected: a paused server makes calls time out;
// after EjectAfter of them it is ejected and its keys are served at once
// by the successor, without waiting for the hung server again.
func TestMemcachedHungServerEjected(t *testing.T) {
	servers := memcachedtest.Cluster(t, 2)
	addrs := memcachedtest.Addrs(servers)
	m := newMemcachedStore(t, addrs, MemcachedOptions{
		Picker: fixedPicker(addrs), EjectAfter: 3, RetryAfter: time.Hour,
	})
	ctx := context.Background()
	mustSetC(t, m, "warm", "v", SetOptions{})
	servers[0].Pause()
	// SIGSTOP takes effect asynchronously: the first calls may still be
	// answered; from then on each times out, and the third in a row ejects.
	for i := 0; i < 30 && len(m.Ejected()) == 0; i++ {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, _, err := m.Get(cctx, "k", GetOptions{})
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}
	}
	require.Equal(t, []string{addrs[0]}, m.Ejected())
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := m.Set(cctx, "k", []byte("on-1"), SetOptions{})
	require.NoError(t, err, "served by the successor, not the hung server")
	assert.Equal(t, "on-1", string(mustGetC(t, m, "k", GetOptions{}).Value))
	servers[0].Resume()
}

// TestMemcachedGetMultiHungServer: a multi-get over three servers, one of
// them hung, returns within its deadline the items of the two others, all
// of them, with an error: whichever server hangs (the first server's batch
// is read by the calling goroutine, the others' by goroutines of their
// own), with GetMulti and with GetMultiPlain.
func TestMemcachedGetMultiHungServer(t *testing.T) {
	servers := memcachedtest.Cluster(t, 3)
	addrs := memcachedtest.Addrs(servers)
	m := newMemcachedStore(t, addrs, MemcachedOptions{EjectAfter: -1})
	ctx := context.Background()
	var keys []string
	on := map[string]string{} // key → server (the default picker's choice)
	for i := range 60 {
		k := fmt.Sprint("hung:", i)
		keys = append(keys, k)
		on[k] = m.picker.Get(k)
		mustSetC(t, m, k, "v"+k, SetOptions{})
	}
	gets := map[string]func(context.Context, []string) (map[string]Item, error){
		"GetMulti": m.GetMulti, "GetMultiPlain": m.GetMultiPlain,
	}
	for hung := range servers {
		servers[hung].Pause()
		require.Eventually(t, func() bool { // SIGSTOP takes effect asynchronously
			ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := m.GetMulti(ctx, keys)
			return errors.Is(err, context.DeadlineExceeded)
		}, 5*time.Second, time.Millisecond)
		for name, get := range gets {
			// Long enough for the healthy servers on a loaded machine.
			cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			start := time.Now()
			items, err := get(cctx, keys)
			cancel()
			assert.Less(t, time.Since(start), 2*time.Second, "%s: the call outlived its deadline", name)
			require.ErrorIs(t, err, context.DeadlineExceeded, name)
			want := 0
			for _, k := range keys {
				if on[k] != addrs[hung] {
					want++
					assert.Equal(t, "v"+k, string(items[k].Value), "%s: %s", name, k)
				}
			}
			require.Len(t, items, want, "%s, server %d hung", name, hung)
			require.NotZero(t, want)
			require.Less(t, want, len(keys))
		}
		servers[hung].Resume()
	}
}
