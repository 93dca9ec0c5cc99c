package deferred

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLockRun ports the run part of Twisted's testLock: the lock is held
// until the Deferred returned by the function fires.
func TestLockRun(t *testing.T) {
	var lock Lock
	control := New[string]()
	var got string
	result := Run(&lock, func() (*Deferred[string], error) {
		got = "first"
		return control, nil
	})
	assert.True(t, lock.Locked())
	assert.Equal(t, "first", got)

	counter := 0
	lock.Acquire().AddCallback(func(l *Lock) (*Lock, error) { counter++; return l, nil })
	assert.Zero(t, counter, "waits for the run to finish")

	require.NoError(t, control.Callback("second"))
	v, err := resultOf(t, result)
	require.NoError(t, err)
	assert.Equal(t, "second", v)
	assert.Equal(t, 1, counter, "released to the waiter")
	assert.True(t, lock.Locked())
	lock.Release()
	assert.False(t, lock.Locked())
}

// TestSemaphoreRun ports the run part of Twisted's testSemaphore.
func TestSemaphoreRun(t *testing.T) {
	sem := NewSemaphore(13)
	control := New[int]()
	result := Run(sem, func() (*Deferred[int], error) { return control, nil })
	assert.Equal(t, 12, sem.Tokens())
	requireNoResult(t, result)
	require.NoError(t, control.Callback(7))
	v, err := resultOf(t, result)
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	assert.Equal(t, 13, sem.Tokens())
}

func TestRunReleasesOnFailure(t *testing.T) {
	tests := []struct {
		name string
		f    func() (*Deferred[int], error)
		want error
	}{
		{"error", func() (*Deferred[int], error) { return nil, errGeneric }, errGeneric},
		{"nil Deferred", func() (*Deferred[int], error) { return nil, nil }, ErrNilDeferred},
		{"failed Deferred", func() (*Deferred[int], error) { return Fail[int](errGeneric), nil }, errGeneric},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lock Lock
			_, err := resultOf(t, Run(&lock, tt.f))
			assert.ErrorIs(t, err, tt.want)
			assert.False(t, lock.Locked())
		})
	}
	t.Run("panic", func(t *testing.T) {
		var lock Lock
		_, err := resultOf(t, Run(&lock, func() (*Deferred[int], error) { panic("run") }))
		var pe *PanicError
		assert.ErrorAs(t, err, &pe)
		assert.False(t, lock.Locked())
	})
	assert.Panics(t, func() { Run[int](&Lock{}, nil) })
}

func TestRunCancelWhileWaiting(t *testing.T) {
	var lock Lock
	lock.Acquire()
	called := false
	r := Run(&lock, func() (*Deferred[int], error) { called = true; return Succeed(1), nil })
	r.Cancel()
	_, err := resultOf(t, r)
	assert.ErrorIs(t, err, ErrCancelled)
	lock.Release()
	assert.False(t, called, "the withdrawn run never happens")
	assert.False(t, lock.Locked())
}

func TestRunCancelWhileRunning(t *testing.T) {
	var lock Lock
	inner := New[int]()
	r := Run(&lock, func() (*Deferred[int], error) { return inner, nil })
	r.Cancel()
	_, err := resultOf(t, r)
	assert.ErrorIs(t, err, ErrCancelled)
	_, err = resultOf(t, inner)
	assert.NoError(t, err, "inner was cancelled and its error handed to the Run Deferred")
	assert.False(t, lock.Locked(), "released when inner failed")
}

// TestRunConcurrent runs many jobs through a two-token Semaphore from many
// goroutines; their Deferreds fire on yet other goroutines.
func TestRunConcurrent(t *testing.T) {
	sem := NewSemaphore(2)
	var mu sync.Mutex
	inside, most := 0, 0
	const jobs = 200
	results := make([]*Deferred[int], jobs)
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Go(func() {
			results[i] = Run(sem, func() (*Deferred[int], error) {
				mu.Lock()
				inside++
				most = max(most, inside)
				mu.Unlock()
				return Go(t.Context(), func(context.Context) (int, error) {
					mu.Lock()
					inside--
					mu.Unlock()
					return i, nil
				}), nil
			})
		})
	}
	wg.Wait()
	for i, d := range results {
		v, err := d.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, i, v)
	}
	assert.LessOrEqual(t, most, 2)
	assert.Equal(t, 2, sem.Tokens())
}
