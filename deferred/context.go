package deferred

import (
	"context"
	"errors"
	"fmt"
)

// Bind ties d to ctx: if ctx is done before d has a result, d is cancelled
// with CancelCause, the cause being ctx's error joined with
// context.Cause(ctx), so that the error d then fails with (when its
// canceller does not fire it otherwise) matches ErrCancelled,
// context.Canceled or context.DeadlineExceeded, and the cause given to
// context.WithCancelCause, under errors.Is. Like AddTimeout, the binding
// covers the callbacks added before Bind and none added after: when the
// result comes first, the binding is released (context.AfterFunc's stop),
// so nothing of d stays registered with ctx, and a ctx that ends as the
// result arrives cancels nothing. The cancellation, and the callbacks it
// triggers, run on the goroutine context.AfterFunc starts when ctx ends, or
// on the calling goroutine if ctx is already done. It returns d.
func (d *Deferred[T]) Bind(ctx context.Context) *Deferred[T] {
	if ctx.Done() == nil {
		return d // never cancelled: nothing to bind
	}
	if ctx.Err() != nil {
		d.CancelCause(contextCause(ctx))
		return d
	}
	var race firstOf
	stop := context.AfterFunc(ctx, func() { d.cancelIf(contextCause(ctx), race.interrupt) })
	return d.AddBoth(func(v T, err error) (T, error) {
		stop()
		race.complete()
		return v, err
	})
}

// contextCause is the cause Bind and Await cancel with: ctx.Err(), joined
// with context.Cause(ctx) when that is another error.
func contextCause(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || errors.Is(cause, err) {
		return err
	}
	return fmt.Errorf("%w: %w", err, cause)
}
