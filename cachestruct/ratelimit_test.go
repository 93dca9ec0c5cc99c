package cachestruct

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRateLimiterSequence walks a limit of 10 a second in bursts of 5
// (one event per 100ms) through allowed, refused and refilled decisions.
// It runs on Memory (Get and CAS Set) and on a RateStore (AllowRate).
func TestRateLimiterSequence(t *testing.T) {
	for _, kind := range rateStoreKinds {
		t.Run(kind, func(t *testing.T) { rateSequence(t, kind) })
	}
}

func rateSequence(t *testing.T, kind string) {
	ctx := context.Background()
	clock := newStClock(stEpoch)
	store := newRateTestStore(kind, clock.Now)
	rl := NewRateLimiter(store, PerSecond(10, 5), RateLimiterConfig{Now: clock.Now})
	ms := time.Millisecond
	steps := []struct {
		advance time.Duration
		n       int
		want    RateResult
	}{
		{0, 0, RateResult{Allowed: true, Remaining: 5}},                              // a peek at an unknown key
		{0, 1, RateResult{Allowed: true, Remaining: 4, ResetAfter: 100 * ms}},        // first event
		{0, 4, RateResult{Allowed: true, Remaining: 0, ResetAfter: 500 * ms}},        // the rest of the burst
		{0, 1, RateResult{Remaining: 0, RetryAfter: 100 * ms, ResetAfter: 500 * ms}}, // empty
		{50 * ms, 1, RateResult{Remaining: 0, RetryAfter: 50 * ms, ResetAfter: 450 * ms}},
		{50 * ms, 1, RateResult{Allowed: true, Remaining: 0, ResetAfter: 500 * ms}}, // one token refilled
		{250 * ms, 3, RateResult{Remaining: 2, RetryAfter: 50 * ms, ResetAfter: 250 * ms}},
		{50 * ms, 3, RateResult{Allowed: true, Remaining: 0, ResetAfter: 500 * ms}},
		{0, 6, RateResult{Remaining: 0, RetryAfter: -1, ResetAfter: 500 * ms}}, // more than Burst: never
		{0, 0, RateResult{Allowed: true, Remaining: 0, ResetAfter: 500 * ms}},  // a peek writes nothing
		{time.Hour, 5, RateResult{Allowed: true, Remaining: 0, ResetAfter: 500 * ms}},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		got, err := rl.Allow(ctx, "api:alice", s.n)
		require.NoError(t, err, "step %d", i)
		assert.Equal(t, s.want, got, "step %d: +%v n=%d", i, s.advance, s.n)
	}
	if rs, ok := store.(*rateRefStore); ok {
		// Every decision of 1 to Burst events, and only those, went
		// through AllowRate.
		assert.EqualValues(t, 8, rs.calls.Load())
	}
}

// rateStoreKinds are the stores the rate limiter's tests run on: Memory,
// which decides with Get and a CAS Set, and a RateStore.
var rateStoreKinds = []string{"memory", "ratestore"}

func newRateTestStore(kind string, now func() time.Time) Store {
	m := NewMemory(MemoryOptions{Now: now})
	if kind == "ratestore" {
		return &rateRefStore{Memory: m}
	}
	return m
}

// rateRefStore is a RateStore for tests: Memory with AllowRate as
// RateStore documents it, made atomic by a mutex around a Get and a CAS
// Set (so that it also stays exact beside decisions that Get and Set on
// the same Memory without the mutex).
type rateRefStore struct {
	*Memory
	mu    sync.Mutex
	calls atomic.Int64
}

var _ RateStore = (*rateRefStore)(nil)

func (s *rateRefStore) AllowRate(ctx context.Context, key string, now, inc, burst int64) (int64, bool, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		it, found, err := s.Get(ctx, key, GetOptions{})
		if err != nil {
			return 0, false, err
		}
		var tat int64
		if found {
			if tat, err = strconv.ParseInt(string(it.Value), 10, 64); err != nil {
				return 0, false, ErrCorrupt
			}
		}
		start := max(tat, now)
		if start-now > burst-inc {
			return tat, false, nil
		}
		next := start + inc
		opt := SetOptions{TTL: time.Duration(next-now) + time.Second, CAS: it.CAS}
		if !found {
			opt.Mode = ModeAdd
		}
		_, err = s.Set(ctx, key, strconv.AppendInt(nil, next, 10), opt)
		switch {
		case err == nil:
			return tat, true, nil
		case errors.Is(err, ErrCASConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrNotStored):
			continue // a decision through Get and Set wrote in between
		default:
			return 0, false, err
		}
	}
}

