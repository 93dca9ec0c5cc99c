package deferred

import (
	"sync"
	"sync/atomic"
)

// Flag bits of Deferred.flags, all guarded by Deferred.mu.
const (
	// fFired: Callback or Errback has been called.
	fFired uint32 = 1 << iota
	// fRunning: some goroutine is running this Deferred's chain. It is a
	// baton: only its holder pops links and runs user code for this
	// Deferred; everybody else just deposits state and leaves.
	fRunning
	// fRested: the chain came to rest with a result once; Done is closed.
	// Whether it is at rest now is atRest's business.
	fRested
	// fSuppress: cancelled without a canceller; swallow one late fire.
	fSuppress
	// fCancelling: the canceller has been called (it is called once).
	fCancelling
	// fDelivered: an awaited inner Deferred handed its result over before
	// the runner that linked it had finished setting up the wait.
	fDelivered
	// fForward: the canceller only forwards the cancellation (to the
	// inputs of List and Gather); Cancel never fails the Deferred itself
	// and calls the canceller on every Cancel before it fired, as
	// Twisted's DeferredList.cancel does.
	fForward
)

// A link is one (callback, errback) pair of the chain, held as one value
// whose dynamic type says which path it serves: cbFunc and cbDefer run on
// the success path only, ebFunc and ebDefer on the error path only;
// bothFunc, bothDefer, *pair (the two members given to AddCallbacks), a
// *Deferred[T] (the continuation of a Deferred waiting on this one) and a
// *member[T] (an input of List, Gather or Race) serve both paths. On the
// path a link does not serve, the result passes through unchanged. One
// interface word per link keeps links at 16 bytes.
type link[T any] struct {
	fn any
}

// pair is the link of AddCallbacks with both members set.
type pair[T any] struct {
	cb cbFunc[T]
	eb ebFunc[T]
}

// The kinds of user functions a link holds. They are distinct named types
// so that a type switch tells them apart even when T is error.
type (
	cbFunc[T any]    func(T) (T, error)
	ebFunc[T any]    func(error) (T, error)
	bothFunc[T any]  func(T, error) (T, error)
	cbDefer[T any]   func(T) (*Deferred[T], error)
	ebDefer[T any]   func(error) (*Deferred[T], error)
	bothDefer[T any] func(T, error) (*Deferred[T], error)
)

// Deferred is a result of type T, or an error, that will be known later,
// together with a chain of callbacks that process it, as in Twisted.
//
// The zero value is a Deferred with no result and no canceller, ready to
// use; New returns the same but also records the creation site in debug
// mode. A Deferred must not be copied after first use. All methods are safe
// for concurrent use by multiple goroutines.
//
// Callbacks run synchronously on the goroutine that fires the Deferred
// (Callback, Errback, Cancel, Unpause, or the firing of an inner Deferred
// this one waits on) or, when the Deferred already has a result, on the
// goroutine calling the Add method, before it returns. The package
// documentation describes the model in full.
type Deferred[T any] struct {
	mu    sync.Mutex
	flags uint32
	// paused is written with mu held; the runner also reads it between
	// the callbacks of a batch, without mu.
	paused atomic.Int32
	result T
	err    error

	// q holds the pairs still to run: two inside the Deferred (a
	// Deferred of int is 128 bytes, one size class), more in a spill array
	// allocated when needed (see linkQueue).
	q linkQueue[T]

	// waiting is the inner Deferred this one waits on (implicit chaining),
	// set by the runner when it stops, cleared when the result comes back.
	waiting   *Deferred[T]
	canceller func(*Deferred[T])
	extra     *extra
}

// New returns a Deferred with no result yet and no canceller: cancelling it
// fails it with ErrCancelled and swallows the next Callback or Errback.
func New[T any]() *Deferred[T] {
	d := &Deferred[T]{}
	if debugging() {
		d.recordCreation()
	}
	return d
}

// NewWithCanceller returns a Deferred with no result yet whose Cancel calls
// canceller (once, with the Deferred) while it has no result. The canceller
// should stop the work that would produce the result and may fire the
// Deferred itself; if it does not, Cancel fails the Deferred with
// ErrCancelled. A nil canceller is the same as New.
func NewWithCanceller[T any](canceller func(*Deferred[T])) *Deferred[T] {
	d := New[T]()
	d.canceller = canceller
	return d
}

