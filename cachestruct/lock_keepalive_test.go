package cachestruct

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// downStore is a Store whose writes fail with ErrUnavailable while down is
// set, as an unreachable server's would.
type downStore struct {
	Store
	down atomic.Bool
}

func (s *downStore) Set(ctx context.Context, key string, value []byte, opt SetOptions) (uint64, error) {
	if s.down.Load() {
		return 0, ErrUnavailable
	}
	return s.Store.Set(ctx, key, value, opt)
}

// TestLockKeepAlive: a kept-alive lock outlives its TTL many times over,
// Unlock stops the goroutine (synctest.Test fails if it were left
// running) and cancels the context with context.Canceled.
func TestLockKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		l := NewLock(store, "job", LockConfig{TTL: 3 * time.Second})
		h, err := l.TryLock(ctx)
		require.NoError(t, err)
		kctx := h.KeepAlive(ctx)
		assert.Equal(t, kctx, h.KeepAlive(ctx), "a second call starts nothing")

		time.Sleep(time.Minute) // 20 TTLs
		_, err = l.TryLock(ctx)
		require.ErrorIs(t, err, ErrLocked, "the keep-alive kept the lock")
		require.NoError(t, kctx.Err())

		require.NoError(t, h.Unlock(ctx))
		require.ErrorIs(t, kctx.Err(), context.Canceled)
		require.ErrorIs(t, context.Cause(kctx), context.Canceled)
		h2, err := l.TryLock(ctx)
		require.NoError(t, err, "released")

		assert.Equal(t, kctx, h.KeepAlive(ctx), "still the first keep-alive's context")
		// After the release, KeepAlive reports the lock not held at once.
		require.NoError(t, h2.Unlock(ctx))
		require.ErrorIs(t, context.Cause(h2.KeepAlive(ctx)), ErrNotHeld)
	})
}

// TestLockKeepAliveLost: when the lock item disappears (evicted) and
// another owner takes it, the keep-alive's next extension, a third of
// the TTL later at most, finds it and cancels the context with a cause
// wrapping ErrNotHeld.
func TestLockKeepAliveLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		l := NewLock(store, "job", LockConfig{TTL: 3 * time.Second})
		h, err := l.TryLock(ctx)
		require.NoError(t, err)
		kctx := h.KeepAlive(ctx)
		time.Sleep(5 * time.Second)

		require.NoError(t, store.Delete(ctx, "job", DeleteOptions{})) // evicted
		other, err := l.TryLock(ctx)
		require.NoError(t, err)
		lost := time.Now()
		<-kctx.Done()
		assert.LessOrEqual(t, time.Since(lost), time.Second)
		require.ErrorIs(t, context.Cause(kctx), ErrNotHeld)
		require.ErrorIs(t, h.Unlock(ctx), ErrNotHeld)
		require.NoError(t, other.Unlock(ctx), "the loser never touched the new holder's lock")
	})
}

// TestLockKeepAliveContextEnds: the keep-alive stops with its ctx; the lock
// then expires with its TTL.
func TestLockKeepAliveContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemory(MemoryOptions{})
		l := NewLock(store, "job", LockConfig{TTL: 3 * time.Second})
		h, err := l.TryLock(context.Background())
		require.NoError(t, err)
		ctx, cancel := context.WithCancelCause(context.Background())
		kctx := h.KeepAlive(ctx)
		time.Sleep(10 * time.Second)
		stop := errors.New("shutting down")
		cancel(stop)
		synctest.Wait()
		require.ErrorIs(t, context.Cause(kctx), stop)

		_, err = l.TryLock(context.Background())
		require.ErrorIs(t, err, ErrLocked, "still held until its TTL")
		time.Sleep(3 * time.Second)
		_, err = l.TryLock(context.Background())
		require.NoError(t, err, "expired without the keep-alive")
	})
}

// TestLockKeepAliveStoreDown: extensions that fail with a store error are
// retried; the lock is reported lost exactly when its TTL has passed since
// the last successful extension, and not before.
func TestLockKeepAliveStoreDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		start := time.Now()
		store := &downStore{Store: NewMemory(MemoryOptions{})}
		l := NewLock(store, "job", LockConfig{TTL: 3 * time.Second})
		h, err := l.TryLock(ctx)
		require.NoError(t, err)
		kctx := h.KeepAlive(ctx)
		time.Sleep(3500 * time.Millisecond) // extended at 1s, 2s and 3s
		store.down.Store(true)
		<-kctx.Done()
		assert.Equal(t, 6*time.Second, time.Since(start), "3s after the last extension")
		require.ErrorIs(t, context.Cause(kctx), ErrNotHeld)
	})
}
