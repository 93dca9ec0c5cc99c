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

// ListOptions are the options of List, Gather and First. The zero value
// waits for every input, consumes the inputs' errors and cancels nothing.
type ListOptions struct {
	// FireOnOneErrback fails the List (or First) with a *FirstError as
	// soon as one input fails, without waiting for the others (Twisted's
	// fireOnOneErrback). Gather always does.
	FireOnOneErrback bool

	// KeepErrors leaves each input's error in place for the callbacks
	// added to that input after the call, as Twisted does by default
	// (consumeErrors=False). By default the error is consumed: those
	// callbacks see the zero value and no error, and the error is not
	// reported as unhandled. Consuming is the Go default because the
	// caller reads the errors from the collective result (an Outcome's
	// Err, a *FirstError): in Twisted the default makes every input that
	// failed log "Unhandled error in Deferred" again at garbage collection
	// even though its error was handled through the list, which is why
	// Twisted added consumeErrors. With consuming on, errors that arrive
	// after a Gather (or a List with FireOnOneErrback) has failed are
	// dropped, as they are in Twisted with consumeErrors=True.
	KeepErrors bool

	// CancelOnError cancels every other input as soon as one input fails,
	// as errgroup.WithContext cancels its context on the first error: the
	// work whose result can no longer matter is told to stop. The
	// cancellations run on the goroutine that delivered the failure,
	// before the result fires (they may complete the List themselves).
	CancelOnError bool
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

// cancelAll is the canceller of the Deferred List, Gather, First and Race
// return: it cancels every input with the cause.
func cancelAll[T any](ds []*Deferred[T], cause error) {
	for _, d := range ds {
		d.CancelCause(cause)
	}
}

// List collects the outcomes of ds (Twisted's DeferredList). By default the
// returned Deferred fires, once every input has a result, with one Outcome
// per input in input order; ListOptions changes when it fires, whether the
// inputs' errors are consumed and whether the first failure cancels the
// other inputs. List adds a pair to each input's chain: callbacks added to
// an input before List see (and may change) what List gets; callbacks added
// after see the result passed through (errors consumed unless KeepErrors).
//
// Cancelling the returned Deferred before it fired cancels every input;
// the List then fires as their outcomes dictate and never fails with
// ErrCancelled of its own (Twisted's DeferredList.cancel), so an input that
// is paused, or whose canceller does not fire it, keeps the List waiting
// until it has a result. With no inputs, List fires at once with an empty
// slice. Inputs may be fired from any goroutines; the List fires on the
// goroutine that delivers the deciding outcome. List starts no goroutine.
func List[T any](ds []*Deferred[T], opts ListOptions) *Deferred[[]Outcome[T]] {
	ds = append([]*Deferred[T](nil), ds...)
	if len(ds) == 0 {
		return Succeed([]Outcome[T]{})
	}
	s := &listState[T]{opts: opts, ds: ds, results: make([]Outcome[T], len(ds))}
	s.out = newForwarding[[]Outcome[T]](func(cause error) { cancelAll(ds, cause) })
	attach(ds, s)
	return s.out
}

type listState[T any] struct {
	opts     ListOptions
	ds       []*Deferred[T]
	out      *Deferred[[]Outcome[T]]
	mu       sync.Mutex
	results  []Outcome[T]
	finished int
	fired    bool
	failed   bool
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
		case err != nil && s.opts.FireOnOneErrback:
			fire, ferr = true, &FirstError{Index: i, Err: err}
		case s.finished == len(s.results):
			fire, result = true, s.results
		}
		s.fired = fire
	}
	firstFailure := err != nil && !s.failed
	s.failed = s.failed || err != nil
	s.mu.Unlock()
	if firstFailure && s.opts.CancelOnError {
		cancelOthers(s.ds, i)
	}
	if fire {
		if ferr != nil {
			_ = s.out.Errback(ferr)
		} else {
			_ = s.out.Callback(result)
		}
	}
	return passOn(v, err, s.opts)
}

// passOn is what an input's chain continues with after List, Gather or
// First took its outcome: the outcome itself, or, for an error consumed
// (the default), the zero value and no error.
func passOn[T any](v T, err error, opts ListOptions) (T, error) {
	if err != nil && !opts.KeepErrors {
		var zero T
		return zero, nil
	}
	return v, err
}

// cancelOthers cancels every input but the i-th (CancelOnError).
func cancelOthers[T any](ds []*Deferred[T], i int) {
	for j, d := range ds {
		if j != i {
			d.Cancel()
		}
	}
}