// newForwarding returns a Deferred whose Cancel only calls forward with
// the cancellation's cause (see fForward): it fires as forward's effects
// dictate, never with ErrCancelled of its own.
func newForwarding[T any](forward func(cause error)) *Deferred[T] {
	d := NewWithCanceller(func(d *Deferred[T]) { forward(CancelCauseOf(d)) })
	d.flags |= fForward
	return d
}

// Succeed returns a Deferred that already has the result v: callbacks added
// to it run at once, inside the Add call.
func Succeed[T any](v T) *Deferred[T] {
	d := &Deferred[T]{result: v, flags: fFired | fRested}
	if debugging() {
		d.recordCreation()
		d.recordFire()
	}
	return d
}

// Fail returns a Deferred that already failed with err: errbacks added to
// it run at once, inside the Add call. A nil err fails it with ErrNilError.
func Fail[T any](err error) *Deferred[T] {
	d := New[T]()
	_ = d.Errback(err)
	return d
}

// Callback gives the Deferred its result v and runs the callback chain on
// the calling goroutine before returning (unless the Deferred is paused).
// A Deferred can be fired once: a second Callback or Errback returns an
// error matching ErrAlreadyCalled and changes nothing, except that the first
// late fire after Cancel of a Deferred without canceller is swallowed and
// returns nil (Twisted's rule, so that the producer that was not told about
// the cancellation does not fail).
func (d *Deferred[T]) Callback(v T) error {
	d.mu.Lock()
	return d.fireLocked(v, nil)
}

// Errback fails the Deferred with err and runs the chain on the calling
// goroutine before returning, starting on the error path. It returns an
// error matching ErrAlreadyCalled under the same rules as Callback. A nil err
// is a programming mistake: the Deferred fails with ErrNilError, which
// Errback also returns.
func (d *Deferred[T]) Errback(err error) error {
	var zero T
	d.mu.Lock()
	if err == nil {
		if e := d.fireLocked(zero, ErrNilError); e != nil {
			return e
		}
		return ErrNilError
	}
	return d.fireLocked(zero, err)
}

// fireLocked fires d with (v, err). It is called with d.mu held and
// releases it.
func (d *Deferred[T]) fireLocked(v T, err error) error {
	if d.flags&fFired != 0 {
		if d.flags&fSuppress != 0 {
			d.flags &^= fSuppress
			d.mu.Unlock()
			return nil
		}
		e := d.alreadyCalled()
		d.mu.Unlock()
		return e
	}
	d.flags |= fFired
	d.canceller = nil
	if d.extra != nil {
		d.extra.chainedTo = nil
	}
	d.result, d.err = v, err
	d.recordFire() // debug mode only
	if d.paused.Load() > 0 {
		d.mu.Unlock()
		return nil
	}
	if d.q.empty() {
		// Nothing to run: come to rest without taking the baton.
		d.settle()
		d.mu.Unlock()
		return nil
	}
	d.flags |= fRunning
	d.runLocked()
	return nil
}

// AddCallback appends cb to the chain with no errback: cb runs on the
// success path and its outcome becomes the result (a non-nil error switches
// to the error path); on the error path the error passes through. It
// returns d. AddCallback panics if cb is nil.
func (d *Deferred[T]) AddCallback(cb func(T) (T, error)) *Deferred[T] {
	if cb == nil {
		panic("deferred: AddCallback with a nil callback")
	}
	return d.add(link[T]{cbFunc[T](cb)})
}

// AddErrback appends eb to the chain with no callback: eb runs on the error
// path, and returning a nil error recovers to the success path with the
// value it returned; on the success path the value passes through. It
// returns d. AddErrback panics if eb is nil.
func (d *Deferred[T]) AddErrback(eb func(error) (T, error)) *Deferred[T] {
	if eb == nil {
		panic("deferred: AddErrback with a nil errback")
	}
	return d.add(link[T]{ebFunc[T](eb)})
}

