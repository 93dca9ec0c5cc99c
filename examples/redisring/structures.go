package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/redisstore"
)

// showStructures puts twine's structures on the same Ring through
// redisstore: a Counter incremented from 8 goroutines (one Lua script per
// increment, on the shard hashring names for its key) and a Lock that a
// second owner cannot take. Its keys are deleted at the end.
func showStructures(ctx context.Context, w io.Writer, ring *redis.Ring, addrs map[string]string, prefix string, hash interface{ Get(string) string }) error {
	store := redisstore.New(ring, redisstore.Options{})
	counterKey, lockKey := prefix+"views", prefix+"lock"
	defer func() {
		for _, k := range []string{counterKey, lockKey} {
			_ = store.Delete(context.WithoutCancel(ctx), k, cachestruct.DeleteOptions{})
		}
	}()
	fmt.Fprintf(w, "\ncachestruct on the same Ring (redisstore.New(ring, …)):\n")

	views := cachestruct.NewCounter(store, cachestruct.CounterConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 125 {
				if _, err := views.Incr(ctx, counterKey, 1); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	n, err := views.Get(ctx, counterKey)
	if err != nil {
		return err
	}
	shard := hash.Get(counterKey)
	direct := redis.NewClient(&redis.Options{Addr: addrs[shard], MaxRetries: -1})
	defer direct.Close()
	held, err := direct.Exists(ctx, counterKey).Result()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Counter: 8 goroutines × 125 Incr -> %d; the counter lives on shard %s: %v\n", n, shard, held == 1)

	lock := cachestruct.NewLock(store, lockKey, cachestruct.LockConfig{})
	h, err := lock.TryLock(ctx)
	if err != nil {
		return err
	}
	_, err = cachestruct.NewLock(store, lockKey, cachestruct.LockConfig{}).TryLock(ctx)
	fmt.Fprintf(w, "Lock: held by one owner; a second TryLock gets %q\n", err)
	return h.Unlock(ctx)
}
