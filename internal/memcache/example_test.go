package memcache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// CheckKey accepts text keys, and with binary keys on any short key, which
// is then sent base64 encoded.
func ExampleCheckKey() {
	for _, key := range []string{"user:42", "user 42", "x\r\nflush_all"} {
		fmt.Printf("%q text=%v binary=%v\n", key,
			memcache.CheckKey(key, false) == nil, memcache.CheckKey(key, true) == nil)
	}
	// Output:
	// "user:42" text=true binary=true
	// "user 42" text=false binary=true
	// "x\r\nflush_all" text=false binary=true
}

// New does not connect; invalid keys are rejected before any I/O.
func ExampleNew() {
	c := memcache.New("127.0.0.1:11211", memcache.Config{})
	defer c.Close()
	_, err := c.Get(context.Background(), "", memcache.GetOptions{})
	fmt.Println(errors.Is(err, memcache.ErrInvalidKey))
	// Output: true
}

// ItemSize is what memcached counts against its item size (-I): the key,
// the value, its header and, when they are not zero, the client flags.
func ExampleItemSize() {
	fmt.Println(memcache.ItemSize(3, 100, 0), memcache.ItemSize(3, 100, 7))
	// Output: 162 166
}

// WholeSeconds rounds a TTL up to whole seconds, as memcached does.
func ExampleWholeSeconds() {
	fmt.Println(memcache.WholeSeconds(time.Millisecond), memcache.WholeSeconds(1500*time.Millisecond),
		memcache.WholeSeconds(2*time.Second), memcache.WholeSeconds(-1500*time.Millisecond))
	// Output: 1 2 2 -1
}

// GetMulti hands each hit to a function; every key is checked before
// anything is sent.
func ExampleClient_GetMulti() {
	c := memcache.New("127.0.0.1:11211", memcache.Config{})
	defer c.Close()
	err := c.GetMulti(context.Background(), []string{"a", "b c"}, memcache.GetMultiOptions{Classic: true},
		func(key string, it memcache.Item) { fmt.Println(key, string(it.Value)) })
	fmt.Println(errors.Is(err, memcache.ErrInvalidKey))
	// Output: true
}
