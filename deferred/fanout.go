package deferred

import (
	"context"
	"sync"
	"sync/atomic"
)

// Map runs f over inputs with at most limit calls at once and returns a
// Deferred that fires with the outputs in input order (errgroup with
// SetLimit, gathered). The first f to return an error stops the rest: the
// context the calls get is cancelled (context.Cause is a *FirstError
// naming the input and its error), inputs not yet started are skipped, and
// the Deferred fails with that *FirstError once the calls running have
// returned. So when the Deferred fires, no call of f is running and every
// goroutine Map started has ended; its callbacks run on the goroutine of
// the last call to return.
//
// Map starts min(limit, len(inputs)) goroutines, each taking the next
// input until none is left, rather than one goroutine per input; a limit
// < 1 means no limit (one goroutine per input). A panic in f fails the
// Deferred with a *PanicError, as an error would. When ctx ends, or the
// Deferred is cancelled, the calls' context is cancelled with that cause,
// no more inputs are started, and the Deferred fails with a *CancelError
// (matching ErrCancelled and the cause) once the running calls returned,
// unless every input completed successfully; an error a call returns once
// its context was cancelled (ctx.Err(), typically) is taken as its answer
// to the cancellation, never as a first error. With no inputs it fires at
// once with an empty slice. Map panics if f is nil.
func Map[In, Out any](ctx context.Context, limit int, inputs []In, f func(context.Context, In) (Out, error)) *Deferred[[]Out] {
	if f == nil {
		panic("deferred: Map with a nil function")
	}
	if len(inputs) == 0 {
		return Succeed([]Out{})
	}
	s := &gathered[Out]{outs: make([]Out, len(inputs))}
	r := startFanout(ctx, limit, inputs, f, s)
	s.out = newForwarding[[]Out](r.stop)
	r.start()
	return s.out
}

// MapEach is Map with one Deferred per input, in input order, each firing
// with its own call's outcome on the goroutine that made it, as soon as it
// returns. The first error stops the rest as in Map: the inputs not yet
// started fail with a *CancelError whose cause wraps the *FirstError (so
// errors.Is finds ErrCancelled, context.Canceled and the first error). When
// ctx ends, the inputs not yet started fail the same way with ctx's error
// and cause. Callbacks added to the Deferreds run on the workers'
// goroutines, which all end once every input is accounted for. Cancelling one
// of the Deferreds fails it at once with ErrCancelled; if its call had not
// started, it never starts, otherwise the call's outcome is discarded. With
// no inputs MapEach returns an empty slice. MapEach panics if f is nil.
func MapEach[In, Out any](ctx context.Context, limit int, inputs []In, f func(context.Context, In) (Out, error)) []*Deferred[Out] {
	if f == nil {
		panic("deferred: MapEach with a nil function")
	}
	s := &each[Out]{ds: make([]*Deferred[Out], len(inputs))}
	if len(inputs) == 0 {
		return s.ds
	}
	for i := range s.ds {
		s.ds[i] = New[Out]()
	}
	startFanout(ctx, limit, inputs, f, s).start()
	return s.ds
}

// sink receives what the workers of a fan-out produce.
type sink[Out any] interface {
	// wanted reports whether input i should still run.
	wanted(i int) bool
	// put delivers the outcome of input i.
	put(i int, v Out, err error)
	// skip reports that input i will not run, for cause.
	skip(i int, cause error)
	// done is called once, by the last worker to end; first is the
	// *FirstError that stopped the fan-out, if any, and cause the reason
	// the fan-out stopped early, if it did.
	done(first *FirstError, cause error)
}

// fanout is the shared state of the workers of Map and MapEach.
type fanout[In, Out any] struct {
	ctx     context.Context
	stop    context.CancelCauseFunc
	inputs  []In
	f       func(context.Context, In) (Out, error)
	sink    sink[Out]
	workers int
	next    atomic.Int64
	live    atomic.Int32
	mu      sync.Mutex
	first   *FirstError
}

