package benchpeers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/redisstore"
	"github.com/twine-go/twine/internal/redistest"
)

// redisRateEpoch is the Unix time from which redis_rate's script counts
// seconds (2017-01-01 UTC): its TATs and its clock are float seconds since
// then.
const redisRateEpoch = 1483228800

// roundTrips counts the commands a go-redis client sends (a pipeline
// counts once), but for those that set up a new connection (HELLO, CLIENT
// SETINFO and the like): a hook, as go-redis's Hook interface defines it.
type roundTrips struct{ n atomic.Int64 }

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !connSetup(cmd) {
			r.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !connSetup(cmds[0]) {
			r.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// connSetup reports whether cmd is one go-redis sends on a new connection.
func connSetup(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// TestRateLimiterAgreesWithRedisRate feeds one steady stream of requests
// (a request every 40 ms for a limit of 8 a second, burst 4: three times
// the rate, then a quiet spell that refills the bucket, then the stream
// again; costs 1, 2, 3 and 5, the last above the burst) to
// go-redis/redis_rate's Limiter and to cachestruct.RateLimiter on
// redisstore, on one redis-server, and checks that each pair of decisions
// agrees. twine decides twice, on two keys: with redisstore's AllowRate
// (one script call per decision, as redis_rate's), and with a Get and a
// CAS Set (a store that hides AllowRate: one round trip to refuse, two to
// allow); both must agree with redis_rate.
//
// Both are GCRA, but redis_rate reads the server's clock (TIME, inside its
// script) and twine the process's (RateLimiterConfig.Now). So that both
// decide at the same instant, each request goes to redis_rate first, and
// the server time its script used is recovered from its answer and its
// stored TAT (now = TAT − ResetAfter, exact to the microsecond TIME gives)
// and handed to twine's limiter as Now. The emission interval, 125 ms, is
// a power of two in seconds, so redis_rate's float arithmetic is exact and
// the two agree to the nanosecond but for the rounding of its float clock
// (under 0.1 µs). They differ, by design, only in how they report:
//
//   - Allowed: redis_rate reports how many events it allowed (n or 0),
//     twine whether it allowed them.
//   - Remaining after a refusal: redis_rate reports 0; twine how many
//     events would be allowed now (fewer than n; 0 when n is 1).
//   - RetryAfter after an allow: redis_rate −1, twine 0.
//   - RetryAfter when n exceeds the burst: twine −1 (never); redis_rate
//     the time after which n − Burst more events' worth of waiting would
//     still be missing (ResetAfter + (n − Burst) × emission), after which
//     it refuses again.
//
// Not compared here, and not a difference in decisions: redis_rate keeps
// its TAT as float seconds since 2017, so with an emission interval that
// is not a power of two in seconds (100 ms, say) its Remaining can come
// out one lower when it is a whole number (3.9999999 truncated to 3).
func TestRateLimiterAgreesWithRedisRate(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	trips := &roundTrips{}
	c.AddHook(trips)
	ctx := context.Background()

	const rate, burst = 8, 4
	emission := time.Second / rate
	var now time.Time // the server's time of the current decision
	store := redisstore.New(c, redisstore.Options{})
	_, _, err := store.Get(ctx, "warm", cachestruct.GetOptions{}) // loads redisstore's script
	require.NoError(t, err)
	cfg := cachestruct.RateLimiterConfig{Now: func() time.Time { return now }}
	twine := cachestruct.NewRateLimiter(store, cachestruct.PerSecond(rate, burst), cfg)
	twineCAS := cachestruct.NewRateLimiter(withoutRateStore{store}, cachestruct.PerSecond(rate, burst), cfg)
	peer := redis_rate.NewLimiter(c)
	peerLimit := redis_rate.Limit{Rate: rate, Period: time.Second, Burst: burst}
	const key = "agree"

	// serverNow recovers the time redis_rate's script read: its answer's
	// ResetAfter is its TAT (stored, or now if that is later) minus now.
	serverNow := func(res *redis_rate.Result) time.Time {
		stored, err := c.Get(ctx, "rate:"+key).Result()
		if err == redis.Nil || res.ResetAfter == 0 {
			// Its TAT was at most now: the decision does not depend on
			// now beyond that, so any later time gives the same one.
			tm, err := c.Time(ctx).Result()
			require.NoError(t, err)
			return tm
		}
		require.NoError(t, err)
		tat, err := strconv.ParseFloat(stored, 64)
		require.NoError(t, err)
		micros := math.Round((tat - res.ResetAfter.Seconds()) * 1e6)
		return time.UnixMicro(redisRateEpoch*1e6 + int64(micros))
	}

	costs := []int{1, 1, 2, 1, 3, 1, 1, 5}
	var allowed, refused, never int
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for i := range 50 {
		if i == 25 {
			time.Sleep(burst*emission + 100*time.Millisecond) // the bucket refills
		}
		<-tick.C
		n := costs[i%len(costs)]
		want, err := peer.AllowN(ctx, key, peerLimit, n)
		require.NoError(t, err)
		now = serverNow(want)
		before := trips.n.Load()
		got, err := twine.Allow(ctx, key, n)
		require.NoError(t, err)
		tripsUsed := trips.n.Load() - before
		before = trips.n.Load()
		gotCAS, err := twineCAS.Allow(ctx, key+":cas", n)
		require.NoError(t, err)
		tripsCAS := trips.n.Load() - before

		step := fmt.Sprintf("request %d, n=%d at %s: redis_rate %+v, twine %+v", i, n, now.Format("15:04:05.000000"), *want, got)
		assert.Equal(t, got, gotCAS, "with a Get and a CAS Set: %s", step)
		assert.Equal(t, want.Allowed == n, got.Allowed, step)
		assert.InDelta(t, want.ResetAfter, got.ResetAfter, float64(time.Microsecond), step)
		switch {
		case got.Allowed:
			allowed++
			assert.Equal(t, n, want.Allowed, step)
			assert.Equal(t, want.Remaining, got.Remaining, step)
			assert.Equal(t, time.Duration(-1), want.RetryAfter, step)
			assert.Zero(t, got.RetryAfter, step)
			assert.EqualValues(t, 1, tripsUsed, "twine allows in one round trip (AllowRate): %s", step)
			assert.EqualValues(t, 2, tripsCAS, "twine allows in two round trips (Get, CAS Set): %s", step)
		case n > burst:
			never++
			assert.Equal(t, time.Duration(-1), got.RetryAfter, step)
			assert.InDelta(t, want.ResetAfter+time.Duration(n-burst)*emission, want.RetryAfter, float64(time.Microsecond), step)
			assert.Zero(t, want.Remaining, step)
			assert.EqualValues(t, 1, tripsUsed, "twine refuses in one round trip (AllowRate): %s", step)
			assert.EqualValues(t, 1, tripsCAS, "twine refuses in one round trip (Get): %s", step)
		default:
			refused++
			assert.Zero(t, want.Allowed, step)
			assert.InDelta(t, want.RetryAfter, got.RetryAfter, float64(time.Microsecond), step)
			assert.Zero(t, want.Remaining, step)
			assert.Less(t, got.Remaining, n, step)
			if n == 1 {
				assert.Zero(t, got.Remaining, step)
			}
			assert.EqualValues(t, 1, tripsUsed, "twine refuses in one round trip (AllowRate): %s", step)
			assert.EqualValues(t, 1, tripsCAS, "twine refuses in one round trip (Get): %s", step)
		}
	}
	t.Logf("%d allowed, %d refused, %d above the burst", allowed, refused, never)
	assert.Positive(t, allowed)
	assert.Positive(t, refused)
	assert.Positive(t, never)

	// redis_rate decides in one round trip (EVALSHA of its script, loaded
	// by the first call).
	before := trips.n.Load()
	_, err = peer.AllowN(ctx, key, peerLimit, 1)
	require.NoError(t, err)
	assert.EqualValues(t, 1, trips.n.Load()-before)
}

// withoutRateStore hides redisstore's AllowRate: a RateLimiter on it
// decides with a Get and a CAS Set, as it did before AllowRate.
type withoutRateStore struct{ cachestruct.Store }

// rateClient is a rate limiter under benchmark: it decides one event on
// key and reports whether it was allowed.
type rateClient func(key string) (bool, error)

// BenchmarkRateLimiterRedisPaired compares one decision of
// cachestruct.RateLimiter on redisstore with go-redis/redis_rate's
// Limiter.Allow on one redis-server through one go-redis client (see
// runPaired; each client is a pair: its allowed and its refused limiter),
// from 1 and 64 goroutines, each goroutine on its own key:
// "allowed" under a limit that always allows (a million a second), and
// "refused" on keys whose one-event burst was spent (one an hour). twine
// decides with one AllowRate script call, as redis_rate runs its script
// once; twine-cas is twine on a store that hides AllowRate (as before
// it): a Get, then for an allow a CAS Set. It reports the ratios
// twine/redis_rate and twine-cas/redis_rate (above 1: twine is slower).
func BenchmarkRateLimiterRedisPaired(b *testing.B) {
	c := newRedisClient(b)
	ctx := context.Background()
	store := redisstore.New(c, redisstore.Options{})
	peer := redis_rate.NewLimiter(c)
	open := cachestruct.NewRateLimiter(store, cachestruct.PerSecond(1_000_000, 1_000_000), cachestruct.RateLimiterConfig{})
	shut := cachestruct.NewRateLimiter(store, cachestruct.Limit{Rate: 1, Period: time.Hour, Burst: 1}, cachestruct.RateLimiterConfig{})
	openCAS := cachestruct.NewRateLimiter(withoutRateStore{store}, cachestruct.PerSecond(1_000_000, 1_000_000), cachestruct.RateLimiterConfig{})
	shutCAS := cachestruct.NewRateLimiter(withoutRateStore{store}, cachestruct.Limit{Rate: 1, Period: time.Hour, Burst: 1}, cachestruct.RateLimiterConfig{})
	openLimit := redis_rate.PerSecond(1_000_000)
	shutLimit := redis_rate.PerHour(1)
	twine := func(l *cachestruct.RateLimiter) rateClient {
		return func(key string) (bool, error) {
			res, err := l.Allow(ctx, key, 1)
			return res.Allowed, err
		}
	}
	redisRate := func(limit redis_rate.Limit) rateClient {
		return func(key string) (bool, error) {
			res, err := peer.Allow(ctx, key, limit)
			if err != nil {
				return false, err
			}
			return res.Allowed == 1, nil
		}
	}
	const keys = 64 // a turn from g goroutines gives goroutine k the ops k, k+g, …: one key each
	op := func(name string, want bool) pairedOp[[2]rateClient] {
		return pairedOp[[2]rateClient]{name: name, batch: 1280, do: func(c [2]rateClient, i int) error {
			rc := c[0]
			if !want {
				rc = c[1]
			}
			allowed, err := rc("bench:rate:" + name + ":" + strconv.Itoa(i%keys))
			if err == nil && allowed != want {
				err = fmt.Errorf("allowed %v, want %v", allowed, want)
			}
			return err
		}}
	}
	for i := range keys { // spend the burst of every refused key
		k := "bench:rate:refused:" + strconv.Itoa(i)
		if _, err := shut.Allow(ctx, k, 1); err != nil {
			b.Fatal(err)
		}
		if _, err := peer.Allow(ctx, k, shutLimit); err != nil {
			b.Fatal(err)
		}
	}
	runPaired(b, pairing[[2]rateClient]{
		clients: []pairedClient[[2]rateClient]{
			{"twine", [2]rateClient{twine(open), twine(shut)}, true},
			{"twine-cas", [2]rateClient{twine(openCAS), twine(shutCAS)}, true},
			{"redis_rate", [2]rateClient{redisRate(openLimit), redisRate(shutLimit)}, true},
		},
		ops:        []pairedOp[[2]rateClient]{op("allowed", true), op("refused", false)},
		goroutines: redisGoroutines,
		ratios:     [][2]string{{"twine", "redis_rate"}, {"twine-cas", "redis_rate"}, {"twine", "twine-cas"}},
	})
}

// BenchmarkRateLimiterRedisHotKey has g goroutines decide on one key under
// a limit that always allows (a million a second), as a burst of traffic
// from one client would: twine's (AllowRate) and redis_rate's decisions
// run one at a time on the server, twine-cas's (Get and CAS Set, on a
// store that hides AllowRate) race, each lost race a Get and a CAS Set
// more. It
// reports round trips per decision ("trips/op") and the share of decisions
// that gave up after MaxTries (64) lost races ("conflicts/op", an error
// wrapping cachestruct.ErrCASConflict, which callers treat as a refusal).
func BenchmarkRateLimiterRedisHotKey(b *testing.B) {
	c := newRedisClient(b)
	trips := &roundTrips{}
	c.AddHook(trips)
	ctx := context.Background()
	store := redisstore.New(c, redisstore.Options{})
	twine := cachestruct.NewRateLimiter(store, cachestruct.PerSecond(1_000_000, 1_000_000), cachestruct.RateLimiterConfig{})
	twineCAS := cachestruct.NewRateLimiter(withoutRateStore{store}, cachestruct.PerSecond(1_000_000, 1_000_000), cachestruct.RateLimiterConfig{})
	peer := redis_rate.NewLimiter(c)
	limit := redis_rate.PerSecond(1_000_000)
	peers := []struct {
		name  string
		allow func(key string) error
	}{
		{"twine", func(key string) error {
			_, err := twine.Allow(ctx, key, 1)
			return err
		}},
		{"twine-cas", func(key string) error {
			_, err := twineCAS.Allow(ctx, key, 1)
			return err
		}},
		{"redis_rate", func(key string) error {
			_, err := peer.Allow(ctx, key, limit)
			return err
		}},
	}
	for _, g := range []int{8, 64} {
		for _, p := range peers {
			b.Run(fmt.Sprintf("goroutines=%d/%s", g, p.name), func(b *testing.B) {
				key := "bench:rate:hot:" + strconv.Itoa(g) + ":" + p.name
				if err := p.allow(key); err != nil { // the script loaded, the key made
					b.Fatal(err)
				}
				var conflicts atomic.Int64
				before := trips.n.Load()
				benchEach(b, g, func(int) func() error {
					return func() error {
						err := p.allow(key)
						if errors.Is(err, cachestruct.ErrCASConflict) {
							conflicts.Add(1)
							return nil
						}
						return err
					}
				})
				b.ReportMetric(float64(trips.n.Load()-before)/float64(b.N), "trips/op")
				b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
			})
		}
	}
}
