package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
	"github.com/twine-go/twine/internal/redistest"
)

func tour(t *testing.T, args ...string) string {
	t.Helper()
	var out strings.Builder
	require.NoError(t, run(context.Background(), args, &out))
	return out.String()
}

// section returns the part of out from the heading that starts with
// prefix to the next numbered heading.
func section(t *testing.T, out, prefix string) string {
	t.Helper()
	i := strings.Index(out, "\n"+prefix)
	require.GreaterOrEqual(t, i, 0, "no section %q", prefix)
	rest := out[i+1:]
	for _, next := range []string{"\n2. ", "\n3. ", "\n4. ", "\nMore: "} {
		if j := strings.Index(rest, next); j > 0 {
			return rest[:j]
		}
	}
	return rest
}

func TestTourInMemory(t *testing.T) {
	out := tour(t)
	t.Log("\n" + out)
	assert.Equal(t, out, tour(t), "the tour prints the same text every time")

	for _, want := range []string{
		// deferred
		"b: check(14) fails: 14 is too large -> the error path",
		`b: errback recovers from "14 is too large" with 10 -> back on the callback path`,
		"b: result 10",
		"a: check(6) ok (the errback is skipped)",
		`outer has a result after Callback("alice"): false (it waits on the query)`,
		`outer's result now: "profile of alice (admin)" (err <nil>, ok true)`,
		"Gather(Go(1²), Go(2²), Go(3²), Go(4²)) = [1 4 9 16]",
		"errors.Is(err, deferred.ErrTimeout) = true",
		// backoff
		"Exponential{Jitter: NoJitter}                100ms   200ms   400ms   800ms   1.60s   3.20s   6.40s",
		"Retry returned <nil> after 3 calls",
		`Retry returned "400 bad request" after 1 call; errors.Is(err, errBad) = true`,
		"without a budget:              80 calls reach the service",
		"with one shared backoff.Budget: 23 calls (19 requests stopped by ErrBudgetExhausted)",
		// hashring
		"After ring.Add(cache-d): 7076 keys moved (23.6%; the ideal is 1/4 = 25%), 7076 of them to cache-d, 0 between old nodes",
		"would move 22516 keys: 75.1%",
		// cachestruct
		"Store: the embedded in-memory store (cachestruct.NewMemory).",
		"10 goroutines × 100 Incr on tour:views -> 1000",
		`a second one gets "cachestruct: locked"`,
		"errors.Is ErrNotHeld: true",
		`Get -> hit true "<h1>alice</h1>"`,
		"Get -> hit false (every entry tagged news misses)",
		"the value is computed 1 time(s)",
		"has 1 W (value written) and ends with a hit: true",
	} {
		assert.Contains(t, out, want)
	}
}

func TestTourOnMemcached(t *testing.T) {
	servers := memcachedtest.Cluster(t, 2)
	args := []string{"-memcached", strings.Join(memcachedtest.Addrs(servers), ",")}
	out := tour(t, args...)
	t.Log("\n" + section(t, out, "4. "))
	assert.Contains(t, out, "Store: 2 memcached server(s) (cachestruct.NewMemcached, ketama picker).")

	// The cachestruct part tells the same story on real servers as in
	// memory, apart from the store's name, and again on a second run
	// (the tour clears its keys first).
	memory := section(t, tour(t), "4. ")
	onServers := section(t, out, "4. ")
	assert.Equal(t, stripStore(memory), stripStore(onServers))
	assert.Equal(t, onServers, section(t, tour(t, args...), "4. "))
}

// TestTourOnRedis: the cachestruct part tells the same story on Redis, one
// server or a Ring of two, as in memory, and again on a second run.
func TestTourOnRedis(t *testing.T) {
	memory := stripStore(section(t, tour(t), "4. "))
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("servers=%d", n), func(t *testing.T) {
			args := []string{"-redis", strings.Join(redistest.Addrs(redistest.Servers(t, n)), ",")}
			out := section(t, tour(t, args...), "4. ")
			t.Log("\n" + out)
			assert.Contains(t, out, "Store: ")
			assert.Contains(t, out, "Redis")
			assert.Equal(t, memory, stripStore(out))
			assert.Equal(t, out, section(t, tour(t, args...), "4. "))
		})
	}
}

func TestTourRedisDown(t *testing.T) {
	s := redistest.Start(t)
	s.Stop()
	err := run(context.Background(), []string{"-redis", s.Addr()}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "4. cachestruct")
}

func TestTourMemcachedDown(t *testing.T) {
	s := memcachedtest.Start(t)
	s.Stop()
	err := run(context.Background(), []string{"-memcached", s.Addr()}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "4. cachestruct")
}

// stripStore drops the line naming the store.
func stripStore(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "Store: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestTourBadFlags(t *testing.T) {
	assert.Error(t, run(context.Background(), []string{"-bogus"}, io.Discard))
	assert.Error(t, run(context.Background(), []string{"-memcached", "a:1", "-redis", "b:2"}, io.Discard))
	assert.Error(t, run(context.Background(), []string{"-memcached", "not an address"}, io.Discard))
}

func TestShort(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"0s", "0ms"},
		{"87.9ms", "87ms"},
		{"1.234s", "1.23s"},
		{"2m0.4s", "2m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := time.ParseDuration(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, short(d))
		})
	}
}
