package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
)

// RunStructures runs the structures' proofs on a backend, each as a
// subtest of t; clients returns n clients of one shared backend (separate
// connection pools, as n processes would have; they may all be the same
// Store for an in-process one):
//
//   - stampede: 4 clients × 200 goroutines call Cache.GetOrCompute on one
//     hot key, missing, expired and invalidated in turn: one compute each
//     time.
//   - lock: 16 goroutines × 500 acquisitions over 3 clients never overlap;
//     a holder whose lock expired can neither release nor extend it.
//   - counter: 64 goroutines × 1000 increments from 4 clients lose nothing,
//     with and without a loader.
//   - tags: an invalidation makes every dependent entry miss; a deleted tag
//     key resurrects nothing.
//   - event_log: 4 clients × 100 concurrent appends lose no record.
//   - stats: 8 goroutines' increments with two concurrent flushers are
//     each counted once.
//   - grace: past its TTL, one caller recomputes a value while the others
//     keep the old one.
//   - online: users seen from two clients are counted once.
//
// The proofs use real time (items expire on the backend's clock) and take
// about fifteen seconds. Keys are unique to the run.
func RunStructures(t *testing.T, clients func(t *testing.T, n int) []cachestruct.Store) {
	t.Helper()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	proofs := []struct {
		name  string
		proof func(t *testing.T, stores func(n int) []cachestruct.Store, prefix string)
	}{
		{"stampede", stampedeProof},
		{"lock", lockProof},
		{"lock_expired_holder", lockExpiredProof},
		{"counter", counterProof},
		{"tags", tagsProof},
		{"event_log", eventLogProof},
		{"stats", statsProof},
		{"grace", graceProof},
		{"online", onlineProof},
	}
	for _, p := range proofs {
		t.Run(p.name, func(t *testing.T) {
			p.proof(t, func(n int) []cachestruct.Store { return clients(t, n) }, "st"+run+":"+p.name+":")
		})
	}
}

func stampedeProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	const n, perClient = 4, 200
	ctx := context.Background()
	stores := clients(n)
	hot := prefix + "hot"
	caches := make([]*cachestruct.Cache[string], n)
	for i := range caches {
		caches[i] = cachestruct.NewCache(stores[i], cachestruct.StringCodec{}, cachestruct.CacheConfig{
			Lease: 5 * time.Second, Poll: 2 * time.Millisecond, MaxPoll: 20 * time.Millisecond,
		})
	}
	var computes atomic.Int64
	stampede := func(round string) {
		t.Helper()
		before := computes.Load()
		want := "value " + round
		var wg sync.WaitGroup
		for c := range n {
			for range perClient {
				wg.Go(func() {
					v, err := caches[c].GetOrCompute(ctx, hot, time.Second, func(context.Context) (string, error) {
						computes.Add(1)
						time.Sleep(50 * time.Millisecond)
						return want, nil
					})
					assert.NoError(t, err)
					assert.Contains(t, []string{want, "value previous"}, v)
				})
			}
		}
		wg.Wait()
		assert.EqualValues(t, 1, computes.Load()-before, "computes in round %s", round)
	}
	stampede("missing")
	require.Eventually(t, func() bool {
		_, found, err := stores[0].Get(ctx, hot, cachestruct.GetOptions{})
		return err == nil && !found
	}, 5*time.Second, 50*time.Millisecond, "a 1 s item expires")
	stampede("expired")
	require.NoError(t, caches[0].Set(ctx, hot, "value previous", time.Hour))
	require.NoError(t, caches[0].Invalidate(ctx, hot))
	stampede("invalidated")
}

func lockProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	const goroutines, acquisitions = 16, 500
	ctx := context.Background()
	stores := clients(3)
	locks := make([]*cachestruct.Lock, len(stores))
	for i, s := range stores {
		locks[i] = cachestruct.NewLock(s, prefix+"safety", cachestruct.LockConfig{
			Poll: 500 * time.Microsecond, MaxPoll: 2 * time.Millisecond,
		})
	}
	var inside, maxInside, total atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := locks[g%len(locks)]
			for range acquisitions {
				h, err := l.Lock(ctx)
				if !assert.NoError(t, err) {
					return
				}
				n := inside.Add(1)
				for m := maxInside.Load(); n > m && !maxInside.CompareAndSwap(m, n); m = maxInside.Load() {
				}
				total.Add(1)
				inside.Add(-1)
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, goroutines*acquisitions, total.Load())
	assert.EqualValues(t, 1, maxInside.Load(), "two holders were inside at once")
}

func lockExpiredProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	ctx := context.Background()
	stores := clients(2)
	a := cachestruct.NewLock(stores[0], prefix+"job", cachestruct.LockConfig{TTL: time.Second})
	b := cachestruct.NewLock(stores[1], prefix+"job", cachestruct.LockConfig{TTL: time.Minute})
	old, err := a.TryLock(ctx)
	require.NoError(t, err)
	var next *cachestruct.Held
	require.Eventually(t, func() bool {
		next, err = b.TryLock(ctx)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "the expired lock is taken")
	require.ErrorIs(t, old.Unlock(ctx), cachestruct.ErrNotHeld)
	require.ErrorIs(t, old.Extend(ctx, time.Minute), cachestruct.ErrNotHeld)
	_, err = a.TryLock(ctx)
	require.ErrorIs(t, err, cachestruct.ErrLocked)
	require.NoError(t, next.Unlock(ctx))
}

func counterProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	const goroutines, incrs = 64, 1000
	ctx := context.Background()
	stores := clients(4)
	for _, seed := range []uint64{0, 1_000_000} {
		var load func(context.Context, string) (uint64, error)
		if seed != 0 {
			load = func(context.Context, string) (uint64, error) { return seed, nil }
		}
		key := prefix + strconv.FormatUint(seed, 10)
		counters := make([]*cachestruct.Counter, len(stores))
		for i, s := range stores {
			counters[i] = cachestruct.NewCounter(s, cachestruct.CounterConfig{TTL: time.Hour, Load: load})
		}
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				c := counters[g%len(counters)]
				for range incrs {
					if _, err := c.Incr(ctx, key, 1); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		got, err := counters[0].Get(ctx, key)
		require.NoError(t, err)
		require.Equal(t, seed+goroutines*incrs, got, "seed %d", seed)
	}
}

func tagsProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	ctx := context.Background()
	stores := clients(2)
	writer := cachestruct.NewTags(stores[0], cachestruct.TagsConfig{Prefix: prefix})
	reader := cachestruct.NewTags(stores[1], cachestruct.TagsConfig{Prefix: prefix})
	entries := map[string][]string{}
	for i := range 30 {
		key := prefix + "post:" + strconv.Itoa(i)
		tags := []string{"all", "user" + strconv.Itoa(i%3), []string{"even", "odd"}[i%2]}
		entries[key] = tags
		require.NoError(t, writer.Set(ctx, key, []byte("v"+strconv.Itoa(i)), time.Hour, tags...))
	}
	hits := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for key, tags := range entries {
			_, found, err := reader.Get(ctx, key, tags...)
			require.NoError(t, err)
			out[key] = found
		}
		return out
	}
	for key, hit := range hits() {
		require.True(t, hit, key)
	}
	require.NoError(t, writer.Invalidate(ctx, "user1"))
	for key, hit := range hits() {
		dependent := entries[key][1] == "user1"
		assert.Equal(t, !dependent, hit, "%s depends on user1: %v", key, dependent)
	}
	// Evict the tag "even" (delete its key): its entries miss, and stay
	// missing after the tag is re-created.
	require.NoError(t, stores[0].Delete(ctx, prefix+"even", cachestruct.DeleteOptions{}))
	_, err := writer.Versions(ctx, "even")
	require.NoError(t, err)
	for key, hit := range hits() {
		if entries[key][2] == "even" {
			assert.False(t, hit, "%s resurrected after its tag was evicted", key)
		}
	}
	require.NoError(t, writer.Invalidate(ctx, "all"))
	for key, hit := range hits() {
		assert.False(t, hit, key)
	}
}

func eventLogProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	ctx := context.Background()
	stores := clients(4)
	var wg sync.WaitGroup
	for i, s := range stores {
		l := cachestruct.NewEventLog(s, prefix+"log", cachestruct.EventLogConfig{})
		wg.Go(func() {
			for j := range 100 {
				assert.NoError(t, l.Append(ctx, fmt.Appendf(nil, "%d-%d", i, j)))
			}
		})
	}
	wg.Wait()
	evs, err := cachestruct.NewEventLog(stores[0], prefix+"log", cachestruct.EventLogConfig{}).Tail(ctx, 1000)
	require.NoError(t, err)
	assert.Len(t, evs, 400, "append-else-add loses no record")
}

// sink is a stats sink that applies each flush id once.
type sink struct {
	mu      sync.Mutex
	applied map[string]bool
	total   uint64
}

func (s *sink) Add(_ context.Context, flushID string, counts []cachestruct.StatCount) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.applied[flushID] {
		s.applied[flushID] = true
		for _, c := range counts {
			s.total += c.N
		}
	}
	return nil
}

func statsProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	const goroutines, incrs = 8, 300
	ctx := context.Background()
	stores := clients(3)
	out := &sink{applied: map[string]bool{}}
	var wg sync.WaitGroup
	var stop atomic.Bool
	for g := range goroutines {
		st := cachestruct.NewStats(stores[g%len(stores)], prefix+"st", cachestruct.StatsConfig{})
		wg.Go(func() {
			for range incrs {
				assert.NoError(t, st.Incr(ctx, "page", 1))
			}
		})
	}
	var flushes sync.WaitGroup
	for _, s := range stores[:2] { // two flushers, serialised by the lock
		st := cachestruct.NewStats(s, prefix+"st", cachestruct.StatsConfig{})
		flushes.Go(func() {
			for !stop.Load() {
				_, err := st.Flush(ctx, out)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	flushes.Wait()
	_, err := cachestruct.NewStats(stores[2], prefix+"st", cachestruct.StatsConfig{}).Flush(ctx, out)
	require.NoError(t, err)
	assert.EqualValues(t, goroutines*incrs, out.total, "no increment lost or counted twice")
}

func graceProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	ctx := context.Background()
	stores := clients(2)
	var computes atomic.Int64
	compute := func(context.Context) (string, error) {
		return "v" + strconv.FormatInt(computes.Add(1), 10), nil
	}
	caches := []*cachestruct.Cache[string]{
		cachestruct.NewCache(stores[0], cachestruct.StringCodec{}, cachestruct.CacheConfig{Grace: 3 * time.Second}),
		cachestruct.NewCache(stores[1], cachestruct.StringCodec{}, cachestruct.CacheConfig{Grace: 3 * time.Second}),
	}
	key := prefix + "g"
	v, err := caches[0].GetOrCompute(ctx, key, time.Second, compute)
	require.NoError(t, err)
	require.Equal(t, "v1", v)
	require.Eventually(t, func() bool {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				v, err := caches[i%2].GetOrCompute(ctx, key, time.Second, compute)
				assert.NoError(t, err)
				assert.Contains(t, []string{"v1", "v2"}, v)
			})
		}
		wg.Wait()
		return computes.Load() >= 2
	}, 6*time.Second, 100*time.Millisecond)
	assert.EqualValues(t, 2, computes.Load(), "one recompute in the grace period")
}

func onlineProof(t *testing.T, clients func(int) []cachestruct.Store, prefix string) {
	ctx := context.Background()
	stores := clients(2)
	// A shared fake clock: users are counted in the current slot and read
	// back as the next slot reads them.
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	cfg := cachestruct.OnlineConfig{Slot: time.Minute, Slots: 5, Now: clock}
	a := cachestruct.NewOnline(stores[0], prefix+"on", cfg)
	b := cachestruct.NewOnline(stores[1], prefix+"on", cfg)
	for i := range 50 {
		require.NoError(t, a.Hit(ctx, "user"+strconv.Itoa(i)))
		require.NoError(t, b.Hit(ctx, "user"+strconv.Itoa(i%10))) // counted already
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	n, err := b.Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 50, n)
}
