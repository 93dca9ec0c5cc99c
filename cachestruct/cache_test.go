package cachestruct

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCacheStampedeMemory is the stampede proof on the memory store: 200
// goroutines in each of 4 caches (4 processes' worth) hit one expired hot
// key; compute runs exactly once per expiry. The same load on a naive
// get-compute-set cache computes 800 times. synctest makes the computation
// take 100ms of fake time, so every goroutine misses before anyone writes.
func TestCacheStampedeMemory(t *testing.T) {
	const clients, perClient, expiries = 4, 200, 3
	synctest.Test(t, func(t *testing.T) {
		store := NewMemory(MemoryOptions{})
		caches := make([]*Cache[string], clients)
		for i := range caches {
			caches[i] = NewCache(store, StringCodec{}, CacheConfig{Lease: 5 * time.Second})
		}
		var computes atomic.Int64
		ctx := context.Background()
		for round := range expiries {
			want := "v" + strconv.Itoa(round)
			compute := func(context.Context) (string, error) {
				computes.Add(1)
				time.Sleep(100 * time.Millisecond)
				return want, nil
			}
			var wg sync.WaitGroup
			for c := range clients {
				for range perClient {
					wg.Go(func() {
						v, err := caches[c].GetOrCompute(ctx, "hot", time.Second, compute)
						assert.NoError(t, err)
						assert.Equal(t, want, v)
					})
				}
			}
			wg.Wait()
			require.EqualValues(t, round+1, computes.Load(), "computes after expiry %d", round)
			time.Sleep(2 * time.Second) // let the value expire
		}
		t.Logf("protected: %d computes for %d expiries of %d callers", computes.Load(), expiries, clients*perClient)

		// Without protection: every caller misses and computes.
		var naive atomic.Int64
		var wg sync.WaitGroup
		for range clients * perClient {
			wg.Go(func() {
				if _, ok, _ := store.Get(ctx, "naive", GetOptions{}); ok {
					return
				}
				naive.Add(1)
				time.Sleep(100 * time.Millisecond)
				_, err := store.Set(ctx, "naive", []byte("v"), SetOptions{TTL: time.Second})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		t.Logf("unprotected: %d computes for one expiry of %d callers", naive.Load(), clients*perClient)
		require.EqualValues(t, clients*perClient, naive.Load())
	})
}

func TestCacheGetOrCompute(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	var rec Recorder
	c := NewCache(store, StringCodec{}, CacheConfig{Observer: &rec})
	calls := 0
	compute := func(context.Context) (string, error) { calls++; return "built", nil }
	for range 5 {
		v, err := c.GetOrCompute(ctx, "k", time.Minute, compute)
		require.NoError(t, err)
		assert.Equal(t, "built", v)
	}
	assert.Equal(t, 1, calls)
	// The debugging story: miss, lock try, written, unlock, hits.
	assert.Equal(t, "MLWUHHHH", rec.Story("k"))

	v, found, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "built", v)

	require.NoError(t, c.Delete(ctx, "k"))
	require.NoError(t, c.Delete(ctx, "k"), "deleting a missing key is not an error")
	_, found, err = c.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, found)
}

func TestCacheBadInput(t *testing.T) {
	ctx := context.Background()
	c := NewCache(NewMemory(MemoryOptions{}), StringCodec{}, CacheConfig{})
	ok := func(context.Context) (string, error) { return "v", nil }
	tests := []struct {
		name string
		key  string
		ttl  time.Duration
		want error
	}{
		{"negative ttl", "k", -time.Second, ErrNegativeTTL},
		{"empty key", "", time.Second, ErrInvalidKey},
		{"key with space", "a b", time.Second, ErrInvalidKey},
		{"key with newline", "a\r\nflush_all", time.Second, ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.GetOrCompute(ctx, tt.key, tt.ttl, ok)
			require.ErrorIs(t, err, tt.want)
		})
	}
	require.ErrorIs(t, c.Set(ctx, "k", "v", -1), ErrNegativeTTL)
	assert.PanicsWithValue(t, "cachestruct: GetOrCompute with a nil compute", func() {
		_, _ = c.GetOrCompute(ctx, "k", time.Second, nil)
	})
	assert.Panics(t, func() { NewCache[string](nil, StringCodec{}, CacheConfig{}) })
	assert.Panics(t, func() { NewCache(NewMemory(MemoryOptions{}), StringCodec{}, CacheConfig{Lease: -1}) })
}

