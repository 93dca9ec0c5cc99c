package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/twine-go/twine/backoff"
)

// errRefused stands for the failure of a service that is down.
var errRefused = errors.New("connection refused")

// tourBackoff prints the delays of every policy and runs Retry three ways.
func tourBackoff(ctx context.Context, w io.Writer) error {
	const retries = 7
	fmt.Fprintf(w, "Delays before retries 1–%d of each policy (jitter drawn from rand.NewPCG(1, 2)):\n", retries)
	policies := []struct {
		name   string
		policy backoff.Policy
	}{
		{"Exponential{} (full jitter)", backoff.Exponential{}},
		{"Exponential{Jitter: NoJitter}", backoff.Exponential{Jitter: backoff.NoJitter}},
		{"Exponential{Jitter: EqualJitter}", backoff.Exponential{Jitter: backoff.EqualJitter}},
		{"Exponential{Jitter: DecorrelatedJitter}", backoff.Exponential{Jitter: backoff.DecorrelatedJitter}},
		{"Exponential{Jitter: SmoothJitter}", backoff.Exponential{Jitter: backoff.SmoothJitter}},
		{"Exponential{Jitter: ProportionalJitter}", backoff.Exponential{Jitter: backoff.ProportionalJitter}},
		{"GRPC()", backoff.GRPC()},
		{"Constant{Delay: time.Second, Spread: 0.2}", backoff.Constant{Delay: time.Second, Spread: 0.2}},
	}
	fmt.Fprintf(w, "  %-42s", "policy")
	for i := 1; i <= retries; i++ {
		fmt.Fprintf(w, "%8d", i)
	}
	fmt.Fprintln(w)
	for _, p := range policies {
		fmt.Fprintf(w, "  %-42s", p.name)
		seq := p.policy.Start(rand.NewPCG(1, 2))
		for range retries {
			fmt.Fprintf(w, "%8s", short(seq.Next()))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "\nRetry: an operation that fails twice, then succeeds (Exponential, NoJitter, base 10ms):")
	calls := 0
	err := backoff.Retry(ctx, func(context.Context) error {
		calls++
		if calls < 3 {
			return errRefused
		}
		return nil
	},
		backoff.WithPolicy(backoff.Exponential{Base: 10 * time.Millisecond, Jitter: backoff.NoJitter}),
		backoff.Notify(func(attempt int, err error, next time.Duration) {
			fmt.Fprintf(w, "  attempt %d failed (%v); next try in %v\n", attempt, err, next)
		}))
	fmt.Fprintf(w, "  Retry returned %v after %d calls\n", err, calls)

	fmt.Fprintln(w, "\nA Permanent error stops at once:")
	calls = 0
	errBad := errors.New("400 bad request")
	err = backoff.Retry(ctx, func(context.Context) error {
		calls++
		return backoff.Permanent(errBad)
	}, backoff.WithPolicy(backoff.Constant{}))
	fmt.Fprintf(w, "  Retry returned %q after %d call; errors.Is(err, errBad) = %v\n", err, calls, errors.Is(err, errBad))

	fmt.Fprintln(w, "\nA service down hard, 20 requests of up to 4 attempts each:")
	for _, budget := range []*backoff.Budget{nil, new(backoff.Budget)} {
		calls, refused := 0, 0
		for range 20 {
			err := backoff.Retry(ctx, func(context.Context) error {
				calls++
				return errRefused
			}, backoff.WithPolicy(backoff.Constant{}), backoff.MaxAttempts(4), backoff.WithBudget(budget))
			if errors.Is(err, backoff.ErrBudgetExhausted) {
				refused++
			}
		}
		if budget == nil {
			fmt.Fprintf(w, "  without a budget:              %2d calls reach the service\n", calls)
		} else {
			fmt.Fprintf(w, "  with one shared backoff.Budget: %2d calls (%d requests stopped by ErrBudgetExhausted)\n", calls, refused)
		}
	}
	fmt.Fprintln(w, "  (go run ./backoffsim: 1,000 clients through an outage, and which policies let the server recover)")
	return nil
}

// short formats a delay compactly: "87ms", "1.28s", "2m0s".
func short(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