// AddBoth appends f as both callback and errback: it runs on either path
// with the current value and error (the value is the zero value on the
// error path). It returns d. AddBoth panics if f is nil.
func (d *Deferred[T]) AddBoth(f func(T, error) (T, error)) *Deferred[T] {
	if f == nil {
		panic("deferred: AddBoth with a nil function")
	}
	return d.add(link[T]{bothFunc[T](f)})
}

// AddCallbacks appends the pair (cb, eb): exactly one of them runs,
// depending on the path when the pair is reached, so an error returned by cb
// is not seen by eb but by the next pair. A nil member passes the result
// through. It returns d.
func (d *Deferred[T]) AddCallbacks(cb func(T) (T, error), eb func(error) (T, error)) *Deferred[T] {
	switch {
	case cb != nil && eb != nil:
		return d.add(link[T]{&pair[T]{cb: cb, eb: eb}})
	case cb != nil:
		return d.add(link[T]{cbFunc[T](cb)})
	case eb != nil:
		return d.add(link[T]{ebFunc[T](eb)})
	}
	return d.add(link[T]{})
}

// AddCallbackDeferred appends a callback that returns another Deferred
// (Twisted's implicit chaining): the chain pauses until that inner Deferred
// has a result, then continues with it, and the inner Deferred's own result
// becomes the zero value (its error counts as handled). This works
// transitively and iteratively, with constant stack depth however many
// Deferreds are chained. A non-nil error from cb takes the error path and the
// returned Deferred is ignored; a nil Deferred with a nil error fails the
// chain with ErrNilDeferred; returning d itself fails it with
// ErrCircularChain. Cancelling d while it waits cancels the inner Deferred.
// It returns d and panics if cb is nil.
func (d *Deferred[T]) AddCallbackDeferred(cb func(T) (*Deferred[T], error)) *Deferred[T] {
	if cb == nil {
		panic("deferred: AddCallbackDeferred with a nil callback")
	}
	return d.add(link[T]{cbDefer[T](cb)})
}

// AddErrbackDeferred is AddCallbackDeferred for the error path: eb runs
// with the error and the chain continues with the result of the Deferred
// it returns. It returns d and panics if eb is nil.
func (d *Deferred[T]) AddErrbackDeferred(eb func(error) (*Deferred[T], error)) *Deferred[T] {
	if eb == nil {
		panic("deferred: AddErrbackDeferred with a nil errback")
	}
	return d.add(link[T]{ebDefer[T](eb)})
}

// AddBothDeferred is AddCallbackDeferred for both paths. It returns d and
// panics if f is nil.
func (d *Deferred[T]) AddBothDeferred(f func(T, error) (*Deferred[T], error)) *Deferred[T] {
	if f == nil {
		panic("deferred: AddBothDeferred with a nil function")
	}
	return d.add(link[T]{bothDefer[T](f)})
}

// add appends l and, when d already has a result and nobody is running its
// chain, runs the chain on the calling goroutine.
func (d *Deferred[T]) add(l link[T]) *Deferred[T] {
	d.mu.Lock()
	d.q.push(l)
	if d.flags&(fFired|fRunning) == fFired && d.paused.Load() == 0 && d.waiting == nil {
		d.flags |= fRunning
		d.runLocked()
		return d
	}
	d.mu.Unlock()
	return d
}

// Pause stops the chain from running: callbacks that would run (on fire or
// on Add) wait until a matching number of Unpause calls. Pauses nest.
func (d *Deferred[T]) Pause() {
	d.mu.Lock()
	d.paused.Add(1)
	d.mu.Unlock()
}

// Unpause undoes one Pause; when the last pause is undone and the Deferred
// has a result, the pending callbacks run on the calling goroutine before
// Unpause returns. Unpause without a matching Pause is a programming error
// and panics.
func (d *Deferred[T]) Unpause() {
	d.mu.Lock()
	if d.paused.Load() == 0 {
		d.mu.Unlock()
		panic("deferred: Unpause without a matching Pause")
	}
	if d.paused.Add(-1) == 0 && d.flags&(fFired|fRunning) == fFired && d.waiting == nil {
		d.flags |= fRunning
		d.runLocked()
		return
	}
	d.mu.Unlock()
}