func TestCacheForeignValueIsCorrupt(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	c := NewCache(store, StringCodec{}, CacheConfig{})
	_, err := store.Set(ctx, "k", []byte("raw"), SetOptions{})
	require.NoError(t, err)
	_, err = c.GetOrCompute(ctx, "k", time.Minute, func(context.Context) (string, error) { return "v", nil })
	require.ErrorIs(t, err, ErrCorrupt)
	_, _, err = c.Get(ctx, "k")
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestCachePlaceholderIsNotData(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	c := NewCache(store, BytesCodec{}, CacheConfig{})
	// Another process holds the lease: an empty placeholder with flags 0.
	it, _, err := store.Get(ctx, "k", GetOptions{Lease: time.Minute})
	require.NoError(t, err)
	require.True(t, it.Won)
	require.Empty(t, it.Value)
	_, found, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, found, "the placeholder is not an empty value")

	// An empty value written by Cache is data: its header makes it non-empty.
	_, err = store.Set(ctx, "k", nil, SetOptions{CAS: it.CAS, TTL: time.Minute})
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx, "k"))
	require.NoError(t, c.Set(ctx, "k", []byte{}, time.Minute))
	raw, found, err := store.Get(ctx, "k", GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.NotEmpty(t, raw.Value)
	v, found, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Empty(t, v)
}

func TestCacheComputeErrorReleasesLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		var rec Recorder
		c := NewCache(store, StringCodec{}, CacheConfig{Lease: time.Minute, Observer: &rec})
		boom := errors.New("backend down")
		_, err := c.GetOrCompute(ctx, "k", time.Minute, func(context.Context) (string, error) { return "", boom })
		require.ErrorIs(t, err, boom)
		assert.Equal(t, "MLU", rec.Story("k"), "the lease is released")
		// The next caller wins at once instead of waiting a minute.
		start := time.Now()
		v, err := c.GetOrCompute(ctx, "k", time.Minute, func(context.Context) (string, error) { return "ok", nil })
		require.NoError(t, err)
		assert.Equal(t, "ok", v)
		assert.Zero(t, time.Since(start))
	})
}

func TestCacheWaitersGetWinnersValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		a := NewCache(store, StringCodec{}, CacheConfig{})
		b := NewCache(store, StringCodec{}, CacheConfig{})
		release := make(chan struct{})
		done := make(chan string)
		go func() {
			v, err := a.GetOrCompute(ctx, "k", time.Minute, func(context.Context) (string, error) {
				<-release
				return "from a", nil
			})
			assert.NoError(t, err)
			done <- v
		}()
		synctest.Wait() // a holds the lease
		go func() {
			v, err := b.GetOrCompute(ctx, "k", time.Minute, func(context.Context) (string, error) {
				t.Error("b must not compute while a holds the lease")
				return "from b", nil
			})
			assert.NoError(t, err)
			done <- v
		}()
		time.Sleep(time.Second) // b polls meanwhile
		close(release)
		assert.Equal(t, "from a", <-done)
		assert.Equal(t, "from a", <-done)
	})
}

func TestCacheWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemory(MemoryOptions{})
		a := NewCache(store, StringCodec{}, CacheConfig{Lease: time.Minute})
		b := NewCache(store, StringCodec{}, CacheConfig{Lease: time.Minute})
		// a wins the lease and never writes (a crashed process).
		it, _, err := store.Get(context.Background(), "k", GetOptions{Lease: time.Minute})
		require.NoError(t, err)
		require.True(t, it.Won)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err = b.GetOrCompute(ctx, "k", time.Minute, func(context.Context) (string, error) { return "b", nil })
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 2*time.Second, time.Since(start))
		// Once the lease expires, the next caller wins and computes.
		time.Sleep(time.Minute)
		v, err := a.GetOrCompute(context.Background(), "k", time.Minute, func(context.Context) (string, error) { return "a", nil })
		require.NoError(t, err)
		assert.Equal(t, "a", v)
	})
}

func TestCacheLateWriterRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		slow := NewCache(store, StringCodec{}, CacheConfig{Lease: time.Second})
		fast := NewCache(store, StringCodec{}, CacheConfig{Lease: time.Second})
		done := make(chan string)
		go func() {
			// Outlives its 1s lease.
			v, err := slow.GetOrCompute(ctx, "k", time.Hour, func(context.Context) (string, error) {
				time.Sleep(3 * time.Second)
				return "old", nil
			})
			assert.NoError(t, err)
			done <- v
		}()
		time.Sleep(2 * time.Second) // the slow lease has expired
		v, err := fast.GetOrCompute(ctx, "k", time.Hour, func(context.Context) (string, error) { return "new", nil })
		require.NoError(t, err)
		assert.Equal(t, "new", v)
		assert.Equal(t, "old", <-done, "the late writer still returns what it computed")
		got, found, err := fast.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, "new", got, "the late write with the old CAS was rejected")
	})
}

func TestCacheStaleWhileRevalidate(t *testing.T) {
	for _, waitFresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("WaitFresh=%v", waitFresh), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				store := NewMemory(MemoryOptions{})
				a := NewCache(store, StringCodec{}, CacheConfig{WaitFresh: waitFresh})
				b := NewCache(store, StringCodec{}, CacheConfig{WaitFresh: waitFresh})
				require.NoError(t, a.Set(ctx, "k", "v1", time.Hour))
				require.NoError(t, a.Invalidate(ctx, "k"))
				require.NoError(t, a.Invalidate(ctx, "missing"))

				release := make(chan struct{})
				done := make(chan string)
				go func() {
					v, err := a.GetOrCompute(ctx, "k", time.Hour, func(context.Context) (string, error) {
						<-release
						return "v2", nil
					})
					assert.NoError(t, err)
					done <- v
				}()
				synctest.Wait() // a won the stale item and computes
				go func() {
					v, err := b.GetOrCompute(ctx, "k", time.Hour, func(context.Context) (string, error) {
						t.Error("b must not compute a stale item a won")
						return "", nil
					})
					assert.NoError(t, err)
					done <- v
				}()
				if !waitFresh {
					assert.Equal(t, "v1", <-done, "b gets the stale value at once")
					close(release)
					assert.Equal(t, "v2", <-done)
				} else {
					time.Sleep(time.Second)
					close(release)
					assert.Equal(t, "v2", <-done)
					assert.Equal(t, "v2", <-done, "b waited for the fresh value")
				}
				_, found, err := a.Get(ctx, "k")
				require.NoError(t, err)
				assert.True(t, found)
			})
		})
	}
}

func TestCacheGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		c := NewCache(store, StringCodec{}, CacheConfig{Grace: 30 * time.Second})
		n := 0
		compute := func(context.Context) (string, error) { n++; return "v" + strconv.Itoa(n), nil }
		v, err := c.GetOrCompute(ctx, "k", 10*time.Second, compute)
		require.NoError(t, err)
		require.Equal(t, "v1", v)
		time.Sleep(15 * time.Second) // expired, within grace
		_, found, err := c.Get(ctx, "k")
		require.NoError(t, err)
		assert.False(t, found, "Get reports only fresh values")
		v, err = c.GetOrCompute(ctx, "k", 10*time.Second, compute)
		require.NoError(t, err)
		assert.Equal(t, "v2", v, "the first reader in the grace period recomputes")
		time.Sleep(time.Minute) // past TTL and grace: gone
		v, err = c.GetOrCompute(ctx, "k", 10*time.Second, compute)
		require.NoError(t, err)
		assert.Equal(t, "v3", v)
	})
}

func TestCacheStaleServedWhenRecomputeFails(t *testing.T) {
	ctx := context.Background()
	c := NewCache(NewMemory(MemoryOptions{}), StringCodec{}, CacheConfig{})
	require.NoError(t, c.Set(ctx, "k", "old", time.Hour))
	require.NoError(t, c.Invalidate(ctx, "k"))
	v, err := c.GetOrCompute(ctx, "k", time.Hour, func(context.Context) (string, error) {
		return "", errors.New("db down")
	})
	require.NoError(t, err)
	assert.Equal(t, "old", v)
}

