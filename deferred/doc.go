// Package deferred provides Deferred[T], a result that will be known later
// with a chain of callbacks and errbacks, modelled on Twisted's Deferred and
// made safe for concurrent use by multiple goroutines.
//
// # Pairs and paths
//
// A Deferred holds a chain of (callback, errback) pairs. When it is fired,
// with Callback(v) or Errback(err), the current result walks the chain: a
// value runs the next callback, an error the next errback, and what that
// function returns becomes the current result. So each step picks the path
// of the next one: an errback that returns a nil error recovers to the
// callback path, a callback that returns an error switches to the error
// path. Of one pair only one member ever runs (AddCallbacks(cb, eb): an
// error from cb goes to the next pair's errback, not to eb); a missing
// member passes the result through. AddCallback, AddErrback and AddBoth add
// pairs with one member, or the same function twice.
//
// A callback may also return another Deferred (AddCallbackDeferred,
// AddErrbackDeferred, AddBothDeferred): the outer chain then waits until
// the inner Deferred has a result and continues with it, and the inner
// Deferred's own result becomes the zero value. This implicit chaining is
// transitive and runs iteratively: a million Deferreds each waiting on the
// next complete with the same stack depth as two. Then changes the result
// type; Chain forwards a result to another Deferred; Pause and Unpause
// hold the chain; Cancel asks the producer to give up.
//
// # Which goroutine runs callbacks
//
// Callbacks run synchronously, never on a goroutine of this package: on the
// goroutine that fires the Deferred (Callback, Errback, Cancel, Unpause, or
// the firing of an inner Deferred that this one waits on), or, when the
// Deferred already has a result, on the goroutine that calls the Add method,
// before it returns. At most one goroutine runs a given Deferred's chain at a
// time; if a callback is added from another goroutine while the chain runs,
// the running goroutine runs it too, in order. No lock is held while user
// code runs, so a callback may add callbacks to its own Deferred (they run
// after the current chain), fire or cancel other Deferreds, or wait for
// them on other goroutines, without deadlock. The core type starts no
// goroutine; Go does (one per call, ending when its body returns), Map and
// MapEach start min(limit, len(inputs)) workers, one per input when limit
// is below 1 (all ended when the last input is accounted for), AddTimeout with the real clock fires on a timer
// goroutine of package time, and Bind cancels on the goroutine
// context.AfterFunc starts when the context ends. Await blocks the calling
// goroutine and starts none.
//
// Firing is once only: the second Callback or Errback returns an error
// matching ErrAlreadyCalled and changes nothing. When two goroutines fire at
// once exactly one wins. Errback(nil) fails the Deferred with ErrNilError.
//
// # Memory model
//
// Each Deferred's state is guarded by a mutex, never held while user code
// runs. A chain runs on one goroutine at a time, in batches of callbacks
// taken under the mutex, and passes from one goroutine to another (a
// callback added from elsewhere, an inner Deferred fired elsewhere) only
// through that mutex. In the terms of the Go memory model: a call of
// Callback or Errback is synchronized before every callback that it causes
// to run; each callback's return happens before the next callback of the
// chain starts, on whatever goroutine that one runs; and all of that is
// synchronized before Done is closed and before Result or Wait report the
// result. Anything a producer wrote
// before firing is therefore visible to every callback, and anything the
// callbacks wrote is visible after <-d.Done() or d.Wait(ctx).
//
// The chain is at rest with a result when the Deferred was fired, is not
// paused, is not waiting on an inner Deferred, and every callback added so
// far has run (none is running). Result reports a result only then, and
// Wait returns only then, as in Twisted, where a Deferred whose chain waits
// on another has no result until that one fires. Done is closed the first
// time the chain comes to rest: a Deferred paused before it fires closes
// Done only after the matching Unpause; one waiting on an inner Deferred
// closes it after the inner fired and the chain caught up. Callbacks added
// after that run at once on the adding goroutine and change the result
// reported from then on; if one of them makes the chain wait on an inner
// Deferred (or a Pause holds it), Done stays closed but the chain is no
// longer at rest: Result reports no result and Wait waits, until the chain
// is back at rest. A goroutine blocked in Wait while another adds a callback
// gets the result from before that callback or from after it, never one
// from the middle of the chain.
//
// # Panics
//
// A panic in a callback, errback, canceller, Then function or Go body is
// recovered and becomes a *PanicError carrying the panic value and the
// stack, and the chain continues on the error path. The reason: the panic
// would otherwise unwind through whoever fired the Deferred, often a
// library's I/O goroutine that has nothing to do with the faulty callback,
// and leave the chain half-run. Twisted does the same with exceptions. The
// stack is kept so that the crash site is not lost (errgroup reverted a
// panic propagation that lost it), and Unwrap exposes the value when it is
// an error. Functions that call runtime.Goexit (t.FailNow) from a callback
// abandon the chain.
//
// # Unhandled errors
//
// An error still left at the end of a chain when its Deferred is garbage
// collected is reported through the hook set with SetUnhandledErrorHandler
// (by default one log/slog error record), as Twisted logs "Unhandled error
// in Deferred". An error handled by an errback, read with Wait or Result,
// consumed by List, Gather or First, or taken over by an outer Deferred is
// never reported. An unhandled error that refers back to its own Deferred
// keeps it reachable and is never reported (SetUnhandledErrorHandler gives
// the reason). SetDebug makes ErrAlreadyCalled name the sites where the
// Deferred was created and first fired.
//
// # Coming from Twisted
//
// The names map one to one: addCallback, addErrback, addBoth and
// addCallbacks are AddCallback, AddErrback, AddBoth and AddCallbacks
// (callbacks return (T, error) instead of raising or returning a Failure);
// returning a Deferred from a callback is spelled AddCallbackDeferred,
// AddErrbackDeferred or AddBothDeferred, because Go's types tell the two
// apart; chainDeferred is Chain; pause, unpause, cancel and addTimeout are
// Pause, Unpause, Cancel and AddTimeout; succeed, fail and maybeDeferred are
// Succeed, Fail and MaybeDeferred; DeferredList, gatherResults and race are
// List, Gather and Race, and DeferredList with fireOnOneCallback, whose
// result is (result, index), is First; deferToThread is Go, and
// inlineCallbacks is Go with Await in its body; addTimeout's
// onTimeoutCancel is AddTimeoutFunc; DeferredLock,
// DeferredSemaphore, DeferredQueue and their run are Lock, Semaphore, Queue
// and Run; setDebugging is SetDebug; AlreadyCalledError, CancelledError,
// TimeoutError, FirstError and FailureGroup are ErrAlreadyCalled,
// ErrCancelled, ErrTimeout, *FirstError and *RaceError. What Go adds:
// Done, Wait and Result to consume a result from any goroutine, Then to
// change the result type, CancelCause and Bind to cancel with a cause or
// with a context, Map and MapEach for bounded fan-out, and safety for
// concurrent use. What differs: an empty First or Race fails at once with
// an empty *RaceError instead of never firing (an empty List or Gather
// fires at once with an empty slice, as in Twisted); when every input of
// First fails, First fails with a *RaceError holding every error, where
// Twisted's DeferredList with fireOnOneCallback fires with the list of
// failures; List, Gather and First consume their inputs' errors unless
// ListOptions.KeepErrors is set (Twisted's consumeErrors defaults to
// false), and can cancel the other inputs on the first failure
// (CancelOnError). Where Twisted's implementation strays from the model it
// documents, this package keeps to the model: a callback that returns a
// Deferred whose chain is still running (re-entrantly, on the same
// goroutine) waits until that chain reaches the point where it was
// returned, where Twisted takes its intermediate result; a Deferred that
// hands its result to a waiting Deferred which was paused goes on with its
// own remaining callbacks, which Twisted leaves pending; Pause called from
// a callback holds the callbacks after it, which Twisted still runs in that
// pass; and a Deferred that had its result before the timeout but was
// paused does not time out.
//
// # Collections and helpers
//
// List, Gather, First and Race combine Deferreds (Twisted's DeferredList,
// gatherResults, race) without starting goroutines; Lock, Semaphore and
// Queue hand out Deferreds that fire on acquire, and Run holds a Lock or a
// Semaphore for the life of a Deferred; Go runs a function on a new
// goroutine; MaybeDeferred wraps a synchronous call; AddTimeout cancels
// after a delay measured by an injectable Clock.
package deferred
