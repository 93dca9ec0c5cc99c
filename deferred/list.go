package deferred

import (
	"sync"
	"sync/atomic"
)

// Outcome is the outcome of one input Deferred of List or Race.
type Outcome[T any] struct {
	// Index is the position of the input in the slice given to List or Race.
	Index int
	// Value is the input's result; the zero value when Err is not nil.
	Value T
	// Err is the input's error, nil on success.
	Err error
}

// ListOptions are the flags of List (Twisted's DeferredList keywords). The
// zero value waits for every input and leaves their errors in place.
type ListOptions struct {
	// FireOnOneCallback fires the List with the first success alone, as a
	// one-element slice, without waiting for the other inputs. If every
	// input fails, the List fires with all outcomes as usual.
	FireOnOneCallback bool
	// FireOnOneErrback fails the List with a *FirstError as soon as one input
	// fails.
	FireOnOneErrback bool
	// ConsumeErrors turns each input's error into a zero-value success for
	// the callbacks added to that input after List was called, so that the
	// errors, already reported by the List, are not reported as unhandled.
	ConsumeErrors bool
}

// collector receives the outcomes of the inputs of List, Gather and Race.
type collector[T any] interface {
	arrive(i int, v T, err error) (T, error)
}

// member is the link List, Gather and Race add to each input: one allocation
// for all inputs instead of a closure per input.
type member[T any] struct {
	c collector[T]
	i int
}

func (m *member[T]) arrive(v T, err error) (T, error) { return m.c.arrive(m.i, v, err) }

// attach adds a member link for c to each input.
func attach[T any](ds []*Deferred[T], c collector[T]) {
	ms := make([]member[T], len(ds))
	for i, d := range ds {
		ms[i] = member[T]{c: c, i: i}
		d.add(link[T]{&ms[i]})
	}
}

// cancelAll is the canceller of the Deferred List, Gather and Race return:
// it cancels every input.
func cancelAll[T any](ds []*Deferred[T]) {
	for _, d := range ds {
		d.Cancel()
	}
}

// List collects the outcomes of ds (Twisted's DeferredList). By default the
// returned Deferred fires, once every input has a result, with one Outcome
// per input in input order; ListOptions changes when it fires. List adds a
// pair to each input's chain: callbacks added to an input before List see
// (and may change) what List gets; callbacks added after see the result
// passed through, errors included unless ConsumeErrors is set.
//
// Cancelling the returned Deferred before it fired cancels every input;
// the List then fires as their outcomes dictate and never fails with
// ErrCancelled of its own (Twisted's DeferredList.cancel), so an input that
// is paused, or whose canceller does not fire it, keeps the List waiting
// until it has a result. With no inputs, List fires at
// once with an empty slice (Twisted never fires an empty FireOnOneCallback
// list; here nothing is left to wait for). Inputs may be fired from any
// goroutines; the List fires on the goroutine that delivers the deciding
// outcome. List starts no goroutine.
func List[T any](ds []*Deferred[T], opts ListOptions) *Deferred[[]Outcome[T]] {
	ds = append([]*Deferred[T](nil), ds...)
	if len(ds) == 0 {
		return Succeed([]Outcome[T]{})
	}
	s := &listState[T]{opts: opts, results: make([]Outcome[T], len(ds))}
	s.out = newForwarding[[]Outcome[T]](func() { cancelAll(ds) })
	attach(ds, s)
	return s.out
}

type listState[T any] struct {
	opts     ListOptions
	out      *Deferred[[]Outcome[T]]
	mu       sync.Mutex
	results  []Outcome[T]
	finished int
	fired    bool
}

func (s *listState[T]) arrive(i int, v T, err error) (T, error) {
	s.mu.Lock()
	s.results[i] = Outcome[T]{Index: i, Value: v, Err: err}
	s.finished++
	var (
		fire   bool
		result []Outcome[T]
		ferr   error
	)
	if !s.fired {
		switch {
		case err == nil && s.opts.FireOnOneCallback:
			fire, result = true, []Outcome[T]{s.results[i]}
		case err != nil && s.opts.FireOnOneErrback:
			fire, ferr = true, &FirstError{Index: i, Err: err}
		case s.finished == len(s.results):
			fire, result = true, s.results
		}
		s.fired = fire
	}
	s.mu.Unlock()
	if fire {
		if ferr != nil {
			_ = s.out.Errback(ferr)
		} else {
			_ = s.out.Callback(result)
		}
	}
	if err != nil && s.opts.ConsumeErrors {
		var zero T
		return zero, nil
	}
	return v, err
}

