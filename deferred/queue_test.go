package deferred

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// getInto gets from q and appends the value to *gotten when it arrives.
func getInto(t *testing.T, q *Queue[int], gotten *[]int) {
	t.Helper()
	d, err := q.Get()
	require.NoError(t, err)
	d.AddCallback(func(v int) (int, error) { *gotten = append(*gotten, v); return v, nil })
}

func TestQueue(t *testing.T) {
	const n, m = 2, 2
	q := NewQueue[int](n, m)
	var gotten []int
	for range m {
		getInto(t, q, &gotten)
	}
	_, err := q.Get()
	assert.ErrorIs(t, err, ErrQueueUnderflow)
	assert.Equal(t, m, q.Waiting())
	for i := range m {
		require.NoError(t, q.Put(i))
		assert.Equal(t, seq(0, i+1), gotten)
	}
	for i := range n {
		require.NoError(t, q.Put(n+i))
		assert.Equal(t, seq(0, m), gotten)
	}
	assert.ErrorIs(t, q.Put(99), ErrQueueOverflow)
	assert.Equal(t, n, q.Len())
	gotten = nil
	for i := range n {
		getInto(t, q, &gotten)
		assert.Equal(t, seq(n, n+i+1), gotten)
	}

	q = NewQueue[int](Unlimited, Unlimited)
	gotten = nil
	for range n {
		getInto(t, q, &gotten)
	}
	for i := range n {
		require.NoError(t, q.Put(i))
	}
	assert.Equal(t, seq(0, n), gotten)

	assert.ErrorIs(t, NewQueue[int](0, Unlimited).Put(1), ErrQueueOverflow)
	_, err = NewQueue[int](Unlimited, 0).Get()
	assert.ErrorIs(t, err, ErrQueueUnderflow)
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestCancelQueueAfterSynchronousGet(t *testing.T) {
	q := NewQueue[int](Unlimited, Unlimited)
	d, err := q.Get()
	require.NoError(t, err)
	d.AddErrback(func(err error) (int, error) { t.Error("unexpected errback", err); return 0, err })
	require.NoError(t, q.Put(1))
	d.Cancel()
}

func TestCancelQueueAfterGet(t *testing.T) {
	q := NewQueue[int](Unlimited, Unlimited)
	d, err := q.Get()
	require.NoError(t, err)
	d.Cancel()
	_, err = resultOf(t, d)
	assert.ErrorIs(t, err, ErrCancelled)
	assert.Zero(t, q.Waiting(), "the cancelled Get was removed")
	require.NoError(t, q.Put(1))
	assert.Equal(t, 1, q.Len(), "the value was not lost to the cancelled Get")
	d2, err := q.Get()
	require.NoError(t, err)
	v, err := resultOf(t, d2)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
}
