package memcache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientChaos runs many callers with random deadlines and
// cancellations while the server is paused, resumed, killed and restarted.
// Every call must return within its deadline (plus a margin for a loaded
// machine) with an allowed outcome, and a reply must never reach the wrong
// caller: each value names its key, so a mixed-up reply shows.
func TestClientChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos takes a few seconds")
	}
	c, s := newClient(t, Config{Conns: 2, Timeout: 200 * time.Millisecond})
	var stop atomic.Bool
	var calls, failures atomic.Int64
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for !stop.Load() {
				key := fmt.Sprintf("chaos:%d", rng.IntN(20))
				d := time.Duration(1+rng.IntN(80)) * time.Millisecond
				ctx, cancel := context.WithTimeout(context.Background(), d)
				if rng.IntN(4) == 0 {
					go cancel()
				}
				start := time.Now()
				var err error
				switch rng.IntN(4) {
				case 0:
					_, err = c.Set(ctx, key, []byte(key+"="+fmt.Sprint(rng.Int())), SetOptions{})
				case 1:
					var items map[string]Item
					items, err = getMap(ctx, c, []string{key, "chaos:1", "chaos:2"}, GetMultiOptions{})
					for k, it := range items {
						assert.True(t, strings.HasPrefix(string(it.Value), k+"="), "reply for the wrong key: %q -> %q", k, it.Value)
					}
				default:
					var it Item
					it, err = c.Get(ctx, key, GetOptions{})
					if err == nil {
						assert.True(t, strings.HasPrefix(string(it.Value), key+"="), "reply for the wrong key: %q -> %q", key, it.Value)
					}
				}
				elapsed := time.Since(start)
				cancel()
				calls.Add(1)
				assert.Less(t, elapsed, d+2*time.Second, "a call outlived its deadline")
				if err != nil && !errors.Is(err, ErrCacheMiss) {
					failures.Add(1)
					if !errors.Is(err, ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) &&
						!errors.Is(err, context.Canceled) {
						assert.NoError(t, err)
					}
				}
			}
		})
	}
	// The pauses only let the load run in each phase: no assertion
	// depends on their length.
	pause := func() { time.Sleep(150 * time.Millisecond) }
	for range 2 {
		pause()
		s.Pause()
		pause()
		s.Resume()
		pause()
		s.Stop()
		pause()
		s.Restart()
	}
	pause()
	stop.Store(true)
	wg.Wait()
	t.Logf("%d calls, %d failed", calls.Load(), failures.Load())

	// Afterwards the client works again.
	require.Eventually(t, func() bool {
		_, err := c.Set(context.Background(), "after", []byte("after=1"), SetOptions{})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	it, err := c.Get(context.Background(), "after", GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "after=1", string(it.Value))
}
