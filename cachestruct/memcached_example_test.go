package cachestruct_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/twine-go/twine/cachestruct"
)

// ring is a stand-in for *hashring.Ring: any type with Get (and, for
// failover, AppendN) can pick the servers.
type ring struct{ nodes []string }

func (r ring) Get(key string) string { return r.nodes[len(key)%len(r.nodes)] }

func (r ring) AppendN(dst []string, key string, n int) ([]string, error) {
	i := len(key) % len(r.nodes)
	for j := range min(n, len(r.nodes)) {
		dst = append(dst, r.nodes[(i+j)%len(r.nodes)])
	}
	return dst, nil
}

// NewMemcached connects lazily, so building a store needs no server; keys
// and values are checked before anything is sent. With MaxItemSize left
// at zero, each server's item size is learnt when the store connects to
// it; set, it is checked without a server.
func ExampleNewMemcached() {
	store, err := cachestruct.NewMemcached([]string{"127.0.0.1:11211"}, cachestruct.MemcachedOptions{
		MaxItemSize: 1 << 20,
	})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	ctx := context.Background()
	_, _, err = store.Get(ctx, "user 42\r\nflush_all", cachestruct.GetOptions{})
	fmt.Println(errors.Is(err, cachestruct.ErrInvalidKey))
	_, err = store.Set(ctx, "big", make([]byte, 2<<20), cachestruct.SetOptions{})
	fmt.Println(errors.Is(err, cachestruct.ErrValueTooLarge))
	// Output:
	// true
	// true
}

// A sharded store takes a Picker such as *hashring.Ring; with AppendN it
// also fails over to the next server when one is ejected.
func ExampleNewMemcached_sharded() {
	servers := []string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}
	store, err := cachestruct.NewMemcached(servers, cachestruct.MemcachedOptions{
		Picker:     ring{servers},
		EjectAfter: 3,
	})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	var _ cachestruct.SuccessorPicker = ring{servers}
	fmt.Println(len(store.Ejected()))
	// Output:
	// 0
}

// GetMultiPlain reads values, flags and CAS with one classic gets per
// server; keys are checked before anything is sent, as for GetMulti, and
// its items' TTL is TTLUnknown.
func ExampleMemcached_GetMultiPlain() {
	store, err := cachestruct.NewMemcached([]string{"127.0.0.1:11211"}, cachestruct.MemcachedOptions{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	_, err = store.GetMultiPlain(context.Background(), []string{"tag:a", "tag b"})
	fmt.Println(errors.Is(err, cachestruct.ErrInvalidKey), cachestruct.TTLUnknown)
	// Output: true -2ns
}
