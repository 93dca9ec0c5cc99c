// Command tour walks through twine's packages on the embedded in-memory
// store; `make demo` runs it.
//
// This first version shows what exists so far (backoff); the examples work
// replaces it with the full tour of all four packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/twine-go/twine/backoff"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func run() error {
	fmt.Println("twine tour: backoff")
	fmt.Println()
	fmt.Println("Delays of backoff.Exponential{} (full jitter, seed 1):")
	var src rand.PCG
	src.Seed(1, 1)
	for i, d := range (backoff.Exponential{}).Delays(&src) {
		if i > 6 {
			break
		}
		fmt.Printf("  retry %d: %v\n", i, d)
	}

	calls := 0
	err := backoff.Retry(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("transient")
		}
		return nil
	}, backoff.WithPolicy(backoff.Constant{}), backoff.MaxAttempts(5))
	fmt.Printf("\nRetry: succeeded after %d calls (err=%v)\n", calls, err)
	return err
}
