package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errTemp = errors.New("temporary")

func TestRetryAllocs(t *testing.T) {
	ctx := context.Background()
	b := Budget{TokenRatio: 2}
	allocs := testing.AllocsPerRun(1000, func() {
		n := 0
		err := Retry(ctx, func(context.Context) error {
			n++
			if n < 3 {
				return errTemp
			}
			return nil
		}, WithPolicy(Constant{}), MaxAttempts(5), WithBudget(&b), Notify(func(int, error, time.Duration) { n += 0 }))
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Log(allocs)
	allocs = testing.AllocsPerRun(1000, func() {
		v, err := RetryValue(ctx, func(context.Context) (int, error) { return 1, nil }, WithPolicy(GRPC()))
		_, _ = v, err
	})
	t.Log(allocs)
}
