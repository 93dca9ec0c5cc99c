package cachestruct_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twine-go/twine/cachestruct"
)

func ExampleRateLimiter_Allow() {
	ctx := context.Background()
	clock := newClock()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{Now: clock.Now})
	// 10 requests a second per user, in bursts of up to 3.
	limiter := cachestruct.NewRateLimiter(store, cachestruct.PerSecond(10, 3), cachestruct.RateLimiterConfig{Now: clock.Now})

	for range 4 {
		res, _ := limiter.Allow(ctx, "rate:alice", 1)
		fmt.Printf("allowed=%t remaining=%d retry-after=%v reset=%v\n", res.Allowed, res.Remaining, res.RetryAfter, res.ResetAfter)
	}
	clock.Advance(100 * time.Millisecond) // one request's worth refills
	res, _ := limiter.Allow(ctx, "rate:alice", 1)
	fmt.Println("after 100ms: allowed =", res.Allowed)
	// Output:
	// allowed=true remaining=2 retry-after=0s reset=100ms
	// allowed=true remaining=1 retry-after=0s reset=200ms
	// allowed=true remaining=0 retry-after=0s reset=300ms
	// allowed=false remaining=0 retry-after=100ms reset=300ms
	// after 100ms: allowed = true
}
