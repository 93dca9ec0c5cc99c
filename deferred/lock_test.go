package deferred

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLock(t *testing.T) {
	var lock Lock
	counter := 0
	incr := func(l *Lock) (*Lock, error) { counter++; return l, nil }

	lock.Acquire().AddCallback(incr)
	assert.True(t, lock.Locked())
	assert.Equal(t, 1, counter)

	lock.Acquire().AddCallback(incr)
	assert.True(t, lock.Locked())
	assert.Equal(t, 1, counter, "the second Acquire waits")

	lock.Release()
	assert.True(t, lock.Locked(), "handed to the waiter")
	assert.Equal(t, 2, counter)

	lock.Release()
	assert.False(t, lock.Locked())
	assert.Equal(t, 2, counter)

	lock.Acquire()
	var seen error
	d := lock.Acquire().AddBoth(func(l *Lock, err error) (*Lock, error) { seen = err; return l, nil })
	d.Cancel()
	assert.ErrorIs(t, seen, ErrCancelled)
	lock.Release()
	assert.False(t, lock.Locked(), "the cancelled waiter was removed")
	assert.Panics(t, lock.Release, "releasing an unlocked Lock is a programming error")
}

func TestCancelLockAfterAcquired(t *testing.T) {
	var lock Lock
	d := lock.Acquire()
	d.AddErrback(func(err error) (*Lock, error) { t.Error("unexpected errback", err); return nil, err })
	d.Cancel()
	assert.True(t, lock.Locked())
}

func TestCancelLockBeforeAcquired(t *testing.T) {
	var lock Lock
	lock.Acquire()
	d := lock.Acquire()
	d.Cancel()
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, ErrCancelled)
}

// TestLockConcurrent has goroutines take the lock through Deferreds and
// checks mutual exclusion and that cancelled waiters never hold it.
func TestLockConcurrent(t *testing.T) {
	var lock Lock
	var inside, max atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				d := lock.Acquire()
				if (i+j)%5 == 0 {
					d.Cancel()
				}
				if _, err := d.Wait(t.Context()); err != nil {
					require.ErrorIs(t, err, ErrCancelled)
					continue
				}
				n := inside.Add(1)
				if n > max.Load() {
					max.Store(n)
				}
				inside.Add(-1)
				lock.Release()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), max.Load())
	assert.False(t, lock.Locked())
}

func TestSemaphore(t *testing.T) {
	const n = 13
	sem := NewSemaphore(n)
	assert.Equal(t, n, sem.Limit())
	counter := 0
	incr := func(s *Semaphore) (*Semaphore, error) { counter++; return s, nil }
	for i := 1; i <= n; i++ {
		sem.Acquire().AddCallback(incr)
		assert.Equal(t, i, counter)
	}
	assert.Zero(t, sem.Tokens())

	var success []bool
	d := sem.Acquire().AddCallbacks(
		func(s *Semaphore) (*Semaphore, error) { success = append(success, false); return s, nil },
		func(error) (*Semaphore, error) { success = append(success, true); return nil, nil },
	)
	d.Cancel()
	assert.Equal(t, []bool{true}, success)

	sem.Acquire().AddCallback(incr)
	assert.Equal(t, n, counter)
	sem.Release()
	assert.Equal(t, n+1, counter)
	for range n {
		sem.Release()
		assert.Equal(t, n+1, counter)
	}
	assert.Equal(t, n, sem.Tokens())
	assert.Panics(t, sem.Release)
}

func TestSemaphoreInvalidTokens(t *testing.T) {
	assert.Panics(t, func() { NewSemaphore(0) })
	assert.Panics(t, func() { NewSemaphore(-1) })
}

func TestCancelSemaphoreAfterAcquired(t *testing.T) {
	sem := NewSemaphore(1)
	d := sem.Acquire()
	d.AddErrback(func(err error) (*Semaphore, error) { t.Error("unexpected errback", err); return nil, err })
	d.Cancel()
	assert.Zero(t, sem.Tokens())
}

func TestCancelSemaphoreBeforeAcquired(t *testing.T) {
	sem := NewSemaphore(1)
	sem.Acquire()
	d := sem.Acquire()
	d.Cancel()
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, ErrCancelled)
	sem.Release()
	assert.Equal(t, 1, sem.Tokens(), "the cancelled waiter did not take the token")
}
