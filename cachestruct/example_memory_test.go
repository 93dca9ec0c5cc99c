package cachestruct_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twine-go/twine/cachestruct"
)

// NewMemory gives an in-process Store with memcached's semantics: here a
// plain set and get, an add that fails on an existing item, and a counter
// created on its first increment.
func ExampleNewMemory() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{MaxBytes: 16 << 20})

	cas, _ := store.Set(ctx, "greeting", []byte("hello"), cachestruct.SetOptions{Flags: 1})
	item, found, _ := store.Get(ctx, "greeting", cachestruct.GetOptions{})
	fmt.Println(found, string(item.Value), item.Flags, item.CAS == cas, item.TTL == cachestruct.NoExpiry)

	_, err := store.Set(ctx, "greeting", []byte("bonjour"), cachestruct.SetOptions{Mode: cachestruct.ModeAdd})
	fmt.Println(errors.Is(err, cachestruct.ErrNotStored))

	// The creating call returns Initial: the delta is not applied, as on
	// memcached 1.6.
	views := cachestruct.IncrOptions{Vivify: true, Initial: 1}
	a, _ := store.Incr(ctx, "views", 1, views)
	b, _ := store.Incr(ctx, "views", 1, views)
	c, _ := store.Incr(ctx, "views", 1, views)
	fmt.Println(a, b, c)

	_, found, _ = store.Get(ctx, "missing", cachestruct.GetOptions{})
	fmt.Println(found)
	// Output:
	// true hello 1 true true
	// true
	// 1 2 3
	// false
}

// With an injected clock the TTLs are easy to follow: they count whole
// seconds, and an item is gone when its time is up.
func ExampleNewMemory_clock() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{
		Now: func() time.Time { return now },
	})

	_, _ = store.Set(ctx, "session", []byte("data"), cachestruct.SetOptions{TTL: 90 * time.Second})
	now = now.Add(30*time.Second + 500*time.Millisecond)
	item, _, _ := store.Get(ctx, "session", cachestruct.GetOptions{})
	fmt.Println(item.TTL)

	now = now.Add(60 * time.Second)
	_, found, _ := store.Get(ctx, "session", cachestruct.GetOptions{})
	fmt.Println(found)
	// Output:
	// 1m0s
	// false
}

// A lease stops a stampede: the first reader of a missing key wins the
// right to compute it, the others see that someone is on it, and a writer
// holding an outdated CAS cannot overwrite the fresh value.
func ExampleNewMemory_lease() {
	ctx := context.Background()
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	lease := cachestruct.GetOptions{Lease: 10 * time.Second}

	first, _, _ := store.Get(ctx, "report", lease)
	second, _, _ := store.Get(ctx, "report", lease)
	fmt.Println("first won:", first.Won, "second busy:", second.Busy)

	_, err := store.Set(ctx, "report", []byte("42 rows"), cachestruct.SetOptions{CAS: first.CAS, TTL: time.Minute})
	fmt.Println("winner stored:", err == nil)
	_, err = store.Set(ctx, "report", []byte("old rows"), cachestruct.SetOptions{CAS: first.CAS})
	fmt.Println("late writer:", errors.Is(err, cachestruct.ErrCASConflict))

	item, _, _ := store.Get(ctx, "report", lease)
	fmt.Println(string(item.Value), item.Won, item.Busy)
	// Output:
	// first won: true second busy: true
	// winner stored: true
	// late writer: true
	// 42 rows false false
}
