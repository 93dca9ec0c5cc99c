package deferred

import "sync"

// Unlimited, as a size or backlog of NewQueue, means no limit.
const Unlimited = -1

// Queue is a FIFO of values whose Get returns a Deferred (Twisted's
// DeferredQueue): it fires at once when a value is pending, else with the
// value of a later Put. Create it with NewQueue. It is safe for concurrent
// use by multiple goroutines.
type Queue[T any] struct {
	mu      sync.Mutex
	size    int
	backlog int
	pending []T
	waiting waitList[T]
}

// NewQueue returns a Queue holding at most size pending values and at most
// backlog waiting Gets; Unlimited (or any negative number) means no limit.
func NewQueue[T any](size, backlog int) *Queue[T] {
	return &Queue[T]{size: size, backlog: backlog}
}

// Put hands v to the oldest waiting Get, whose callbacks run on the calling
// goroutine before Put returns, or keeps it pending. It returns
// ErrQueueOverflow, keeping nothing, when nobody waits and size values are
// already pending.
func (q *Queue[T]) Put(v T) error {
	q.mu.Lock()
	for len(q.waiting) > 0 {
		d := q.waiting.popFront()
		q.mu.Unlock()
		// ErrAlreadyCalled: that Get was cancelled meanwhile; try the next.
		if d.Callback(v) == nil {
			return nil
		}
		q.mu.Lock()
	}
	defer q.mu.Unlock()
	if q.size >= 0 && len(q.pending) >= q.size {
		return ErrQueueOverflow
	}
	q.pending = append(q.pending, v)
	return nil
}

// Get returns a Deferred that fires with the oldest pending value (at once)
// or with the value of a later Put. It returns ErrQueueUnderflow when no
// value is pending and backlog Gets are already waiting. Cancelling a
// waiting Get removes it, so no value is lost to it.
func (q *Queue[T]) Get() (*Deferred[T], error) {
	q.mu.Lock()
	if len(q.pending) > 0 {
		v := q.pending[0]
		var zero T
		q.pending[0] = zero
		q.pending = q.pending[1:]
		q.mu.Unlock()
		return Succeed(v), nil
	}
	defer q.mu.Unlock()
	if q.backlog >= 0 && len(q.waiting) >= q.backlog {
		return nil, ErrQueueUnderflow
	}
	d := NewWithCanceller(q.cancelGet)
	q.waiting = append(q.waiting, d)
	return d, nil
}

func (q *Queue[T]) cancelGet(d *Deferred[T]) {
	q.mu.Lock()
	q.waiting.remove(d)
	q.mu.Unlock()
}

// Len reports the number of pending values.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Waiting reports the number of waiting Gets.
func (q *Queue[T]) Waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}
