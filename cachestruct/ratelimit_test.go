package cachestruct

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRateLimiterSequence walks a limit of 10 a second in bursts of 5
// (one event per 100ms) through allowed, refused and refilled decisions.
func TestRateLimiterSequence(t *testing.T) {
	ctx := context.Background()
	clock := newStClock(stEpoch)
	store := NewMemory(MemoryOptions{Now: clock.Now})
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
}

// TestRateLimiterModel compares random decisions with a token bucket
// refilled continuously (exact integer arithmetic in nanoseconds): GCRA
// must allow exactly what the bucket allows and report the same remainder.
func TestRateLimiterModel(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 15))
			clock := newStClock(stEpoch)
			store := NewMemory(MemoryOptions{Now: clock.Now})
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
	rateExactness(t, stMemoryBackend().clients(t, 1), 32, 100, 1000)
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