func startFanout[In, Out any](ctx context.Context, limit int, inputs []In, f func(context.Context, In) (Out, error), s sink[Out]) *fanout[In, Out] {
	n := len(inputs)
	if limit < 1 || limit > n {
		limit = n
	}
	r := &fanout[In, Out]{inputs: inputs, f: f, sink: s, workers: limit}
	r.ctx, r.stop = context.WithCancelCause(ctx)
	r.live.Store(int32(limit))
	return r
}

// start starts the workers.
func (r *fanout[In, Out]) start() {
	for range r.workers {
		go r.work()
	}
}

// work takes inputs until none is left. Once the fan-out stopped, it goes
// on taking them but skips them, so that every input is accounted for
// exactly once whichever worker takes it.
func (r *fanout[In, Out]) work() {
	n := int64(len(r.inputs))
	for {
		i := r.next.Add(1) - 1
		if i >= n {
			break
		}
		if r.ctx.Err() != nil {
			r.sink.skip(int(i), contextCause(r.ctx))
			continue
		}
		if !r.sink.wanted(int(i)) {
			continue
		}
		v, err := callMapped(r.ctx, r.f, r.inputs[i])
		if err != nil {
			r.mu.Lock()
			// An error that comes once the fan-out was stopped (by
			// cancellation, the caller's context or an earlier error) is
			// taken for the call's answer to that stop, not a first error.
			if r.first == nil && r.ctx.Err() == nil {
				r.first = &FirstError{Index: int(i), Err: err}
				r.stop(r.first)
			}
			r.mu.Unlock()
		}
		r.sink.put(int(i), v, err)
	}
	if r.live.Add(-1) != 0 {
		return
	}
	// The last worker: every other worker's writes happen before its
	// decrement, so they are all visible here.
	var cause error
	if r.ctx.Err() != nil {
		cause = contextCause(r.ctx)
	}
	r.stop(nil)
	r.sink.done(r.first, cause)
}

// callMapped calls f(ctx, in), turning a panic into a *PanicError.
func callMapped[In, Out any](ctx context.Context, f func(context.Context, In) (Out, error), in In) (Out, error) {
	return callBody(ctx, func(ctx context.Context) (Out, error) { return f(ctx, in) })
}

// gathered is Map's sink: the outputs in input order. incomplete records
// that an input was skipped or failed, so that a fan-out stopped without a
// first error fails with the cancellation rather than firing with a zero
// value in place of the missing output.
type gathered[Out any] struct {
	out        *Deferred[[]Out]
	outs       []Out
	incomplete atomic.Bool
}

func (g *gathered[Out]) wanted(int) bool { return true }

func (g *gathered[Out]) put(i int, v Out, err error) {
	if err != nil {
		g.incomplete.Store(true)
		return
	}
	g.outs[i] = v
}

func (g *gathered[Out]) skip(int, error) { g.incomplete.Store(true) }

func (g *gathered[Out]) done(first *FirstError, cause error) {
	switch {
	case first != nil:
		_ = g.out.Errback(first)
	case g.incomplete.Load():
		_ = g.out.Errback(cancelError(cause))
	default:
		_ = g.out.Callback(g.outs)
	}
}

// each is MapEach's sink: one Deferred per input.
type each[Out any] struct {
	ds []*Deferred[Out]
}

func (e *each[Out]) wanted(i int) bool {
	d := e.ds[i]
	d.mu.Lock()
	fired := d.flags&fFired != 0
	d.mu.Unlock()
	return !fired
}

func (e *each[Out]) put(i int, v Out, err error) {
	if err != nil {
		_ = e.ds[i].Errback(err)
	} else {
		_ = e.ds[i].Callback(v)
	}
}

func (e *each[Out]) skip(i int, cause error) { _ = e.ds[i].Errback(cancelError(cause)) }

func (e *each[Out]) done(*FirstError, error) {}