// Gather collects the values of ds in input order (Twisted's
// gatherResults): the returned Deferred fires with every value once all
// inputs succeeded, or fails with a *FirstError (which unwraps to the
// input's error) as soon as one input fails. consumeErrors is
// ListOptions.ConsumeErrors. Cancelling the returned Deferred cancels every
// input and, as with List, lets their outcomes decide: typically the first
// input to fail with ErrCancelled fails the Gather with a *FirstError. With no inputs it fires at once with an empty slice. Gather starts
// no goroutine: each input's outcome is recorded on the goroutine that fires
// it, and the last (or the failing) one fires the result.
func Gather[T any](ds []*Deferred[T], consumeErrors bool) *Deferred[[]T] {
	ds = append([]*Deferred[T](nil), ds...)
	if len(ds) == 0 {
		return Succeed([]T{})
	}
	s := &gatherState[T]{consume: consumeErrors, values: make([]T, len(ds))}
	s.left.Store(int64(len(ds)))
	s.out = newForwarding[[]T](func() { cancelAll(ds) })
	attach(ds, s)
	return s.out
}

// gatherState collects with atomics rather than a mutex: each input writes
// only its own slot before decrementing left, and the input that brings left
// to zero is synchronized after every other decrement (and so sees every
// slot), per the Go memory model for sync/atomic.
type gatherState[T any] struct {
	consume bool
	out     *Deferred[[]T]
	values  []T
	left    atomic.Int64
	fired   atomic.Bool
}

func (s *gatherState[T]) arrive(i int, v T, err error) (T, error) {
	if err != nil {
		if s.fired.CompareAndSwap(false, true) {
			_ = s.out.Errback(&FirstError{Index: i, Err: err})
		}
		s.left.Add(-1)
		if s.consume {
			var zero T
			return zero, nil
		}
		return v, err
	}
	s.values[i] = v
	if s.left.Add(-1) == 0 && s.fired.CompareAndSwap(false, true) {
		_ = s.out.Callback(s.values)
	}
	return v, nil
}

// Race fires with the first success among ds (Twisted's race): an Outcome
// holding the winner's Index and Value. The other inputs are then
// cancelled. If every input fails, Race fails with a *RaceError holding
// every error in input order. The inputs' own results are consumed: after
// Race, their callbacks see the zero value and no error, so losers'
// cancellation errors are never reported as unhandled. Cancelling the
// returned Deferred cancels every input. With no inputs Race fails at once
// with an empty *RaceError (Twisted never fires). Race starts no goroutine.
func Race[T any](ds []*Deferred[T]) *Deferred[Outcome[T]] {
	ds = append([]*Deferred[T](nil), ds...)
	if len(ds) == 0 {
		return Fail[Outcome[T]](&RaceError{})
	}
	s := &raceState[T]{ds: ds, winner: -1, errs: make([]error, len(ds))}
	s.out = NewWithCanceller(func(*Deferred[Outcome[T]]) { cancelAll(ds) })
	attach(ds, s)
	return s.out
}

type raceState[T any] struct {
	ds     []*Deferred[T]
	out    *Deferred[Outcome[T]]
	mu     sync.Mutex
	winner int
	errs   []error
	failed int
}

func (s *raceState[T]) arrive(i int, v T, err error) (T, error) {
	var zero T
	s.mu.Lock()
	if err != nil {
		s.errs[i] = err
		s.failed++
		all := s.failed == len(s.ds)
		s.mu.Unlock()
		if all {
			_ = s.out.Errback(&RaceError{Errs: s.errs})
		}
		return zero, nil
	}
	if s.winner >= 0 {
		s.mu.Unlock()
		return zero, nil // a later success (a canceller that succeeded) goes nowhere
	}
	s.winner = i
	s.mu.Unlock()
	for j, d := range s.ds {
		if j != i {
			d.Cancel()
		}
	}
	_ = s.out.Callback(Outcome[T]{Index: i, Value: v})
	return zero, nil
}
