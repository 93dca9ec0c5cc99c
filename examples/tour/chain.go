package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twine-go/twine/deferred"
)

// errTooLarge is the failure of the tour's check callback.
var errTooLarge = errors.New("too large")

// tourDeferred shows a chain with an errback recovery, a chained inner
// Deferred, Go with Gather, and a timeout.
func tourDeferred(ctx context.Context, w io.Writer) error {
	fmt.Fprintln(w, "A chain of callbacks: double, check (fails above 10), an errback that recovers, print.")
	fmt.Fprintln(w, "The callbacks run on the goroutine that fires the Deferred, before Callback returns.")
	chain := func(name string) *deferred.Deferred[int] {
		d := deferred.New[int]()
		d.AddCallback(func(v int) (int, error) {
			fmt.Fprintf(w, "  %s: double(%d) = %d\n", name, v, 2*v)
			return 2 * v, nil
		})
		d.AddCallback(func(v int) (int, error) {
			if v > 10 {
				err := fmt.Errorf("%d is %w", v, errTooLarge)
				fmt.Fprintf(w, "  %s: check(%d) fails: %v -> the error path\n", name, v, err)
				return 0, err
			}
			fmt.Fprintf(w, "  %s: check(%d) ok (the errback is skipped)\n", name, v)
			return v, nil
		})
		d.AddErrback(func(err error) (int, error) {
			fmt.Fprintf(w, "  %s: errback recovers from %q with 10 -> back on the callback path\n", name, err)
			return 10, nil
		})
		d.AddCallback(func(v int) (int, error) {
			fmt.Fprintf(w, "  %s: result %d\n", name, v)
			return v, nil
		})
		return d
	}
	fmt.Fprintln(w, "Callback(3):")
	if err := chain("a").Callback(3); err != nil {
		return err
	}
	fmt.Fprintln(w, "Callback(7):")
	if err := chain("b").Callback(7); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nA callback that returns another Deferred pauses the chain until that one fires:")
	query := deferred.New[string]() // a database query answered later
	outer := deferred.New[string]()
	outer.AddCallbackDeferred(func(user string) (*deferred.Deferred[string], error) {
		fmt.Fprintf(w, "  outer: got %q, starts a query and returns its Deferred\n", user)
		return query, nil
	})
	outer.AddCallback(func(profile string) (string, error) {
		fmt.Fprintf(w, "  outer: resumed with the query's result %q\n", profile)
		return "profile of " + profile, nil
	})
	if err := outer.Callback("alice"); err != nil {
		return err
	}
	_, _, ok := outer.Result()
	fmt.Fprintf(w, "  outer has a result after Callback(\"alice\"): %v (it waits on the query)\n", ok)
	fmt.Fprintln(w, "  the query fires:")
	if err := query.Callback("alice (admin)"); err != nil {
		return err
	}
	v, err, ok := outer.Result()
	fmt.Fprintf(w, "  outer's result now: %q (err %v, ok %v)\n", v, err, ok)

	fmt.Fprintln(w, "\nGo runs bodies on goroutines; Gather collects their results in input order:")
	var ds []*deferred.Deferred[int]
	for i := 1; i <= 4; i++ {
		ds = append(ds, deferred.Go(ctx, func(context.Context) (int, error) { return i * i, nil }))
	}
	squares, err := deferred.Gather(ds, deferred.ListOptions{}).Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  Gather(Go(1²), Go(2²), Go(3²), Go(4²)) = %v\n", squares)

	fmt.Fprintln(w, "\nA Deferred nobody fires, with AddTimeout(20ms):")
	late := deferred.New[int]().AddTimeout(20*time.Millisecond, nil)
	_, err = late.Wait(ctx)
	fmt.Fprintf(w, "  Wait returns %q; errors.Is(err, deferred.ErrTimeout) = %v\n", err, errors.Is(err, deferred.ErrTimeout))
	return nil
}
