package redisstore_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
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

// roundTrips counts the commands a go-redis client sends (a pipeline
// counts once), but for those that set up a new connection (HELLO, CLIENT
// SETINFO and the like).
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

func connSetup(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// allowRateWant is cachestruct.RateStore's AllowRate in Go, on the value
// stored under the key (found false when missing): the TAT read, whether it
// writes, the value it writes and its TTL, or ErrCorrupt.
func allowRateWant(value string, found bool, now, inc, burst int64) (tat int64, stored bool, next string, ttl time.Duration, err error) {
	if found {
		if tat, err = strconv.ParseInt(value, 10, 64); err != nil {
			return 0, false, "", 0, cachestruct.ErrCorrupt
		}
	}
	start := max(tat, now)
	if start-now > burst-inc {
		return tat, false, "", 0, nil
	}
	n := start + inc
	secs := (n - now + int64(time.Second) + int64(time.Second) - 1) / int64(time.Second)
	return tat, true, strconv.FormatInt(n, 10), time.Duration(secs) * time.Second, nil
}

// TestAllowRate compares AllowRate on a real server with allowRateWant,
// on stored values that Go's strconv.ParseInt accepts or refuses at the
// edges, and on random TATs, clocks and limits: the same TAT read, the
// same decision, the same value and TTL written, flags 0 and the CAS one
// more than the item's.
func TestAllowRate(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, redistest.Start(t).Addr())
	store := redisstore.New(c, redisstore.Options{})
	now := time.Date(2026, 12, 4, 18, 0, 0, 123456789, time.UTC).UnixNano()
	sec := int64(time.Second)

	type tc struct {
		value       string
		found       bool
		now         int64
		inc, burst  int64
		invalidated bool // the item was marked stale before the decision
	}
	var cases []tc
	for _, v := range []string{
		"0", "-0", "+0", "5", "+5", "-5", "007", "00000000000000000000000042",
		strconv.FormatInt(now, 10), strconv.FormatInt(now+1, 10), strconv.FormatInt(now-1, 10),
		strconv.FormatInt(now+3*sec, 10), strconv.FormatInt(now+3*sec+1, 10), strconv.FormatInt(now+4*sec, 10),
		strconv.FormatInt(now+3*sec-sec/2, 10),
		"9223372036854775807", "-9223372036854775808", "+9223372036854775807",
		"9223372036854775808", "-9223372036854775809", "10000000000000000000", "99999999999999999999",
		"", "+", "-", "abc", " 5", "5 ", "1e9", "1_000", "0x10", "5\x00",
	} {
		cases = append(cases, tc{value: v, found: true, now: now, inc: sec, burst: 4 * sec})
	}
	cases = append(cases,
		tc{now: now, inc: sec, burst: 4 * sec},                          // missing
		tc{now: 0, inc: 1, burst: 1},                                    // the epoch
		tc{now: 5, inc: 1 << 62, burst: 1 << 62},                        // the largest burst
		tc{value: "7", found: true, now: 5, inc: 3, burst: 5},           // within the first second
		tc{value: "999999999", found: true, now: 5, inc: 2, burst: 1e9}, // a carry into the seconds
		tc{value: strconv.FormatInt(now+sec, 10), found: true, now: now, inc: sec, burst: 4 * sec, invalidated: true},
	)
	rnd := rand.New(rand.NewPCG(4, 12))
	for range 300 {
		burst := 1 + rnd.Int64N(1<<62)
		if rnd.IntN(2) == 0 {
			burst = 1 + rnd.Int64N(100*sec)
		}
		c := tc{now: rnd.Int64N(1 << 61), inc: 1 + rnd.Int64N(burst), burst: burst}
		if rnd.IntN(5) > 0 {
			c.found = true
			c.value = strconv.FormatInt(c.now+rnd.Int64N(2*burst+1)-burst/2, 10)
		}
		cases = append(cases, c)
	}

	for i, tc := range cases {
		key := "allowrate:" + strconv.Itoa(i)
		step := fmt.Sprintf("case %d: %+v", i, tc)
		var cas uint64
		if tc.found {
			var err error
			cas, err = store.Set(ctx, key, []byte(tc.value), cachestruct.SetOptions{Flags: 7})
			require.NoError(t, err, step)
			if tc.invalidated {
				require.NoError(t, store.Delete(ctx, key, cachestruct.DeleteOptions{Invalidate: true}), step)
				cas++
			}
		}
		wantTAT, wantStored, wantNext, wantTTL, wantErr := allowRateWant(tc.value, tc.found, tc.now, tc.inc, tc.burst)
		tat, stored, err := store.AllowRate(ctx, key, tc.now, tc.inc, tc.burst)
		if wantErr != nil {
			require.ErrorIs(t, err, wantErr, step)
		} else {
			require.NoError(t, err, step)
			assert.Equal(t, wantTAT, tat, step)
			assert.Equal(t, wantStored, stored, step)
		}
		it, found, err := store.Get(ctx, key, cachestruct.GetOptions{})
		if wantErr != nil {
			continue
		}
		require.NoError(t, err, step)
		if !wantStored {
			// Nothing written: the item is as it was.
			require.Equal(t, tc.found, found, step)
			if found {
				assert.Equal(t, tc.value, string(it.Value), step)
				assert.Equal(t, cas, it.CAS, step)
			}
			continue
		}
		require.True(t, found, step)
		assert.Equal(t, wantNext, string(it.Value), step)
		assert.Equal(t, wantTTL, it.TTL, step)
		assert.Zero(t, it.Flags, step)
		assert.False(t, it.Stale, step)
		if tc.found {
			assert.Equal(t, cas+1, it.CAS, step)
		}
	}
}

