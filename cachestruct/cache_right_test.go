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

// The tests of this file prove who holds the right to recompute a Cache
// entry (memcached's W token), on the memory store and on real memcached:
// a plain Get never keeps it, a value's own expiry (not the store's TTL,
// rounded up to whole seconds) decides when it is recomputed, and an early
// recompute (XFetch) takes it like any other.

// rightBackend runs body against n clients of one backend: the memory
// store inside a synctest bubble (waits cost no real time), or one real
// memcached server with n separate clients, as n processes would have.
type rightBackend struct {
	name string
	run  func(t *testing.T, n int, body func(t *testing.T, stores []Store))
}

var rightBackends = []rightBackend{
	{name: "memory", run: func(t *testing.T, n int, body func(t *testing.T, stores []Store)) {
		synctest.Test(t, func(t *testing.T) {
			m := NewMemory(MemoryOptions{})
			stores := make([]Store, n)
			for i := range stores {
				stores[i] = m
			}
			body(t, stores)
		})
	}},
	{name: "memcached", run: func(t *testing.T, n int, body func(t *testing.T, stores []Store)) {
		_, stores := stMemcachedClients(t, 1, n, MemcachedOptions{})
		body(t, stores)
	}},
}

// TestCacheGetKeepsRecomputeRight: after Set, Invalidate and a plain Get,
// the next GetOrCompute still wins the right to recompute: it computes at
// once instead of returning the stale value (or, with WaitFresh, waiting
// for a lease nobody holds).
func TestCacheGetKeepsRecomputeRight(t *testing.T) {
	for _, b := range rightBackends {
		for _, waitFresh := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/WaitFresh=%v", b.name, waitFresh), func(t *testing.T) {
				b.run(t, 2, func(t *testing.T, stores []Store) {
					cfg := CacheConfig{Lease: 30 * time.Second, WaitFresh: waitFresh}
					reader := NewCache(stores[0], StringCodec{}, cfg)
					c := NewCache(stores[1], StringCodec{}, cfg)
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					key := fmt.Sprintf("right-get-%v-%d", waitFresh, time.Now().UnixNano())
					require.NoError(t, c.Set(ctx, key, "old", time.Hour))
					require.NoError(t, c.Invalidate(ctx, key))
					for range 2 {
						_, found, err := reader.Get(ctx, key)
						require.NoError(t, err)
						assert.False(t, found, "Get does not report a stale value")
					}
					computes := 0
					v, err := c.GetOrCompute(ctx, key, time.Hour, func(context.Context) (string, error) {
						computes++
						return "new", nil
					})
					require.NoError(t, err)
					assert.Equal(t, "new", v)
					assert.Equal(t, 1, computes, "the first GetOrCompute after Invalidate recomputes")
					got, found, err := reader.Get(ctx, key)
					require.NoError(t, err)
					assert.True(t, found)
					assert.Equal(t, "new", got)
				})
			})
		}
	}
}

// TestCacheGetWhileRecomputing: a Get of an invalidated entry that another
// caller is recomputing does not disturb it: the recompute's write lands,
// and nobody else computes.
func TestCacheGetWhileRecomputing(t *testing.T) {
	for _, b := range rightBackends {
		t.Run(b.name, func(t *testing.T) {
			b.run(t, 2, func(t *testing.T, stores []Store) {
				ctx := context.Background()
				a := NewCache(stores[0], StringCodec{}, CacheConfig{})
				reader := NewCache(stores[1], StringCodec{}, CacheConfig{})
				key := fmt.Sprintf("right-busy-%d", time.Now().UnixNano())
				require.NoError(t, a.Set(ctx, key, "old", time.Hour))
				require.NoError(t, a.Invalidate(ctx, key))
				inCompute, release := make(chan struct{}), make(chan struct{})
				done := make(chan string)
				go func() {
					v, err := a.GetOrCompute(ctx, key, time.Hour, func(context.Context) (string, error) {
						close(inCompute)
						<-release
						return "new", nil
					})
					assert.NoError(t, err)
					done <- v
				}()
				<-inCompute
				_, found, err := reader.Get(ctx, key)
				require.NoError(t, err)
				assert.False(t, found)
				v, err := reader.GetOrCompute(ctx, key, time.Hour, func(context.Context) (string, error) {
					t.Error("a holds the right to recompute")
					return "", nil
				})
				require.NoError(t, err)
				assert.Equal(t, "old", v, "the stale value while a recomputes")
				close(release)
				assert.Equal(t, "new", <-done)
				got, found, err := reader.Get(ctx, key)
				require.NoError(t, err)
				assert.True(t, found)
				assert.Equal(t, "new", got, "a's write was accepted")
			})
		})
	}
}

