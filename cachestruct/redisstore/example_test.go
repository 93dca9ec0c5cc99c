package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/redisstore"
)

// The structures run on Redis as they run in memory or on memcached. (This
// example checks its key before anything is sent, so it needs no server.)
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // ctx deadlines bound every call
		MaxRetries:            -1,   // never apply an Incr twice
	})
	defer rdb.Close()
	store := redisstore.New(rdb, redisstore.Options{})

	views := cachestruct.NewCounter(store, cachestruct.CounterConfig{TTL: 24 * time.Hour})
	_, err := views.Incr(context.Background(), "views:article 42", 1) // a space: not a valid key
	fmt.Println(errors.Is(err, cachestruct.ErrInvalidKey))
	// Output: true
}

// A RateLimiter on redisstore decides in one round trip: the store is a
// cachestruct.RateStore, so each decision is one script call on the server.
// (This example checks its key before anything is sent, so it needs no
// server.)
func ExampleStore_AllowRate() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	store := redisstore.New(rdb, redisstore.Options{})
	_, oneTrip := any(store).(cachestruct.RateStore)
	fmt.Println("one round trip per decision:", oneTrip)

	limiter := cachestruct.NewRateLimiter(store, cachestruct.PerSecond(10, 20), cachestruct.RateLimiterConfig{})
	_, err := limiter.Allow(context.Background(), "rate:user 42", 1) // a space: not a valid key
	fmt.Println(errors.Is(err, cachestruct.ErrInvalidKey))
	// Output:
	// one round trip per decision: true
	// true
}
