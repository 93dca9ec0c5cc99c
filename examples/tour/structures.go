package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/redisstore"
	"github.com/twine-go/twine/hashring"
)

// tourKeys are the keys the cachestruct part uses; they are deleted first,
// so that a second run against the same memcached starts afresh.
var tourKeys = []string{"tour:views", "tour:lock", "tour:page:42", "tour:report", "tag:user:42", "tag:news"}

// backend is where the cachestruct part runs: in memory when both lists
// are empty.
type backend struct {
	memcached []string
	redis     []string
}

// newStore returns the in-memory store, a memcached store with a ketama
// ring as its picker, or a Redis store on one server or on a go-redis Ring
// routed by a hashring.
func newStore(b backend) (cachestruct.Store, string, func(), error) {
	switch {
	case len(b.redis) == 1:
		c := redis.NewClient(&redis.Options{Addr: b.redis[0], ContextTimeoutEnabled: true, MaxRetries: -1})
		desc := fmt.Sprintf("Redis at %s (redisstore.New on a go-redis Client)", b.redis[0])
		return redisstore.New(c, redisstore.Options{}), desc, func() { _ = c.Close() }, nil
	case len(b.redis) > 1:
		shards := map[string]string{}
		for _, a := range b.redis {
			shards[a] = a
		}
		r := redis.NewRing(&redis.RingOptions{
			Addrs: shards, ContextTimeoutEnabled: true, MaxRetries: -1,
			NewConsistentHash: func(names []string) redis.ConsistentHash {
				nodes := make([]hashring.Node, len(names))
				for i, n := range names {
					nodes[i] = hashring.Node{Name: n}
				}
				ring, err := hashring.New(nodes)
				if err != nil {
					return new(hashring.Ring) // no shard: go-redis reports it
				}
				return ring
			},
		})
		desc := fmt.Sprintf("%d Redis servers (redisstore.New on a go-redis Ring, hashring routing)", len(b.redis))
		return redisstore.New(r, redisstore.Options{}), desc, func() { _ = r.Close() }, nil
	case len(b.memcached) == 0:
		return cachestruct.NewMemory(cachestruct.MemoryOptions{}), "the embedded in-memory store (cachestruct.NewMemory)", func() {}, nil
	}
	nodes := make([]hashring.Node, len(b.memcached))
	for i, a := range b.memcached {
		nodes[i] = hashring.Node{Name: a}
	}
	ring, err := hashring.NewKetama(nodes...)
	if err != nil {
		return nil, "", nil, err
	}
	m, err := cachestruct.NewMemcached(b.memcached, cachestruct.MemcachedOptions{Picker: ring})
	if err != nil {
		return nil, "", nil, err
	}
	desc := fmt.Sprintf("%d memcached server(s) (cachestruct.NewMemcached, ketama picker)", len(b.memcached))
	return m, desc, func() { _ = m.Close() }, nil
}

// tourStructures shows counters, a lock, tags and a prevented stampede.
func tourStructures(ctx context.Context, w io.Writer, b backend) error {
	store, desc, closeStore, err := newStore(b)
	if err != nil {
		return err
	}
	defer closeStore()
	for _, k := range tourKeys {
		if err := store.Delete(ctx, k, cachestruct.DeleteOptions{}); err != nil && !errors.Is(err, cachestruct.ErrNotFound) {
			return fmt.Errorf("clearing %s: %w", k, err)
		}
	}
	fmt.Fprintf(w, "Store: %s.\n", desc)

	// Counters.
	views := cachestruct.NewCounter(store, cachestruct.CounterConfig{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 10 {
		wg.Go(func() {
			for range 100 {
				if _, err := views.Incr(ctx, "tour:views", 1); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("%d increments failed", failed.Load())
	}
	total, err := views.Get(ctx, "tour:views")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCounter: 10 goroutines × 100 Incr on tour:views -> %d (created on first use, none lost)\n", total)

	// A lock with an owner token.
	lock := cachestruct.NewLock(store, "tour:lock", cachestruct.LockConfig{TTL: 10 * time.Second})
	held, err := lock.TryLock(ctx)
	if err != nil {
		return err
	}
	_, err = lock.TryLock(ctx)
	fmt.Fprintf(w, "\nLock tour:lock: the first TryLock holds it; a second one gets %q\n", err)
	if err := held.Unlock(ctx); err != nil {
		return err
	}
	err = held.Unlock(ctx)
	fmt.Fprintf(w, "  Unlock releases it; unlocking again gets %q (errors.Is ErrNotHeld: %v)\n", err, errors.Is(err, cachestruct.ErrNotHeld))
	again, err := lock.TryLock(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  and the next TryLock holds it")
	if err := again.Unlock(ctx); err != nil {
		return err
	}

	// Tags.
	tags := cachestruct.NewTags(store, cachestruct.TagsConfig{})
	if err := tags.Set(ctx, "tour:page:42", []byte("<h1>alice</h1>"), time.Minute, "user:42", "news"); err != nil {
		return err
	}
	v, hit, err := tags.Get(ctx, "tour:page:42", "user:42", "news")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTags: tour:page:42 stored with tags user:42 and news; Get -> hit %v %q\n", hit, v)
	if err := tags.Invalidate(ctx, "news"); err != nil {
		return err
	}
	_, hit, err = tags.Get(ctx, "tour:page:42", "user:42", "news")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  Invalidate(\"news\") bumps the tag's version; Get -> hit %v (every entry tagged news misses)\n", hit)

	return tourStampede(ctx, w, store)
}

// tourStampede lets 50 goroutines ask for one missing, expensive value.
func tourStampede(ctx context.Context, w io.Writer, store cachestruct.Store) error {
	var rec cachestruct.Recorder
	cache := cachestruct.NewCache(store, cachestruct.StringCodec{}, cachestruct.CacheConfig{Observer: &rec})
	var computes atomic.Int64
	compute := func(context.Context) (string, error) {
		computes.Add(1)
		time.Sleep(100 * time.Millisecond) // an expensive query
		return "1,234 rows", nil
	}
	const callers = 50
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for range callers {
		wg.Go(func() {
			v, err := cache.GetOrCompute(ctx, "tour:report", time.Minute, compute)
			if err != nil || v != "1,234 rows" {
				wrong.Add(1)
			}
		})
	}
	wg.Wait()
	if wrong.Load() > 0 {
		return fmt.Errorf("%d callers got an error or a wrong value", wrong.Load())
	}
	if _, err := cache.GetOrCompute(ctx, "tour:report", time.Minute, compute); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nStampede: %d goroutines call GetOrCompute(\"tour:report\") on a miss; the value is computed %d time(s)\n",
		callers, computes.Load())
	// One letter per event, a debugging trick of the memcached caching
	// articles: M miss, L lock try, W written, U unlock, H hit. How many callers missed and tried depends
	// on timing; what matters is a single W.
	story := rec.Story("tour:report")
	fmt.Fprintf(w, "  the key's story (M miss, L lock try, W written, U unlock, H hit) has %d W (value written) and ends with a hit: %v\n",
		strings.Count(story, "W"), strings.HasSuffix(story, "H"))
	return nil
}