// TestCacheExpiryIsTheValues: with Grace 0 a value whose TTL is not a
// whole number of seconds is not served past it, although the store keeps
// it until the end of the second: GetOrCompute recomputes it, exactly once
// among concurrent callers, and nobody gets the old value.
func TestCacheExpiryIsTheValues(t *testing.T) {
	for _, b := range rightBackends {
		for _, waitFresh := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/WaitFresh=%v", b.name, waitFresh), func(t *testing.T) {
				b.run(t, 3, func(t *testing.T, stores []Store) {
					ctx := context.Background()
					const ttl = 1500 * time.Millisecond
					// The writer's clock is the real one (memcached's items
					// age in real time); the readers' is 1.7 s ahead: the
					// value has expired, the item (2 s) has not.
					later := func() time.Time { return time.Now().Add(1700 * time.Millisecond) }
					w := NewCache(stores[0], StringCodec{}, CacheConfig{})
					key := fmt.Sprintf("right-exp-%v-%d", waitFresh, time.Now().UnixNano())
					v, err := w.GetOrCompute(ctx, key, ttl, func(context.Context) (string, error) { return "old", nil })
					require.NoError(t, err)
					require.Equal(t, "old", v)
					it, found, err := stores[1].Get(ctx, key, GetOptions{})
					require.NoError(t, err)
					require.True(t, found, "the store still has the item")
					require.False(t, it.Stale || it.Won || it.Busy)

					readers := []*Cache[string]{
						NewCache(stores[1], StringCodec{}, CacheConfig{Now: later, WaitFresh: waitFresh, Poll: time.Millisecond}),
						NewCache(stores[2], StringCodec{}, CacheConfig{Now: later, WaitFresh: waitFresh, Poll: time.Millisecond}),
					}
					_, found, err = readers[0].Get(ctx, key)
					require.NoError(t, err)
					assert.False(t, found, "Get: expired")
					var computes atomic.Int64
					var wg sync.WaitGroup
					for i := range 20 {
						wg.Go(func() {
							v, err := readers[i%2].GetOrCompute(ctx, key, ttl, func(context.Context) (string, error) {
								computes.Add(1)
								time.Sleep(50 * time.Millisecond)
								return "new", nil
							})
							assert.NoError(t, err)
							assert.Equal(t, "new", v, "an expired value is not served with Grace 0")
						})
					}
					wg.Wait()
					assert.EqualValues(t, 1, computes.Load(), "one recompute")
				})
			})
		}
	}
}

