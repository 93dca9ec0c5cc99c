package cachestruct

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockSafety is the lock proof: 16 goroutines × 500 acquisitions over 3
// clients never overlap in the critical section, checked by an atomic
// counter. hold is how long each holder keeps the lock.
func lockSafety(t *testing.T, stores []Store, hold time.Duration, cfg LockConfig) {
	const goroutines, acquisitions = 16, 500
	ctx := context.Background()
	locks := make([]*Lock, len(stores))
	for i, s := range stores {
		locks[i] = NewLock(s, "safety", cfg)
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
				time.Sleep(hold)
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

func TestLockSafetyMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lockSafety(t, memoryClients(3), time.Millisecond, LockConfig{Poll: time.Millisecond, MaxPoll: 4 * time.Millisecond})
	})
}

// TestLockExpiredHolderCannotRelease: a holder that outlives its TTL finds
// the lock taken by the next holder and can neither release nor extend it.
func TestLockExpiredHolderCannotRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		var rec Recorder
		l := NewLock(store, "job", LockConfig{TTL: time.Second, Observer: &rec})
		old, err := l.TryLock(ctx)
		require.NoError(t, err)
		_, err = l.TryLock(ctx)
		require.ErrorIs(t, err, ErrLocked)

		time.Sleep(2 * time.Second) // old outlives its TTL
		next, err := l.TryLock(ctx)
		require.NoError(t, err, "the expired lock is free")

		require.ErrorIs(t, old.Unlock(ctx), ErrNotHeld)
		require.ErrorIs(t, old.Extend(ctx, time.Minute), ErrNotHeld)
		_, err = l.TryLock(ctx)
		require.ErrorIs(t, err, ErrLocked, "next still holds the lock")

		require.NoError(t, next.Unlock(ctx))
		require.ErrorIs(t, next.Unlock(ctx), ErrNotHeld, "a second unlock")
		assert.Equal(t, "LLLLU", rec.Story("job"))
	})
}

func TestLockExtend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := NewMemory(MemoryOptions{})
		l := NewLock(store, "job", LockConfig{TTL: 2 * time.Second, Owner: "worker-7"})
		h, err := l.TryLock(ctx)
		require.NoError(t, err)
		assert.Equal(t, "worker-7", h.Owner())
		it, found, err := store.Get(ctx, "job", GetOptions{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, "worker-7", string(it.Value))

		for range 5 { // hold for 5s on a 2s TTL by extending every second
			time.Sleep(time.Second)
			require.NoError(t, h.Extend(ctx, 2*time.Second))
		}
		_, err = l.TryLock(ctx)
		require.ErrorIs(t, err, ErrLocked)
		require.NoError(t, h.Extend(ctx, 0), "0 means the Lock's TTL")
		require.NoError(t, h.Unlock(ctx))
		_, err = l.TryLock(ctx)
		require.NoError(t, err)
	})
}

func TestLockWaitsAndHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemory(MemoryOptions{})
		l := NewLock(store, "job", LockConfig{TTL: time.Minute, Rand: func() float64 { return 0.5 }})
		h, err := l.TryLock(context.Background())
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err = l.Lock(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 3*time.Second, time.Since(start))

		// Released after 2s: the waiter gets it within one poll (≤ MaxPoll).
		go func() {
			time.Sleep(2 * time.Second)
			assert.NoError(t, h.Unlock(context.Background()))
		}()
		start = time.Now()
		h2, err := l.Lock(context.Background())
		require.NoError(t, err)
		waited := time.Since(start)
		assert.GreaterOrEqual(t, waited, 2*time.Second)
		assert.LessOrEqual(t, waited, 2*time.Second+100*time.Millisecond)
		require.NoError(t, h2.Unlock(context.Background()))
	})
}

func TestLockBadInput(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	for _, key := range []string{"", "has space", string(make([]byte, 251))} {
		t.Run(fmt.Sprintf("key=%.8q", key), func(t *testing.T) {
			_, err := NewLock(store, key, LockConfig{}).TryLock(ctx)
			require.ErrorIs(t, err, ErrInvalidKey)
			_, err = NewLock(store, key, LockConfig{}).Lock(ctx)
			require.ErrorIs(t, err, ErrInvalidKey)
		})
	}
	assert.PanicsWithValue(t, "cachestruct: NewLock with a nil Store", func() { NewLock(nil, "k", LockConfig{}) })
	assert.PanicsWithValue(t, "cachestruct: NewLock with a negative duration", func() { NewLock(store, "k", LockConfig{TTL: -1}) })
}

func TestJitter(t *testing.T) {
	tests := []struct {
		r    float64
		want time.Duration
	}{{0, 50 * time.Millisecond}, {0.5, 100 * time.Millisecond}, {0.999, 149900 * time.Microsecond}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.r), func(t *testing.T) {
			assert.Equal(t, tt.want, jitter(100*time.Millisecond, func() float64 { return tt.r }))
		})
	}
}

func BenchmarkLockUnlock(b *testing.B) {
	for _, fencing := range []bool{false, true} {
		for _, g := range []int{1, 8} {
			b.Run(fmt.Sprintf("fencing=%t/keys=%d", fencing, g), func(b *testing.B) {
				ctx := context.Background()
				store := NewMemory(MemoryOptions{})
				locks := make([]*Lock, g)
				for i := range locks {
					locks[i] = NewLock(store, fmt.Sprintf("lock%d", i), LockConfig{Owner: "bench", Fencing: fencing})
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					h, err := locks[i%g].TryLock(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if err := h.Unlock(ctx); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
