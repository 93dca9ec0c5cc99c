package deferred

import (
	"slices"
	"sync"
)

// waitList is a FIFO of Deferreds waiting to acquire something.
type waitList[T any] []*Deferred[T]

// remove drops d if present (a cancelled wait).
func (w *waitList[T]) remove(d *Deferred[T]) {
	if i := slices.Index(*w, d); i >= 0 {
		*w = slices.Delete(*w, i, i+1)
	}
}

// popFront removes and returns the first waiter.
func (w *waitList[T]) popFront() *Deferred[T] {
	d := (*w)[0]
	(*w)[0] = nil
	*w = (*w)[1:]
	return d
}

// Lock is a mutual-exclusion lock whose Acquire returns a Deferred
// (Twisted's DeferredLock) instead of blocking. The zero value is an
// unlocked Lock. It is safe for concurrent use by multiple goroutines. A
// Lock must not be copied after first use.
type Lock struct {
	mu      sync.Mutex
	locked  bool
	waiting waitList[*Lock]
}

// Acquire returns a Deferred that fires with l when the lock is acquired:
// at once (inside Acquire) if l is unlocked, else when an earlier holder
// calls Release, waiters being served in order. Cancelling a Deferred that
// is still waiting removes it from the wait list and fails it with
// ErrCancelled; cancelling one that fired does nothing (the holder must
// still Release).
func (l *Lock) Acquire() *Deferred[*Lock] {
	d := NewWithCanceller(l.cancelAcquire)
	l.mu.Lock()
	if l.locked {
		l.waiting = append(l.waiting, d)
		l.mu.Unlock()
		return d
	}
	l.locked = true
	l.mu.Unlock()
	_ = d.Callback(l)
	return d
}

func (l *Lock) cancelAcquire(d *Deferred[*Lock]) {
	l.mu.Lock()
	l.waiting.remove(d)
	l.mu.Unlock()
}

// Release unlocks l, or hands it to the first waiter, whose callbacks run on
// the calling goroutine before Release returns. Releasing an unlocked Lock
// is a programming error and panics.
func (l *Lock) Release() {
	l.mu.Lock()
	if !l.locked {
		l.mu.Unlock()
		panic("deferred: Release of an unlocked Lock")
	}
	for len(l.waiting) > 0 {
		d := l.waiting.popFront()
		l.mu.Unlock()
		// ErrAlreadyCalled: the waiter was cancelled in the meantime;
		// hand the lock to the next one.
		if d.Callback(l) == nil {
			return
		}
		l.mu.Lock()
	}
	l.locked = false
	l.mu.Unlock()
}

// Locked reports whether l is held.
func (l *Lock) Locked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.locked
}

// Semaphore hands out up to a fixed number of tokens through Deferreds
// (Twisted's DeferredSemaphore). Create it with NewSemaphore. It is safe for
// concurrent use by multiple goroutines.
type Semaphore struct {
	mu      sync.Mutex
	tokens  int
	limit   int
	waiting waitList[*Semaphore]
}

// NewSemaphore returns a Semaphore with tokens tokens. tokens < 1 is a
// programming error and panics.
func NewSemaphore(tokens int) *Semaphore {
	if tokens < 1 {
		panic("deferred: NewSemaphore needs at least one token")
	}
	return &Semaphore{tokens: tokens, limit: tokens}
}

// Acquire returns a Deferred that fires with s when a token is taken: at
// once if one is free, else in order as holders Release. Cancelling a
// Deferred that is still waiting removes it from the wait list.
func (s *Semaphore) Acquire() *Deferred[*Semaphore] {
	d := NewWithCanceller(s.cancelAcquire)
	s.mu.Lock()
	if s.tokens == 0 {
		s.waiting = append(s.waiting, d)
		s.mu.Unlock()
		return d
	}
	s.tokens--
	s.mu.Unlock()
	_ = d.Callback(s)
	return d
}

func (s *Semaphore) cancelAcquire(d *Deferred[*Semaphore]) {
	s.mu.Lock()
	s.waiting.remove(d)
	s.mu.Unlock()
}

// Release returns a token, or hands it to the first waiter, whose callbacks
// run on the calling goroutine before Release returns. Releasing more tokens
// than were acquired is a programming error and panics.
func (s *Semaphore) Release() {
	s.mu.Lock()
	if s.tokens >= s.limit {
		s.mu.Unlock()
		panic("deferred: Release of a Semaphore with no token taken")
	}
	for len(s.waiting) > 0 {
		d := s.waiting.popFront()
		s.mu.Unlock()
		if d.Callback(s) == nil {
			return
		}
		s.mu.Lock()
	}
	s.tokens++
	s.mu.Unlock()
}

// Tokens reports how many tokens are free.
func (s *Semaphore) Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// Limit reports the number of tokens s was created with.
func (s *Semaphore) Limit() int { return s.limit }