// TestCacheExpiryWithinGrace: past its own expiry but within Grace, a value
// is recomputed by one caller as soon as it expires, even when the store's
// whole-second TTL has not reached the grace period yet, and the others
// get the old value meanwhile.
func TestCacheExpiryWithinGrace(t *testing.T) {
	for _, b := range rightBackends {
		t.Run(b.name, func(t *testing.T) {
			b.run(t, 2, func(t *testing.T, stores []Store) {
				ctx := context.Background()
				const ttl, grace = 1500 * time.Millisecond, 1200 * time.Millisecond
				later := func() time.Time { return time.Now().Add(1700 * time.Millisecond) }
				w := NewCache(stores[0], StringCodec{}, CacheConfig{Grace: grace})
				r := NewCache(stores[1], StringCodec{}, CacheConfig{Grace: grace, Now: later})
				key := fmt.Sprintf("right-grace-%d", time.Now().UnixNano())
				_, err := w.GetOrCompute(ctx, key, ttl, func(context.Context) (string, error) { return "old", nil })
				require.NoError(t, err)
				inCompute, release := make(chan struct{}), make(chan struct{})
				done := make(chan string)
				go func() {
					v, err := r.GetOrCompute(ctx, key, ttl, func(context.Context) (string, error) {
						close(inCompute)
						<-release
						return "new", nil
					})
					assert.NoError(t, err)
					done <- v
				}()
				select {
				case <-inCompute:
				case v := <-done:
					t.Fatalf("the first reader past the value's expiry got %q without recomputing", v)
				}
				v, err := r.GetOrCompute(ctx, key, ttl, func(context.Context) (string, error) {
					t.Error("the first reader recomputes")
					return "", nil
				})
				require.NoError(t, err)
				assert.Equal(t, "old", v, "stale within grace")
				close(release)
				assert.Equal(t, "new", <-done)

				// Past the grace too: not served, recomputed.
				beyond := NewCache(stores[1], StringCodec{}, CacheConfig{Grace: grace, Now: func() time.Time {
					return time.Now().Add(3 * time.Second)
				}})
				key2 := key + "-2"
				_, err = w.GetOrCompute(ctx, key2, ttl, func(context.Context) (string, error) { return "old", nil })
				require.NoError(t, err)
				v, err = beyond.GetOrCompute(ctx, key2, ttl, func(context.Context) (string, error) { return "new", nil })
				require.NoError(t, err)
				assert.Equal(t, "new", v)
			})
		})
	}
}

// TestCacheXFetchOneRecompute: XFetch decides per reader to recompute
// early, but the recompute goes through the store's right to recompute:
// of 4 processes × 50 goroutines that all draw an early recompute of one
// item, one recomputes; the others keep the current value.
func TestCacheXFetchOneRecompute(t *testing.T) {
	const procs, perProc = 4, 50
	for _, b := range rightBackends {
		t.Run(b.name, func(t *testing.T) {
			b.run(t, procs, func(t *testing.T, stores []Store) {
				ctx := context.Background()
				// A clock that the first computation advances by 1 s (its δ)
				// and that is then moved to 2 s before the value expires.
				var offset atomic.Int64
				now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
				caches := make([]*Cache[string], procs)
				for i := range caches {
					// ln(0.1) ≈ −2.3: every reader recomputes 2.3 s early.
					caches[i] = NewCache(stores[i], StringCodec{}, CacheConfig{Beta: 1, Now: now, Rand: func() float64 { return 0.1 }})
				}
				key := fmt.Sprintf("right-xfetch-%d", time.Now().UnixNano())
				_, err := caches[0].GetOrCompute(ctx, key, time.Minute, func(context.Context) (string, error) {
					offset.Add(int64(time.Second))
					return "v1", nil
				})
				require.NoError(t, err)
				offset.Add(int64(time.Minute - 2*time.Second))

				var computes atomic.Int64
				var wg sync.WaitGroup
				for p := range procs {
					for range perProc {
						wg.Go(func() {
							v, err := caches[p].GetOrCompute(ctx, key, time.Minute, func(context.Context) (string, error) {
								n := computes.Add(1)
								time.Sleep(50 * time.Millisecond)
								return "v" + strconv.FormatInt(n+1, 10), nil
							})
							assert.NoError(t, err)
							assert.Contains(t, []string{"v1", "v2"}, v)
						})
					}
				}
				wg.Wait()
				assert.EqualValues(t, 1, computes.Load(), "early recomputes of %d readers", procs*perProc)
				v, found, err := caches[0].Get(ctx, key)
				require.NoError(t, err)
				assert.True(t, found)
				assert.Equal(t, "v2", v)
			})
		})
	}
}

// xfetchSeed writes "v1" under key through c, with a computation that
// advances offset (the caches' clock) by 1 s, then moves the clock to 2 s
// before the value expires: a reader whose Rand gives 0.1 recomputes early
// (−ln 0.1 ≈ 2.3 s ≥ 2 s).
func xfetchSeed(t *testing.T, c *Cache[string], key string, offset *atomic.Int64) {
	t.Helper()
	_, err := c.GetOrCompute(context.Background(), key, time.Minute, func(context.Context) (string, error) {
		offset.Add(int64(time.Second))
		return "v1", nil
	})
	require.NoError(t, err)
	offset.Add(int64(time.Minute - 2*time.Second))
}