// withoutRateStore hides a store's AllowRate: a RateLimiter on it reads
// and then writes, as a process of an older version would.
type withoutRateStore struct{ Store }

// TestRateLimiterModel compares random decisions with a token bucket
// refilled continuously (exact integer arithmetic in nanoseconds): GCRA
// must allow exactly what the bucket allows and report the same remainder.
// It runs on Memory and on a RateStore.
func TestRateLimiterModel(t *testing.T) {
	ctx := context.Background()
	for _, kind := range rateStoreKinds {
		for seed := range uint64(20) {
			t.Run(fmt.Sprint(kind, "/seed=", seed), func(t *testing.T) {
				rnd := rand.New(rand.NewPCG(seed, 15))
				clock := newStClock(stEpoch)
				store := newRateTestStore(kind, clock.Now)
				limit := Limit{Rate: 1 + rnd.IntN(20), Period: time.Second, Burst: 1 + rnd.IntN(10)}
				rl := NewRateLimiter(store, limit, RateLimiterConfig{Now: clock.Now})
				e := int64(rl.emission)
				// The bucket holds tokens*e "nanotokens", at most Burst*e.
				level := int64(limit.Burst) * e
				for i := range 500 {
					d := time.Duration(rnd.IntN(300)) * time.Millisecond
					if rnd.IntN(50) == 0 {
						d = 3 * time.Second // long enough for the key to expire
					}
					clock.Advance(d)
					level = min(level+int64(d), int64(limit.Burst)*e)
					n := rnd.IntN(limit.Burst + 2)
					got, err := rl.Allow(ctx, "k", n)
					require.NoError(t, err)
					want := level >= int64(n)*e && n <= limit.Burst
					require.Equal(t, want, got.Allowed, "decision %d: n=%d level=%d", i, n, level)
					if want {
						level -= int64(n) * e
					}
					require.Equal(t, int(level/e), got.Remaining, "decision %d", i)
					require.Equal(t, time.Duration(int64(limit.Burst)*e-level), got.ResetAfter, "decision %d", i)
				}
			})
		}
	}
}

