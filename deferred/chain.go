package deferred

import "runtime/debug"

// run runs the chain of d, whose fRunning baton the caller holds, and then
// the chain of every Deferred that d's result resumes (implicit chaining),
// iteratively: resuming a waiting Deferred pushes it on a heap-allocated
// stack instead of recursing, so the goroutine stack stays the same depth
// however long the chain of Deferreds is (Twisted's test_boundedStackDepth).
func (d *Deferred[T]) run() {
	var stack []*Deferred[T]
	c := d
	for {
		next, keep := c.step()
		if keep {
			stack = append(stack, c)
		}
		if next != nil {
			c = next
			continue
		}
		if len(stack) == 0 {
			return
		}
		c = stack[len(stack)-1]
		stack[len(stack)-1] = nil
		stack = stack[:len(stack)-1]
	}
}

// step runs c's pending links until c must stop: no more links, paused, or
// waiting on an inner Deferred. The caller holds c's baton. When a link hands
// c's result to a Deferred waiting on c and that one can run, step returns it
// as next, with its baton taken; keep then says whether c still holds its own
// baton because links remain, in which case c must be resumed after next.
// c.mu is never held while user code runs.
func (c *Deferred[T]) step() (next *Deferred[T], keep bool) {
	var zero T
	c.mu.Lock()
	for {
		if c.paused > 0 || c.head == len(c.links) {
			c.stop()
			c.mu.Unlock()
			return nil, false
		}
		l := c.pop()
		v, err := c.result, c.err
		fn := l.cb
		if err != nil {
			fn = l.eb
		}
		if fn == nil {
			continue // a missing member passes the result through
		}
		if chainee, ok := fn.(*Deferred[T]); ok {
			// Continuation: give our result to the Deferred waiting on us
			// and forget it ourselves (Twisted's _CONTINUE).
			c.result, c.err = zero, nil
			more := c.head < len(c.links)
			if !more {
				c.stop() // finish c first so the stack does not grow
			}
			c.mu.Unlock()
			if chainee.resume(v, err) {
				return chainee, more
			}
			if !more {
				return nil, false
			}
			c.mu.Lock()
			continue
		}
		c.mu.Unlock()

		nv, inner, nerr := call(fn, v, err)
		if inner != nil {
			switch {
			case inner == c:
				nerr = ErrCircularChain
			default:
				if iv, ok, ierr := inner.take(c); ok {
					nv, nerr = iv, ierr
					break
				}
				// inner will resume c through the continuation link just
				// added to it, maybe already on another goroutine.
				c.mu.Lock()
				if c.flags&fDelivered != 0 {
					c.flags &^= fDelivered
					continue // the result is already in c.result
				}
				c.waiting = inner
				c.flags &^= fRunning
				c.mu.Unlock()
				return nil, false
			}
		}
		c.mu.Lock()
		c.result, c.err = nv, nerr
	}
}

// stop gives up c's baton; if c is not paused (nor waiting), its chain is at
// rest. Called with c.mu held.
func (c *Deferred[T]) stop() {
	c.flags &^= fRunning
	if c.paused == 0 && c.waiting == nil {
		c.settle()
	}
}

// settle records that c's chain is at rest with a result: Done closes the
// first time, and the unhandled-error tracker follows the current error.
// Called with c.mu held.
func (c *Deferred[T]) settle() {
	if c.flags&fRested == 0 {
		c.flags |= fRested
		if c.done != nil {
			close(c.done)
		}
	}
	c.trackUnhandled()
}

// take is called on the inner Deferred a callback of c returned. If inner
// has a result at rest, take claims it (inner's result becomes the zero
// value, its error counts as handled) and returns it with ok. Otherwise it
// appends the continuation of c to inner's chain, so that c resumes when
// inner's chain reaches that point.
func (inner *Deferred[T]) take(c *Deferred[T]) (v T, ok bool, err error) {
	var zero T
	inner.mu.Lock()
	if inner.flags&(fFired|fRunning) == fFired && inner.paused == 0 && inner.waiting == nil {
		v, err = inner.result, inner.err
		inner.result, inner.err = zero, nil
		inner.trackUnhandled()
		inner.mu.Unlock()
		return v, true, err
	}
	inner.push(link[T]{cb: c, eb: c})
	inner.mu.Unlock()
	return zero, false, nil
}

// resume hands the result of the Deferred that c waited on to c. It reports
// whether it took c's baton, in which case the caller must run c's chain.
func (c *Deferred[T]) resume(v T, err error) bool {
	c.mu.Lock()
	c.result, c.err = v, err
	if c.waiting == nil {
		// The runner that linked c to the inner Deferred has not stopped
		// yet: it will see the flag and carry on with this result.
		c.flags |= fDelivered
		c.mu.Unlock()
		return false
	}
	c.waiting = nil
	if c.paused > 0 || c.flags&fRunning != 0 {
		c.mu.Unlock()
		return false
	}
	c.flags |= fRunning
	c.mu.Unlock()
	return true
}

// call runs one user function of a link with the current value and error.
// It returns the new value and error or, for the *Deferred kinds, the inner
// Deferred to wait on. A panic becomes a *PanicError on the error path.
func call[T any](fn any, v T, err error) (nv T, inner *Deferred[T], nerr error) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			nv, inner, nerr = zero, nil, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	deferredKind := false
	switch f := fn.(type) {
	case cbFunc[T]:
		nv, nerr = f(v)
	case ebFunc[T]:
		nv, nerr = f(err)
	case bothFunc[T]:
		nv, nerr = f(v, err)
	case *member[T]:
		nv, nerr = f.arrive(v, err)
	case cbDefer[T]:
		inner, nerr = f(v)
		deferredKind = true
	case ebDefer[T]:
		inner, nerr = f(err)
		deferredKind = true
	case bothDefer[T]:
		inner, nerr = f(v, err)
		deferredKind = true
	}
	if nerr != nil {
		var zero T
		return zero, nil, nerr
	}
	if deferredKind && inner == nil {
		return nv, nil, ErrNilDeferred
	}
	return nv, inner, nil
}
