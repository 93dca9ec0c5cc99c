package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twine-go/twine/cachestruct"
)

// showStructures runs cachestruct's structures on the sharded store: each
// key of each structure lives on the server the ring names for it.
func (cl *cluster) showStructures(ctx context.Context, w io.Writer) error {
	fmt.Fprintf(w, "\n3. cachestruct structures on the sharded store:\n")

	// A counter hit by 10 goroutines, 10 increments each: none lost.
	views := cachestruct.NewCounter(cl.store, cachestruct.CounterConfig{})
	var wg sync.WaitGroup
	var incrErr atomic.Value
	for range 10 {
		wg.Go(func() {
			for range 10 {
				if _, err := views.Incr(ctx, "sc:views:home", 1); err != nil {
					incrErr.Store(err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := incrErr.Load().(error); err != nil {
		return err
	}
	n, err := views.Get(ctx, "sc:views:home")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   counter sc:views:home (on %s): %d after 10×10 concurrent increments\n", cl.ring.Get("sc:views:home"), n)

	// A lock: the second TryLock fails while the first holds it.
	lock := cachestruct.NewLock(cl.store, "sc:lock:report", cachestruct.LockConfig{TTL: 10 * time.Second})
	held, err := lock.TryLock(ctx)
	if err != nil {
		return err
	}
	_, err = lock.TryLock(ctx)
	fmt.Fprintf(w, "   lock sc:lock:report (on %s): first TryLock holds it, second: %v\n", cl.ring.Get("sc:lock:report"), err)
	if !errors.Is(err, cachestruct.ErrLocked) {
		return fmt.Errorf("second TryLock: want ErrLocked, got %v", err)
	}
	if err := held.Unlock(ctx); err != nil {
		return err
	}

	// Tags: the tag key and the entry key may live on different servers.
	tags := cachestruct.NewTags(cl.store, cachestruct.TagsConfig{})
	if err := tags.Set(ctx, "sc:page:42", []byte("<html>…</html>"), time.Minute, "user:42"); err != nil {
		return err
	}
	_, hit, err := tags.Get(ctx, "sc:page:42", "user:42")
	if err != nil {
		return err
	}
	if err := tags.Invalidate(ctx, "user:42"); err != nil {
		return err
	}
	_, hitAfter, err := tags.Get(ctx, "sc:page:42", "user:42")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   tags: sc:page:42 (on %s) tagged user:42 (tag on %s): hit %v, after Invalidate hit %v\n",
		cl.ring.Get("sc:page:42"), cl.ring.Get("tag:user:42"), hit, hitAfter)

	computes, story, err := stampede(ctx, cl.store, "sc:report:daily")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   stampede: 2 processes × 10 callers of GetOrCompute(sc:report:daily): %d compute; story %s\n", computes, story)
	return nil
}

// stampede lets 20 callers, in two Cache instances standing for two
// processes, ask for one missing key at once; it returns how many times the
// value was computed and the key's story as debugging letters (one per
// event, as the memcached caching articles log them) (M miss, L lock try, W written, U unlock, H hit) seen by the
// first instance, followed by one more read.
func stampede(ctx context.Context, store cachestruct.Store, key string) (int64, string, error) {
	var computes atomic.Int64
	compute := func(ctx context.Context) (string, error) {
		computes.Add(1)
		time.Sleep(50 * time.Millisecond) // an expensive query
		return "42 rows", nil
	}
	var rec cachestruct.Recorder
	caches := []*cachestruct.Cache[string]{
		cachestruct.NewCache(store, cachestruct.StringCodec{}, cachestruct.CacheConfig{Observer: &rec}),
		cachestruct.NewCache(store, cachestruct.StringCodec{}, cachestruct.CacheConfig{}),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		c := caches[i%2]
		wg.Go(func() {
			v, err := c.GetOrCompute(ctx, key, time.Minute, compute)
			if err == nil && v != "42 rows" {
				err = fmt.Errorf("got %q", v)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, "", err
		}
	}
	// One more read, now a hit.
	if _, err := caches[0].GetOrCompute(ctx, key, time.Minute, compute); err != nil {
		return 0, "", err
	}
	return computes.Load(), rec.Story(key), nil
}