func TestCacheXFetch(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch)
	store := NewMemory(MemoryOptions{Now: clk.Now})
	r := 0.5
	c := NewCache(store, StringCodec{}, CacheConfig{Beta: 1, Now: clk.Now, Rand: func() float64 { return r }})
	n := 0
	compute := func(context.Context) (string, error) {
		n++
		clk.Advance(time.Second) // δ = 1s
		return "v" + strconv.Itoa(n), nil
	}
	_, err := c.GetOrCompute(ctx, "k", time.Minute, compute)
	require.NoError(t, err)
	// −δ·β·ln(0.5) ≈ 0.69s: no early recompute far from expiry...
	clk.Advance(30 * time.Second)
	v, err := c.GetOrCompute(ctx, "k", time.Minute, compute)
	require.NoError(t, err)
	assert.Equal(t, "v1", v)
	// ...but 0.5s before expiry, yes.
	clk.Advance(29*time.Second + 500*time.Millisecond)
	v, err = c.GetOrCompute(ctx, "k", time.Minute, compute)
	require.NoError(t, err)
	assert.Equal(t, "v2", v)
	// A tiny random number means a long draw: recompute early.
	r = 1e-300
	v, err = c.GetOrCompute(ctx, "k", time.Minute, compute)
	require.NoError(t, err)
	assert.Equal(t, "v3", v)
}

func TestCacheSingleflightInProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		c := NewCache(store, JSONCodec[[]int]{}, CacheConfig{})
		var calls atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				v, err := c.GetOrCompute(ctx, "k", time.Minute, func(context.Context) ([]int, error) {
					calls.Add(1)
					time.Sleep(time.Second)
					return []int{1, 2, 3}, nil
				})
				assert.NoError(t, err)
				assert.Equal(t, []int{1, 2, 3}, v)
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, calls.Load())
	})
}

func TestCacheFlightLeaderCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemory(MemoryOptions{})
		c := NewCache(store, StringCodec{}, CacheConfig{})
		leaderCtx, cancel := context.WithCancel(context.Background())
		compute := func(ctx context.Context) (string, error) {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Second):
				return "v", nil
			}
		}
		errc := make(chan error)
		go func() {
			_, err := c.GetOrCompute(leaderCtx, "k", time.Minute, compute)
			errc <- err
		}()
		synctest.Wait()
		done := make(chan string)
		go func() {
			v, err := c.GetOrCompute(context.Background(), "k", time.Minute, compute)
			assert.NoError(t, err)
			done <- v
		}()
		synctest.Wait()
		cancel()
		require.ErrorIs(t, <-errc, context.Canceled)
		assert.Equal(t, "v", <-done, "the follower flies again with its own ctx")
	})
}

func BenchmarkCacheGetOrComputeHit(b *testing.B) {
	for _, size := range []int{100, 10000} {
		val := make([]byte, size)
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			benchCacheHit(b, NewMemory(MemoryOptions{}), val)
		})
		// The floor: the store's own Get of the same item.
		b.Run(fmt.Sprintf("value=%d/store-get", size), func(b *testing.B) {
			benchStoreGet(b, NewMemory(MemoryOptions{}), val)
		})
	}
}

// benchCacheHit measures GetOrCompute on a hot key of store.
func benchCacheHit(b *testing.B, store Store, val []byte) {
	ctx := context.Background()
	c := NewCache(store, BytesCodec{}, CacheConfig{})
	compute := func(context.Context) ([]byte, error) { return val, nil }
	_, err := c.GetOrCompute(ctx, "hot", time.Hour, compute)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetOrCompute(ctx, "hot", time.Hour, compute); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStoreGet measures a plain Store.Get of one item.
func benchStoreGet(b *testing.B, store Store, val []byte) {
	ctx := context.Background()
	_, err := store.Set(ctx, "hot", val, SetOptions{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := store.Get(ctx, "hot", GetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
