package cachestruct

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLockFencingMemcached: 12 goroutines over 3 clients (separate
// connection pools, as 3 processes) take a fenced lock 200 times each on
// real memcached; inside the critical section every token is greater than
// the one before. Then the server holding the counter restarts (empty):
// the next token is still greater, reseeded from the clock.
func TestLockFencingMemcached(t *testing.T) {
	const goroutines, acquisitions = 12, 200
	ctx := context.Background()
	cluster, stores := stMemcachedClients(t, 1, 3, MemcachedOptions{})
	var mu sync.Mutex // guards last; held only inside the critical section
	var last uint64
	var total, bad atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		l := NewLock(stores[g%len(stores)], "fenced", LockConfig{Fencing: true, Poll: 500 * time.Microsecond, MaxPoll: 2 * time.Millisecond})
		wg.Go(func() {
			for range acquisitions {
				h, err := l.Lock(ctx)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				if h.Token() <= last {
					bad.Add(1)
				}
				last = h.Token()
				mu.Unlock()
				total.Add(1)
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, goroutines*acquisitions, total.Load())
	require.Zero(t, bad.Load(), "tokens out of order")

	cluster[0].Restart()
	l := NewLock(stores[0], "fenced", LockConfig{Fencing: true})
	require.Eventually(t, func() bool { // the first request may meet the dead connection
		h, err := l.TryLock(ctx)
		if err != nil {
			return false
		}
		assert.Greater(t, h.Token(), last, "token after the server's restart")
		return true
	}, 5*time.Second, 10*time.Millisecond)
}

// TestLockKeepAliveMemcached: on real memcached a kept-alive lock with a
// 3s TTL stays held for more than twice its TTL, and is free as soon as it
// is released.
func TestLockKeepAliveMemcached(t *testing.T) {
	ctx := context.Background()
	_, stores := stMemcachedClients(t, 1, 2, MemcachedOptions{})
	a := NewLock(stores[0], "kept", LockConfig{TTL: 3 * time.Second})
	b := NewLock(stores[1], "kept", LockConfig{TTL: 3 * time.Second})
	h, err := a.TryLock(ctx)
	require.NoError(t, err)
	kctx := h.KeepAlive(ctx)
	for until := time.Now().Add(7 * time.Second); time.Now().Before(until); {
		_, err := b.TryLock(ctx)
		require.ErrorIs(t, err, ErrLocked)
		require.NoError(t, kctx.Err())
		select {
		case <-kctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	require.NoError(t, h.Unlock(ctx))
	require.ErrorIs(t, context.Cause(kctx), context.Canceled)
	h2, err := b.TryLock(ctx)
	require.NoError(t, err)
	require.NoError(t, h2.Unlock(ctx))
}