// TestCacheXFetchFailureHandsBackRight: an early recompute that fails
// serves the current value and hands the right to recompute back, keeping
// the value and its expiry: the next reader that draws an early recompute
// performs it.
func TestCacheXFetchFailureHandsBackRight(t *testing.T) {
	for _, b := range rightBackends {
		t.Run(b.name, func(t *testing.T) {
			b.run(t, 2, func(t *testing.T, stores []Store) {
				ctx := context.Background()
				var offset atomic.Int64
				now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
				cfg := CacheConfig{Beta: 1, Now: now, Rand: func() float64 { return 0.1 }}
				a, b := NewCache(stores[0], StringCodec{}, cfg), NewCache(stores[1], StringCodec{}, cfg)
				key := fmt.Sprintf("right-xfail-%d", time.Now().UnixNano())
				xfetchSeed(t, a, key, &offset)
				before, _, err := stores[1].Get(ctx, key, GetOptions{})
				require.NoError(t, err)
				v, err := a.GetOrCompute(ctx, key, time.Minute, func(context.Context) (string, error) {
					return "", errors.New("db down")
				})
				require.NoError(t, err)
				assert.Equal(t, "v1", v, "a failed early recompute serves the current value")
				after, _, err := stores[1].Get(ctx, key, GetOptions{})
				require.NoError(t, err)
				assert.False(t, after.Busy || after.Won || after.Stale, "the right was handed back")
				assert.Equal(t, before.Value, after.Value, "same value, same expiry in it")
				assert.InDelta(t, before.TTL, after.TTL, float64(time.Second), "same TTL, give or take a tick")
				v, found, err := b.Get(ctx, key)
				require.NoError(t, err)
				assert.True(t, found, "the value is still fresh")
				assert.Equal(t, "v1", v)
				computes := 0
				v, err = b.GetOrCompute(ctx, key, time.Minute, func(context.Context) (string, error) {
					computes++
					return "v2", nil
				})
				require.NoError(t, err)
				assert.Equal(t, "v2", v)
				assert.Equal(t, 1, computes, "the next early recompute happens")
			})
		})
	}
}

// invalidateOnRecache is a Store that invalidates key just before the first
// read with a Recache threshold: the item goes stale between XFetch's two
// reads.
type invalidateOnRecache struct {
	Store
	done bool
}

func (s *invalidateOnRecache) Get(ctx context.Context, key string, opt GetOptions) (Item, bool, error) {
	if opt.Recache > 0 && !s.done {
		s.done = true
		if err := s.Store.Delete(ctx, key, DeleteOptions{Invalidate: true}); err != nil {
			return Item{}, false, err
		}
	}
	return s.Store.Get(ctx, key, opt)
}

// TestCacheXFetchFailureKeepsStale: when the item was invalidated between
// XFetch's two reads and the early recompute fails, the right is handed
// back with the item still stale: the next caller recomputes it.
func TestCacheXFetchFailureKeepsStale(t *testing.T) {
	ctx := context.Background()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	m := NewMemory(MemoryOptions{})
	a := NewCache[string](&invalidateOnRecache{Store: m}, StringCodec{}, CacheConfig{Beta: 1, Now: now, Rand: func() float64 { return 0.1 }})
	key := "right-xstale"
	xfetchSeed(t, a, key, &offset)
	v, err := a.GetOrCompute(ctx, key, time.Minute, func(context.Context) (string, error) {
		return "", errors.New("db down")
	})
	require.NoError(t, err)
	assert.Equal(t, "v1", v)
	b := NewCache(m, StringCodec{}, CacheConfig{Now: now})
	_, found, err := b.Get(ctx, key)
	require.NoError(t, err)
	assert.False(t, found, "still stale")
	v, err = b.GetOrCompute(ctx, key, time.Minute, func(context.Context) (string, error) { return "v2", nil })
	require.NoError(t, err)
	assert.Equal(t, "v2", v, "the next caller wins the stale item")
}
