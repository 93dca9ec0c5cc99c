package deferred

import "runtime/debug"

// runLocked runs the chain of d, whose fRunning baton the caller holds, and then
// the chain of every Deferred that d's result resumes (implicit chaining),
// iteratively: resuming a waiting Deferred pushes it on a heap-allocated
// stack instead of recursing, so the goroutine stack stays the same depth
// however long the chain of Deferreds is (Twisted's test_boundedStackDepth).
//
// runLocked is called with d.mu held and the baton taken; it releases d.mu.
func (d *Deferred[T]) runLocked() {
	var stack []*Deferred[T]
	c := d
	locked := true
	for {
		next, keep := c.step(locked)
		locked = false
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

// batchSize is how many links the runner takes per lock acquisition.
const batchSize = 16

// step runs c's pending links until c must stop: no more links, paused, or
// waiting on an inner Deferred. The caller holds c's baton, and c.mu too
// when locked is true. When a link hands c's result to a Deferred waiting on
// c and that one can run, step returns it as next, with its baton taken;
// keep then says whether c still holds its own baton because links remain,
// in which case c must be resumed after next.
//
// Links run in batches: up to batchSize are taken under c.mu, then run
// with c.mu released (user code never runs under the lock), the current
// result kept in locals; whatever a pause or a wait left of the batch goes
// back in front of the pending links. One lock round trip per batch instead
// of one per callback.
func (c *Deferred[T]) step(locked bool) (next *Deferred[T], keep bool) {
	var zero T
	if !locked {
		c.mu.Lock()
	}
	for {
		if c.paused.Load() > 0 || c.q.empty() {
			c.stop()
			c.mu.Unlock()
			return nil, false
		}
		if chainee, ok := c.q.peek().fn.(*Deferred[T]); ok {
			// Continuation: give our result to the Deferred waiting on us
			// and forget it ourselves (Twisted's _CONTINUE).
			c.q.pop()
			v, err := c.result, c.err
			c.result, c.err = zero, nil
			more := !c.q.empty()
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

		// Take a batch, stopping before any continuation.
		var batch [batchSize]link[T]
		n := 0
		for n < batchSize && !c.q.empty() {
			if _, cont := c.q.peek().fn.(*Deferred[T]); cont {
				break
			}
			batch[n] = c.q.pop()
			n++
		}
		v, err := c.result, c.err
		c.mu.Unlock()

		i, waitOn, v, err := c.runBatch(batch[:n], v, err)

		c.mu.Lock()
		if i < n {
			c.q.unpop(batch[i:n])
		}
		if waitOn != nil {
			if c.flags&fDelivered != 0 {
				c.flags &^= fDelivered
				continue // the inner result is already in c.result
			}
			c.result, c.err = v, err
			c.waiting = waitOn
			c.flags &^= fRunning
			c.markHandled() // the error, if any, was handled by the step that returned inner
			c.mu.Unlock()
			return nil, false
		}
		c.result, c.err = v, err
	}
}

// stop gives up c's baton; if c is not paused (nor waiting), its chain is at
// rest. A paused chain keeps its current error tracked. Called with c.mu
// held.
func (c *Deferred[T]) stop() {
	c.flags &^= fRunning
	if c.paused.Load() == 0 && c.waiting == nil {
		c.settle()
		return
	}
	c.trackUnhandled()
}

// settle records that c's chain is at rest with a result: Done closes the
// first time, waiters in Wait are woken every time, and the
// unhandled-error tracker follows the current error. Called with c.mu held.
func (c *Deferred[T]) settle() {
	if c.flags&fRested == 0 {
		c.flags |= fRested
		if c.extra != nil && c.extra.done != nil {
			close(c.extra.done)
		}
	}
	if c.extra != nil && c.extra.rest != nil {
		close(c.extra.rest)
		c.extra.rest = nil
	}
	c.trackUnhandled()
}

// atRest reports whether c's chain is at rest with a result: c was fired,
// is not paused, does not wait on an inner Deferred, and no goroutine runs
// its chain (so no callback is running or pending). Called with c.mu held.
func (c *Deferred[T]) atRest() bool {
	return c.flags&(fFired|fRunning) == fFired && c.paused.Load() == 0 && c.waiting == nil
}

// take is called on the inner Deferred a callback of c returned. If inner
// has a result at rest, take claims it (inner's result becomes the zero
// value, its error counts as handled) and returns it with ok. Otherwise it
// appends the continuation of c to inner's chain, so that c resumes when
// inner's chain reaches that point.
func (inner *Deferred[T]) take(c *Deferred[T]) (v T, ok bool, err error) {
	var zero T
	inner.mu.Lock()
	if inner.atRest() {
		v, err = inner.result, inner.err
		inner.result, inner.err = zero, nil
		inner.trackUnhandled()
		inner.mu.Unlock()
		return v, true, err
	}
	inner.q.push(link[T]{c})
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
	if c.paused.Load() > 0 || c.flags&fRunning != 0 {
		c.mu.Unlock()
		return false
	}
	c.flags |= fRunning
	c.mu.Unlock()
	return true
}

// runBatch runs the links of batch in order, starting from the result
// (v, err), until they all ran, a callback paused c, or a callback returned
// an inner Deferred without a result yet (waitOn). It returns how many links
// it consumed and the result they left. A panic in a link becomes a
// *PanicError on the error path and the batch goes on with the next link:
// one deferred recover per batch rather than per callback.
func (c *Deferred[T]) runBatch(batch []link[T], v T, err error) (i int, waitOn *Deferred[T], _ T, _ error) {
	for {
		var panicked bool
		i, waitOn, panicked, v, err = c.runFrom(batch, i, v, err)
		if !panicked {
			return i, waitOn, v, err
		}
	}
}

// runFrom is runBatch's loop from link i on, under one deferred recover:
// after a panic, i already counts the link that panicked, and runBatch
// calls runFrom again for the rest.
func (c *Deferred[T]) runFrom(batch []link[T], i int, v T, err error) (ri int, waitOn *Deferred[T], panicked bool, rv T, rerr error) {
	var zero T
	defer func() {
		if r := recover(); r != nil {
			ri, waitOn, panicked, rv, rerr = i, nil, true, zero, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	for i < len(batch) {
		if i > 0 && c.paused.Load() > 0 {
			break // a callback paused c: the rest waits for Unpause
		}
		fn := batch[i].fn
		i++
		if fn == nil {
			continue // an empty pair passes the result through
		}
		nv, inner, nerr := call(fn, v, err)
		if inner != nil {
			if inner == c {
				nv, nerr = zero, ErrCircularChain
			} else if iv, ok, ierr := inner.take(c); ok {
				nv, nerr = iv, ierr
			} else {
				// inner will resume c through the continuation link
				// just added to it, maybe already on another goroutine.
				return i, inner, false, v, err
			}
		}
		v, err = nv, nerr
	}
	return i, nil, false, v, err
}

// call runs one link's user function with the current value and error. It
// returns the new value and error or, for the *Deferred kinds, the inner
// Deferred to wait on. A link that does not serve the current path passes
// the result through. Panics are the caller's (runFrom's) business.
func call[T any](fn any, v T, err error) (nv T, inner *Deferred[T], nerr error) {
	failed := err != nil
	deferredKind := false
	switch f := fn.(type) {
	case cbFunc[T]:
		if failed {
			return v, nil, err
		}
		nv, nerr = f(v)
	case ebFunc[T]:
		if !failed {
			return v, nil, nil
		}
		nv, nerr = f(err)
	case *pair[T]:
		if failed {
			nv, nerr = f.eb(err)
		} else {
			nv, nerr = f.cb(v)
		}
	case bothFunc[T]:
		nv, nerr = f(v, err)
	case *member[T]:
		nv, nerr = f.arrive(v, err)
	case cbDefer[T]:
		if failed {
			return v, nil, err
		}
		inner, nerr = f(v)
		deferredKind = true
	case ebDefer[T]:
		if !failed {
			return v, nil, nil
		}
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
