package memcache_test

import (
	"context"
	"errors"
	"fmt"

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
