package cachestruct_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twine-go/twine/cachestruct"
)

// A fixed clock makes the examples' output deterministic.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)} }

func ExampleCounter() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	views := cachestruct.NewCounter(store, cachestruct.CounterConfig{TTL: 24 * time.Hour})

	n, _ := views.Incr(ctx, "views:article:42", 1) // created by this increment
	fmt.Println(n)
	n, _ = views.Incr(ctx, "views:article:42", 2)
	fmt.Println(n)
	n, _ = views.Get(ctx, "views:article:7") // never counted: zero, not an error
	fmt.Println(n)
	// Output:
	// 1
	// 3
	// 0
}

func ExampleCounter_load() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	db := map[string]uint64{"downloads:v1.0": 1500} // the durable totals
	downloads := cachestruct.NewCounter(store, cachestruct.CounterConfig{
		Load: func(_ context.Context, key string) (uint64, error) { return db[key], nil },
	})
	n, _ := downloads.Incr(ctx, "downloads:v1.0", 1) // seeded from db, then incremented
	fmt.Println(n)
	// Output: 1501
}

func ExampleOnline() {
	ctx := context.Background()
	clk := newClock()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{Now: clk.Now})
	online := cachestruct.NewOnline(store, "online", cachestruct.OnlineConfig{
		Slot: time.Minute, Slots: 5, Now: clk.Now,
	})
	for _, user := range []string{"alice", "bob", "alice"} {
		_ = online.Hit(ctx, user)
	}
	clk.Advance(time.Minute)
	_ = online.Hit(ctx, "carol")
	n, _ := online.Count(ctx) // the complete minutes only
	fmt.Println("online:", n)
	clk.Advance(time.Minute)
	n, _ = online.Count(ctx)
	fmt.Println("online:", n)
	// Output:
	// online: 2
	// online: 3
}

func ExampleLock() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	lock := cachestruct.NewLock(store, "lock:rebuild-index", cachestruct.LockConfig{TTL: 30 * time.Second})

	held, err := lock.TryLock(ctx)
	fmt.Println("first:", err)
	_, err = lock.TryLock(ctx)
	fmt.Println("second:", err, errors.Is(err, cachestruct.ErrLocked))

	fmt.Println("unlock:", held.Unlock(ctx))
	fmt.Println("unlock again:", held.Unlock(ctx))

	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	held, err = lock.Lock(ctx) // waits while somebody holds it
	fmt.Println("lock:", err)
	_ = held.Unlock(ctx)
	// Output:
	// first: <nil>
	// second: cachestruct: locked true
	// unlock: <nil>
	// unlock again: cachestruct: lock not held
	// lock: <nil>
}

func ExampleTags() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	tags := cachestruct.NewTags(store, cachestruct.TagsConfig{})

	_ = tags.Set(ctx, "page:/users/alice", []byte("<h1>alice</h1>"), time.Hour, "user:alice", "layout")
	_ = tags.Set(ctx, "page:/users/bob", []byte("<h1>bob</h1>"), time.Hour, "user:bob", "layout")

	_ = tags.Invalidate(ctx, "user:alice") // alice edited her profile
	_, found, _ := tags.Get(ctx, "page:/users/alice", "user:alice", "layout")
	fmt.Println("alice cached:", found)
	v, found, _ := tags.Get(ctx, "page:/users/bob", "user:bob", "layout")
	fmt.Println("bob cached:", found, string(v))

	_ = tags.Invalidate(ctx, "layout") // a new layout: every page
	_, found, _ = tags.Get(ctx, "page:/users/bob", "user:bob", "layout")
	fmt.Println("bob cached:", found)
	// Output:
	// alice cached: false
	// bob cached: true <h1>bob</h1>
	// bob cached: false
}

func ExampleTags_Versions() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	tags := cachestruct.NewTags(store, cachestruct.TagsConfig{})

	// Take the versions before reading the data the value is built from...
	vs, _ := tags.Versions(ctx, "table:users")
	value := []byte("3 users") // SELECT ... FROM users
	// ...so that a write that lands meanwhile invalidates the new entry.
	_ = tags.Invalidate(ctx, "table:users")
	_ = tags.SetVersions(ctx, "count:users", value, time.Hour, vs)

	_, found, _ := tags.Get(ctx, "count:users", "table:users")
	fmt.Println("cached:", found)
	// Output: cached: false
}

func ExampleCache_GetOrCompute() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	var story cachestruct.Recorder
	type profile struct {
		Name  string
		Posts int
	}
	cache := cachestruct.NewCache(store, cachestruct.JSONCodec[profile]{}, cachestruct.CacheConfig{Observer: &story})

	load := func(context.Context) (profile, error) {
		fmt.Println("computing")
		return profile{Name: "alice", Posts: 3}, nil
	}
	for range 3 {
		p, err := cache.GetOrCompute(ctx, "profile:alice", time.Minute, load)
		fmt.Println(p, err)
	}
	fmt.Println(story.Story("profile:alice"))
	// Output:
	// computing
	// {alice 3} <nil>
	// {alice 3} <nil>
	// {alice 3} <nil>
	// MLWUHH
}