// rateExactness runs goroutines × calls decisions of one event each on
// one key, spread over stores, with a limit that refills nothing during
// the test, and checks that exactly burst are allowed. MaxTries is burst+1:
// a try loses its race only to another allowed decision, so with nothing
// refilling no decision can lose more than burst times (see RateLimiter).
func rateExactness(t *testing.T, stores []Store, goroutines, calls, burst int) {
	ctx := context.Background()
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		rl := NewRateLimiter(stores[g%len(stores)], Limit{Rate: 1, Period: 24 * time.Hour, Burst: burst}, RateLimiterConfig{MaxTries: burst + 1})
		wg.Go(func() {
			for range calls {
				res, err := rl.Allow(ctx, "exact", 1)
				if !assert.NoError(t, err) {
					return
				}
				if res.Allowed {
					allowed.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, burst, allowed.Load())
	assert.EqualValues(t, goroutines*calls-burst, refused.Load())
}

func TestRateLimiterExactMemory(t *testing.T) {
	rateExactness(t, memoryClients(1), 32, 100, 1000)
}

// TestRateLimiterExactMixed: half the goroutines decide with AllowRate,
// the other half with Get and a CAS Set (as processes of two versions
// would during a rollout), on one key: exactly Burst are allowed.
func TestRateLimiterExactMixed(t *testing.T) {
	rs := &rateRefStore{Memory: NewMemory(MemoryOptions{})}
	rateExactness(t, []Store{rs, withoutRateStore{rs}}, 32, 100, 1000)
	assert.EqualValues(t, 16*100, rs.calls.Load())
}

// TestRateLimiterFarTAT: a TAT at the largest int64 (year 2262) refuses
// every decision on both kinds of store. (decide's next = TAT + n×emission
// wraps around then, and next − burst − now wraps back to the right
// wait; a RateStore must compute without wrapping.)
func TestRateLimiterFarTAT(t *testing.T) {
	ctx := context.Background()
	for _, kind := range rateStoreKinds {
		t.Run(kind, func(t *testing.T) {
			clock := newStClock(stEpoch)
			store := newRateTestStore(kind, clock.Now)
			rl := NewRateLimiter(store, PerSecond(10, 5), RateLimiterConfig{Now: clock.Now})
			_, err := store.Set(ctx, "far", []byte("9223372036854775807"), SetOptions{})
			require.NoError(t, err)
			ahead := time.Duration(math.MaxInt64 - stEpoch.UnixNano())
			got, err := rl.Allow(ctx, "far", 1)
			require.NoError(t, err)
			assert.Equal(t, RateResult{Remaining: 0, RetryAfter: ahead - 400*time.Millisecond, ResetAfter: ahead}, got)
		})
	}
}

// lyingRateStore allows every AllowRate whatever the bucket holds.
type lyingRateStore struct{ Store }

func (lyingRateStore) AllowRate(context.Context, string, int64, int64, int64) (int64, bool, error) {
	return math.MaxInt64 / 2, true, nil
}

func TestRateLimiterRateStoreDisagrees(t *testing.T) {
	rl := NewRateLimiter(lyingRateStore{NewMemory(MemoryOptions{})}, PerSecond(10, 5), RateLimiterConfig{})
	_, err := rl.Allow(context.Background(), "k", 1)
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestRateLimiterRateStoreErrors: AllowRate's errors reach the caller
// (ctx's, a corrupt key, a bad key), and a clock before 1970 decides with
// Get and Set.
func TestRateLimiterRateStoreErrors(t *testing.T) {
	ctx := context.Background()
	rs := &rateRefStore{Memory: NewMemory(MemoryOptions{})}
	rl := NewRateLimiter(rs, PerSecond(10, 5), RateLimiterConfig{})
	_, err := rs.Set(ctx, "text", []byte("not a time"), SetOptions{})
	require.NoError(t, err)
	_, err = rl.Allow(ctx, "text", 1)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = rl.Allow(ctx, "bad key", 1)
	require.ErrorIs(t, err, ErrInvalidKey)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = rl.Allow(cctx, "k", 1)
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualValues(t, 3, rs.calls.Load())

	old := NewRateLimiter(rs, PerSecond(10, 5), RateLimiterConfig{Now: func() time.Time { return time.Unix(-5, 0) }})
	_, err = old.Allow(ctx, "old", 1)
	require.NoError(t, err)
	assert.EqualValues(t, 3, rs.calls.Load())
}

func TestRateLimiterBadInput(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	rl := NewRateLimiter(store, PerSecond(10, 0), RateLimiterConfig{})
	assert.Equal(t, 10, rl.Limit().Burst, "Burst defaults to Rate")

	_, err := rl.Allow(ctx, "k", -1)
	require.ErrorIs(t, err, ErrInvalidCost)
	_, err = rl.Allow(ctx, "bad key", 1)
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = store.Set(ctx, "text", []byte("not a time"), SetOptions{})
	require.NoError(t, err)
	_, err = rl.Allow(ctx, "text", 1)
	require.ErrorIs(t, err, ErrCorrupt)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = rl.Allow(cctx, "k", 1)
	require.ErrorIs(t, err, context.Canceled)

	for _, l := range []Limit{
		{Rate: 0, Period: time.Second},
		{Rate: 1},
		{Rate: 1, Period: time.Second, Burst: -1},
		{Rate: 2, Period: time.Nanosecond},               // two events a nanosecond
		{Rate: 1, Period: time.Second, Burst: 1 << 40},   // a burst of 35,000 years
		{Rate: 1 << 40, Period: time.Second, Burst: 100}, // rate above 1/ns
	} {
		assert.PanicsWithValue(t, "cachestruct: NewRateLimiter with an invalid limit", func() { NewRateLimiter(store, l, RateLimiterConfig{}) })
	}
	assert.PanicsWithValue(t, "cachestruct: NewRateLimiter with a nil Store", func() { NewRateLimiter(nil, PerSecond(1, 1), RateLimiterConfig{}) })
}

// conflictStore loses every CAS race.
type conflictStore struct{ Store }

func (conflictStore) Set(context.Context, string, []byte, SetOptions) (uint64, error) {
	return 0, ErrCASConflict
}

func TestRateLimiterMaxTries(t *testing.T) {
	var gets atomic.Int64
	store := conflictStore{Store: &hookGetStore{Store: NewMemory(MemoryOptions{}), gets: &gets}}
	rl := NewRateLimiter(store, PerSecond(10, 10), RateLimiterConfig{MaxTries: 5})
	_, err := rl.Allow(context.Background(), "k", 1)
	require.ErrorIs(t, err, ErrCASConflict)
	assert.EqualValues(t, 5, gets.Load())
}

// hookGetStore counts Gets.
type hookGetStore struct {
	Store
	gets *atomic.Int64
}

func (s *hookGetStore) Get(ctx context.Context, key string, opt GetOptions) (Item, bool, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key, opt)
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		limit Limit
	}{
		{"allowed", Limit{Rate: 1 << 20, Period: time.Second, Burst: 1 << 30}},
		{"refused", Limit{Rate: 1, Period: time.Hour, Burst: 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rl := NewRateLimiter(NewMemory(MemoryOptions{}), tc.limit, RateLimiterConfig{})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rl.Allow(ctx, "bench", 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