// TestAllowRateErrors: keys of other clients and other types are
// corrupt, and nothing is sent for a bad key, bad arguments or a done ctx.
func TestAllowRateErrors(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, redistest.Start(t).Addr())
	trips := &roundTrips{}
	c.AddHook(trips)
	store := redisstore.New(c, redisstore.Options{})
	now := time.Now().UnixNano()
	require.NoError(t, c.Set(ctx, "plain", "12", 0).Err())
	require.NoError(t, c.HSet(ctx, "hash", "f", "v").Err())
	for _, key := range []string{"plain", "hash"} {
		_, _, err := store.AllowRate(ctx, key, now, 1, 1)
		require.ErrorIs(t, err, cachestruct.ErrCorrupt, key)
	}
	before := trips.n.Load()
	_, _, err := store.AllowRate(ctx, "bad key", now, 1, 1)
	require.ErrorIs(t, err, cachestruct.ErrInvalidKey)
	for _, a := range [][3]int64{{-1, 1, 1}, {now, 0, 1}, {now, 2, 1}, {now, 1, 1<<62 + 1}} {
		_, _, err := store.AllowRate(ctx, "k", a[0], a[1], a[2])
		require.ErrorIs(t, err, cachestruct.ErrInvalidCost, "%v", a)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = store.AllowRate(cctx, "k", now, 1, 1)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, trips.n.Load())
}

// withoutRateStore hides redisstore's AllowRate: a RateLimiter on it reads
// and then writes with a CAS, as one of a version before AllowRate does.
type withoutRateStore struct{ cachestruct.Store }

// rateExact runs len(limiters) goroutines deciding calls times each on one
// key, goroutine g with limiters[g], and checks that exactly burst
// decisions are allowed and none fails.
func rateExact(t *testing.T, limiters []*cachestruct.RateLimiter, calls, burst int) {
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	for _, rl := range limiters {
		wg.Go(func() {
			for range calls {
				res, err := rl.Allow(context.Background(), "rate:hot", 1)
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
	assert.EqualValues(t, len(limiters)*calls-burst, refused.Load())
}

// rateLimit refills nothing during a test: a burst of 1,000, one a day.
var rateLimit = cachestruct.Limit{Rate: 1, Period: 24 * time.Hour, Burst: 1000}

// TestRateLimiterHotKey: 64 goroutines over 4 clients (pools of their
// own) decide 40 times each on one key. With AllowRate each decision is
// one round trip and none races, so even with MaxTries 1 none gives up,
// and exactly Burst are allowed.
func TestRateLimiterHotKey(t *testing.T) {
	addr := redistest.Start(t).Addr()
	trips := &roundTrips{}
	limiters := make([]*cachestruct.RateLimiter, 64)
	for i := range 4 {
		c := newClient(t, addr)
		c.AddHook(trips)
		store := redisstore.New(c, redisstore.Options{})
		_, _, err := store.Get(context.Background(), "warm", cachestruct.GetOptions{}) // loads the script
		require.NoError(t, err)
		for g := i; g < len(limiters); g += 4 {
			limiters[g] = cachestruct.NewRateLimiter(store, rateLimit, cachestruct.RateLimiterConfig{MaxTries: 1})
		}
	}
	before := trips.n.Load()
	rateExact(t, limiters, 40, rateLimit.Burst)
	assert.EqualValues(t, 64*40, trips.n.Load()-before, "one round trip per decision")
}

// TestRateLimiterRollout: on one key, half the goroutines decide with
// AllowRate and half with a Get and a CAS Set (limiters on
// withoutRateStore, as processes still on the older version during a
// rollout): exactly Burst are allowed. MaxTries is Burst+1: the
// read-then-write decisions lose races to both kinds (each AllowRate
// write gives the item a new CAS), at most one per allowed event.
func TestRateLimiterRollout(t *testing.T) {
	addr := redistest.Start(t).Addr()
	limiters := make([]*cachestruct.RateLimiter, 32)
	for i := range 4 {
		var store cachestruct.Store = redisstore.New(newClient(t, addr), redisstore.Options{})
		if i%2 == 1 {
			store = withoutRateStore{store}
		}
		for g := i; g < len(limiters); g += 4 {
			limiters[g] = cachestruct.NewRateLimiter(store, rateLimit, cachestruct.RateLimiterConfig{MaxTries: rateLimit.Burst + 1})
		}
	}
	rateExact(t, limiters, 100, rateLimit.Burst)
}

// TestRateLimiterFarTAT: a TAT at the largest int64 refuses, as on the
// read-then-write path, with the same result.
func TestRateLimiterFarTAT(t *testing.T) {
	ctx := context.Background()
	store := redisstore.New(newClient(t, redistest.Start(t).Addr()), redisstore.Options{})
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	cfg := cachestruct.RateLimiterConfig{Now: func() time.Time { return now }}
	_, err := store.Set(ctx, "far", []byte(strconv.FormatInt(math.MaxInt64, 10)), cachestruct.SetOptions{})
	require.NoError(t, err)
	got, err := cachestruct.NewRateLimiter(store, cachestruct.PerSecond(10, 5), cfg).Allow(ctx, "far", 1)
	require.NoError(t, err)
	want, err := cachestruct.NewRateLimiter(withoutRateStore{store}, cachestruct.PerSecond(10, 5), cfg).Allow(ctx, "far", 1)
	require.NoError(t, err)
	assert.False(t, got.Allowed)
	assert.Equal(t, want, got)
}