func ExampleCache_Invalidate() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	cache := cachestruct.NewCache(store, cachestruct.StringCodec{}, cachestruct.CacheConfig{})

	_ = cache.Set(ctx, "motd", "hello", time.Hour)
	_ = cache.Invalidate(ctx, "motd") // stale: the next caller recomputes, others get "hello" meanwhile
	v, _ := cache.GetOrCompute(ctx, "motd", time.Hour, func(context.Context) (string, error) {
		return "hello again", nil
	})
	fmt.Println(v)
	// Output: hello again
}

func ExampleEventLog() {
	ctx := context.Background()
	clk := newClock()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{Now: clk.Now})
	log := cachestruct.NewEventLog(store, "errors", cachestruct.EventLogConfig{
		Chunk: time.Minute, Chunks: 60, Now: clk.Now,
	})
	for _, msg := range []string{"db timeout", "disk full", "db timeout"} {
		_ = log.Append(ctx, []byte(msg))
		clk.Advance(40 * time.Second)
	}
	last, _ := log.Tail(ctx, 2)
	for _, e := range last {
		fmt.Println(e.Time.Format("15:04:05"), string(e.Data))
	}
	first, _ := log.Range(ctx, clk.Now().Add(-time.Hour), clk.Now().Add(-time.Minute))
	fmt.Println(len(first), "events more than a minute old")
	// Output:
	// 10:00:40 disk full
	// 10:01:20 db timeout
	// 2 events more than a minute old
}

func ExampleStats() {
	ctx := context.Background()
	clk := newClock()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{Now: clk.Now})
	stats := cachestruct.NewStats(store, "hits", cachestruct.StatsConfig{Now: clk.Now})
	for _, article := range []string{"a42", "a42", "a7"} {
		_ = stats.Incr(ctx, article, 1)
	}
	// A real sink upserts into SQL and records flushID in the same
	// transaction (see examples/statsflush).
	var rows []string
	sink := cachestruct.SinkFunc(func(_ context.Context, flushID string, counts []cachestruct.StatCount) error {
		for _, c := range counts {
			rows = append(rows, fmt.Sprint(c.ID, " ", c.Hour.Format("2006-01-02 15h"), " ", c.N))
		}
		return nil
	})
	n, err := stats.Flush(ctx, sink)
	slices.Sort(rows)
	fmt.Println(strings.Join(rows, "\n"))
	fmt.Println(n, err)
	// Output:
	// a42 2026-11-23 10h 2
	// a7 2026-11-23 10h 1
	// 2 <nil>
}

func ExampleRecorder() {
	var story cachestruct.Recorder
	for _, l := range []cachestruct.Letter{cachestruct.LetterMiss, cachestruct.LetterLockTry,
		cachestruct.LetterWritten, cachestruct.LetterUnlock, cachestruct.LetterHit} {
		story.Observe("k", l)
	}
	fmt.Println(story.Story("k"), story.Keys())
	// Output: MLWUH [k]
}

func ExampleObserverFunc() {
	hits := map[cachestruct.Letter]int{}
	var mu sync.Mutex
	metrics := cachestruct.ObserverFunc(func(_ string, l cachestruct.Letter) {
		mu.Lock()
		hits[l]++
		mu.Unlock()
	})
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	c := cachestruct.NewCounter(store, cachestruct.CounterConfig{Observer: metrics})
	_, _ = c.Get(context.Background(), "k")
	_, _ = c.Incr(context.Background(), "k", 1)
	_, _ = c.Get(context.Background(), "k")
	fmt.Println("hits:", hits[cachestruct.LetterHit], "misses:", hits[cachestruct.LetterMiss])
	// Output: hits: 1 misses: 1
}

func ExampleHeld_Extend() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	lock := cachestruct.NewLock(store, "lock:report", cachestruct.LockConfig{TTL: 10 * time.Second, Owner: "worker-1"})
	held, _ := lock.Lock(ctx)
	fmt.Println("owner:", held.Owner())
	// A long job extends its lock before the TTL runs out.
	fmt.Println("extend:", held.Extend(ctx, time.Minute))
	fmt.Println("unlock:", held.Unlock(ctx))
	fmt.Println("extend after unlock:", held.Extend(ctx, time.Minute))
	// Output:
	// owner: worker-1
	// extend: <nil>
	// unlock: <nil>
	// extend after unlock: cachestruct: lock not held
}

func ExampleCodecFuncs() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	// A user-supplied format: a time as its RFC 3339 text.
	codec := cachestruct.CodecFuncs[time.Time]{
		EncodeFunc: func(t time.Time) ([]byte, error) { return t.MarshalText() },
		DecodeFunc: func(b []byte) (time.Time, error) {
			var t time.Time
			err := t.UnmarshalText(b)
			return t, err
		},
	}
	cache := cachestruct.NewCache(store, codec, cachestruct.CacheConfig{})
	deploy := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	_ = cache.Set(ctx, "last-deploy", deploy, time.Hour)
	t, found, _ := cache.Get(ctx, "last-deploy")
	fmt.Println(t.Format(time.RFC3339), found)
	// Output: 2026-11-22T04:00:00Z true
}
