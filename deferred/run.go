package deferred

import (
	"runtime/debug"
	"sync"
)

// Locker is what Run acquires and releases: *Lock and *Semaphore implement
// it (its unexported method keeps other implementations out).
type Locker interface {
	// Release gives back what was acquired.
	Release()
	// acquireThen calls f with nil once acquired, or with the error the
	// acquisition failed with (ErrCancelled), and returns a function that
	// cancels a pending acquisition.
	acquireThen(f func(error)) (cancel func())
}

func (l *Lock) acquireThen(f func(error)) func() {
	d := l.Acquire()
	d.AddBoth(func(_ *Lock, err error) (*Lock, error) {
		f(err)
		return l, nil
	})
	return d.Cancel
}

func (s *Semaphore) acquireThen(f func(error)) func() {
	d := s.Acquire()
	d.AddBoth(func(_ *Semaphore, err error) (*Semaphore, error) {
		f(err)
		return s, nil
	})
	return d.Cancel
}

// Run acquires l, then calls f and releases l once the Deferred f returned
// has a result, which the returned Deferred then fires with (Twisted's
// DeferredLock.run and DeferredSemaphore.run). f runs on the goroutine
// that hands l over (the Run caller when l is free, else the one that calls
// Release). If f returns an error, a nil Deferred (ErrNilDeferred) or
// panics (*PanicError), l is released at once and the returned Deferred
// fails. Cancelling the returned Deferred while it waits for l withdraws
// from the wait (it fails with ErrCancelled); once f has run, it cancels
// f's Deferred. Run panics if f is nil.
func Run[T any](l Locker, f func() (*Deferred[T], error)) *Deferred[T] {
	if f == nil {
		panic("deferred: Run with a nil function")
	}
	var (
		mu            sync.Mutex
		cancelAcquire func()
		inner         *Deferred[T]
	)
	out := NewWithCanceller(func(*Deferred[T]) {
		mu.Lock()
		ca, in := cancelAcquire, inner
		mu.Unlock()
		if in != nil {
			in.Cancel()
		} else if ca != nil {
			ca()
		}
	})
	ca := l.acquireThen(func(err error) {
		if err != nil {
			_ = out.Errback(err)
			return
		}
		d, err := callRun(f)
		if err != nil {
			l.Release()
			_ = out.Errback(err)
			return
		}
		mu.Lock()
		inner = d
		mu.Unlock()
		d.AddBoth(func(v T, err error) (T, error) {
			l.Release()
			if err != nil {
				_ = out.Errback(err)
			} else {
				_ = out.Callback(v)
			}
			var zero T
			return zero, nil // handed over to out
		})
	})
	mu.Lock()
	cancelAcquire = ca
	mu.Unlock()
	return out
}

// callRun calls f, turning a panic into a *PanicError and a nil Deferred
// into ErrNilDeferred.
func callRun[T any](f func() (*Deferred[T], error)) (d *Deferred[T], err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	d, err = f()
	if err == nil && d == nil {
		err = ErrNilDeferred
	}
	return d, err
}
