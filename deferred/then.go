package deferred

import "runtime/debug"

// Then returns a Deferred of another type that fires with f's outcome on
// d's value, or with d's error (f is not called then). Then adds one pair
// to d's chain, so f runs where d's callbacks run; that pair hands d's
// result over: afterwards d keeps its value but its error counts as handled,
// having moved to the returned Deferred. A panic in f fails the returned
// Deferred with a *PanicError. Cancelling the returned Deferred cancels d
// (with the same cause).
// Then panics if f is nil.
func Then[T, U any](d *Deferred[T], f func(T) (U, error)) *Deferred[U] {
	if f == nil {
		panic("deferred: Then with a nil function")
	}
	out := NewWithCanceller(func(out *Deferred[U]) { d.CancelCause(CancelCauseOf(out)) })
	d.AddBoth(func(v T, err error) (T, error) {
		if err != nil {
			_ = out.Errback(err)
			return v, nil
		}
		u, ferr := callThen(f, v)
		if ferr != nil {
			_ = out.Errback(ferr)
		} else {
			_ = out.Callback(u)
		}
		return v, nil
	})
	return out
}

// callThen calls f(v), turning a panic into a *PanicError.
func callThen[T, U any](f func(T) (U, error), v T) (u U, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero U
			u, err = zero, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return f(v)
}

// Chain makes other fire with d's result (Twisted's chainDeferred): it adds
// to d the pair (other.Callback, other.Errback). Afterwards d's result is the
// zero value with no error, and its error, passed on to other, counts as
// handled; if other was already fired, d's chain continues with the error
// matching ErrAlreadyCalled. Unlike a Deferred returned from a callback,
// chaining this way nests: other's callbacks run deeper on the stack, so
// very long Chain sequences use stack in proportion. Until other fires,
// its String says it waits on d. It returns d.
func (d *Deferred[T]) Chain(other *Deferred[T]) *Deferred[T] {
	var zero T
	other.mu.Lock()
	if other.flags&fFired == 0 {
		if other.extra == nil {
			other.extra = &extra{}
		}
		other.extra.chainedTo = d
	}
	other.mu.Unlock()
	return d.AddCallbacks(
		func(v T) (T, error) { return zero, other.Callback(v) },
		func(err error) (T, error) { return zero, other.Errback(err) },
	)
}