// Gather collects the values of ds in input order (Twisted's
// gatherResults): the returned Deferred fires with every value once all
// inputs succeeded, or fails with a *FirstError (which unwraps to the
// input's error) as soon as one input fails. Of opts, KeepErrors and
// CancelOnError apply as in List; FireOnOneErrback is implied. By default,
// then, the inputs' errors are consumed, so an input whose error the
// Gather reported is not reported again as unhandled; with CancelOnError
// the first failure cancels the other inputs, as errgroup.WithContext
// does. Cancelling the returned Deferred cancels every input and, as with
// List, lets their outcomes decide: typically the first input to fail with
// ErrCancelled fails the Gather with a *FirstError. With no inputs it fires
// at once with an empty slice. Gather starts no goroutine: each input's
// outcome is recorded on the goroutine that fires it, and the last (or the
// failing) one fires the result.
func Gather[T any](ds []*Deferred[T], opts ListOptions) *Deferred[[]T] {
	ds = append([]*Deferred[T](nil), ds...)
	if len(ds) == 0 {
		return Succeed([]T{})
	}
	s := &gatherState[T]{opts: opts, ds: ds, values: make([]T, len(ds))}
	s.left.Store(int64(len(ds)))
	s.out = newForwarding[[]T](func(cause error) { cancelAll(ds, cause) })
	attach(ds, s)
	return s.out
}

// gatherState collects with atomics rather than a mutex: each input writes
// only its own slot before decrementing left, and the input that brings left
// to zero is synchronized after every other decrement (and so sees every
// slot), per the Go memory model for sync/atomic.
type gatherState[T any] struct {
	opts   ListOptions
	ds     []*Deferred[T]
	out    *Deferred[[]T]
	values []T
	left   atomic.Int64
	fired  atomic.Bool
}

func (s *gatherState[T]) arrive(i int, v T, err error) (T, error) {
	if err != nil {
		if s.fired.CompareAndSwap(false, true) {
			if s.opts.CancelOnError {
				cancelOthers(s.ds, i)
			}
			_ = s.out.Errback(&FirstError{Index: i, Err: err})
		}
		s.left.Add(-1)
		return passOn(v, err, s.opts)
	}
	s.values[i] = v
	if s.left.Add(-1) == 0 && s.fired.CompareAndSwap(false, true) {
		_ = s.out.Callback(s.values)
	}
	return v, nil
}

// First fires with the first input to succeed, as an Outcome holding its
// Index and Value (Twisted's DeferredList with fireOnOneCallback, whose
// result is the pair (result, index)). Unlike Race it leaves the other
// inputs alone. If every input fails, First fails with a *RaceError holding
// every error in input order (Twisted's DeferredList fires with the list of
// failures instead, a result of another type); with FireOnOneErrback it fails with a
// *FirstError at the first failure instead. KeepErrors and CancelOnError
// apply as in List. Cancelling the returned Deferred cancels every input
// and lets their outcomes decide, as with List. With no inputs First fails
// at once with an empty *RaceError (Twisted never fires). First starts no
// goroutine.
func First[T any](ds []*Deferred[T], opts ListOptions) *Deferred[Outcome[T]] {
	ds = append([]*Deferred[T](nil), ds...)
	if len(ds) == 0 {
		return Fail[Outcome[T]](&RaceError{})
	}
	s := &firstState[T]{opts: opts, ds: ds, errs: make([]error, len(ds))}
	s.out = newForwarding[Outcome[T]](func(cause error) { cancelAll(ds, cause) })
	attach(ds, s)
	return s.out
}

type firstState[T any] struct {
	opts   ListOptions
	ds     []*Deferred[T]
	out    *Deferred[Outcome[T]]
	mu     sync.Mutex
	errs   []error
	failed int
	fired  bool
}

func (s *firstState[T]) arrive(i int, v T, err error) (T, error) {
	s.mu.Lock()
	var (
		fire bool
		win  Outcome[T]
		ferr error
	)
	if err != nil {
		s.errs[i] = err
		s.failed++
	}
	firstFailure := err != nil && s.failed == 1
	if !s.fired {
		switch {
		case err == nil:
			fire, win = true, Outcome[T]{Index: i, Value: v}
		case s.opts.FireOnOneErrback:
			fire, ferr = true, &FirstError{Index: i, Err: err}
		case s.failed == len(s.ds):
			fire, ferr = true, &RaceError{Errs: s.errs}
		}
		s.fired = fire
	}
	s.mu.Unlock()
	if firstFailure && s.opts.CancelOnError {
		cancelOthers(s.ds, i)
	}
	if fire {
		if ferr != nil {
			_ = s.out.Errback(ferr)
		} else {
			_ = s.out.Callback(win)
		}
	}
	return passOn(v, err, s.opts)
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
	s.out = NewWithCanceller(func(d *Deferred[Outcome[T]]) { cancelAll(ds, CancelCauseOf(d)) })
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
