package cachestruct

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// TestRateLimiterExactMemcached: 48 goroutines over 3 clients (separate
// connection pools) decide 100 times each on one key of real memcached;
// exactly Burst decisions are allowed.
func TestRateLimiterExactMemcached(t *testing.T) {
	_, stores := stMemcachedClients(t, 3, 3, MemcachedOptions{})
	start := time.Now()
	rateExactness(t, stores, 48, 100, 1000)
	t.Logf("4800 decisions in %v", time.Since(start))
}

// rateChildEnv makes TestRateLimiterChild a child process of
// TestRateLimiterProcessesMemcached: it holds the memcached address.
const rateChildEnv = "CACHESTRUCT_RATE_CHILD"

// rateChildLimit is the limit the processes share: nothing refills
// during the test.
var rateChildLimit = Limit{Rate: 1, Period: 24 * time.Hour, Burst: 700}

// TestRateLimiterChild is the child process: 8 goroutines decide 100
// times each and it prints how many were allowed.
func TestRateLimiterChild(t *testing.T) {
	addr := os.Getenv(rateChildEnv)
	if addr == "" {
		t.Skip("helper process of TestRateLimiterProcessesMemcached")
	}
	allowed, refused := rateDecide(t, addr, 8, 100)
	fmt.Printf("RESULT %d %d\n", allowed, refused)
}

// rateDecide runs goroutines × calls decisions against the memcached at
// addr through a client of its own, and counts them.
func rateDecide(t *testing.T, addr string, goroutines, calls int) (allowed, refused int64) {
	m, err := NewMemcached([]string{addr}, MemcachedOptions{Timeout: 10 * time.Second})
	require.NoError(t, err)
	defer m.Close()
	rl := NewRateLimiter(m, rateChildLimit, RateLimiterConfig{MaxTries: rateChildLimit.Burst + 1}) // see rateExactness
	var a, r atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range calls {
				res, err := rl.Allow(context.Background(), "processes", 1)
				if !assert.NoError(t, err) {
					return
				}
				if res.Allowed {
					a.Add(1)
				} else {
					r.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return a.Load(), r.Load()
}

// TestRateLimiterProcessesMemcached: 3 processes of 8 goroutines and this
// one decide at once on one key of real memcached: exactly Burst decisions
// are allowed in all.
func TestRateLimiterProcessesMemcached(t *testing.T) {
	_, stores := stMemcachedClients(t, 1, 1, MemcachedOptions{})
	addr := stores[0].(*Memcached).list[0].addr
	const children = 3
	outs := make([]string, children)
	errs := make([]error, children)
	var wg sync.WaitGroup
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRateLimiterChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), rateChildEnv+"="+addr)
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		})
	}
	allowed, refused := rateDecide(t, addr, 8, 100)
	wg.Wait()
	for i := range children {
		require.NoError(t, errs[i], outs[i])
		j := strings.Index(outs[i], "RESULT ")
		require.GreaterOrEqual(t, j, 0, outs[i])
		var a, r int64
		_, err := fmt.Sscanf(outs[i][j:], "RESULT %d %d", &a, &r)
		require.NoError(t, err)
		t.Logf("child %d: %d allowed, %d refused", i, a, r)
		allowed += a
		refused += r
	}
	assert.EqualValues(t, rateChildLimit.Burst, allowed)
	assert.EqualValues(t, (children+1)*8*100-rateChildLimit.Burst, refused)
}

// BenchmarkRateLimiterMemcached: decisions on real memcached; an allowed
// decision is two round trips, a refusal one.
func BenchmarkRateLimiterMemcached(b *testing.B) {
	ctx := context.Background()
	srv := memcachedtest.Start(b)
	store, err := NewMemcached([]string{srv.Addr()}, MemcachedOptions{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = store.Close() })
	for _, tc := range []struct {
		name  string
		limit Limit
	}{
		{"allowed", Limit{Rate: 1 << 20, Period: time.Second, Burst: 1 << 30}},
		{"refused", Limit{Rate: 1, Period: time.Hour, Burst: 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rl := NewRateLimiter(store, tc.limit, RateLimiterConfig{})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rl.Allow(ctx, "bench:"+tc.name, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
