package storetest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/storetest"
	"github.com/twine-go/twine/internal/memcachedtest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) cachestruct.Store { return cachestruct.NewMemory(cachestruct.MemoryOptions{}) })
	storetest.RunBinaryKeys(t, func(*testing.T) cachestruct.Store {
		return cachestruct.NewMemory(cachestruct.MemoryOptions{BinaryKeys: true})
	})
}

func TestMemoryStructures(t *testing.T) {
	storetest.RunStructures(t, func(_ *testing.T, n int) []cachestruct.Store {
		m := cachestruct.NewMemory(cachestruct.MemoryOptions{})
		stores := make([]cachestruct.Store, n)
		for i := range stores {
			stores[i] = m
		}
		return stores
	})
}

// newMemcached returns a store on addrs, closed in t.Cleanup.
func newMemcached(t *testing.T, addrs []string, opts cachestruct.MemcachedOptions) cachestruct.Store {
	t.Helper()
	opts.Timeout = 10 * time.Second // room for a loaded CI machine
	m, err := cachestruct.NewMemcached(addrs, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestMemcached(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		addrs := []string{memcachedtest.Start(t).Addr()}
		storetest.Run(t, func(t *testing.T) cachestruct.Store {
			// One connection, as below: the differential case needs it.
			return newMemcached(t, addrs, cachestruct.MemcachedOptions{ConnsPerServer: 1})
		})
		storetest.RunBinaryKeys(t, func(t *testing.T) cachestruct.Store {
			// One connection: memcached rewrites a counter in place only
			// when no other connection still holds a reference to the item
			// (see the differential case).
			return newMemcached(t, addrs, cachestruct.MemcachedOptions{BinaryKeys: true, ConnsPerServer: 1})
		})
	})
	t.Run("cluster", func(t *testing.T) {
		addrs := memcachedtest.Addrs(memcachedtest.Cluster(t, 3))
		storetest.Run(t, func(t *testing.T) cachestruct.Store {
			return newMemcached(t, addrs, cachestruct.MemcachedOptions{ConnsPerServer: 1})
		})
	})
}

// TestMemcachedStructures runs the structures' proofs on three real
// memcached servers, each client with its own connections, as separate
// processes would have.
func TestMemcachedStructures(t *testing.T) {
	addrs := memcachedtest.Addrs(memcachedtest.Cluster(t, 3))
	storetest.RunStructures(t, func(t *testing.T, n int) []cachestruct.Store {
		stores := make([]cachestruct.Store, n)
		for i := range stores {
			stores[i] = newMemcached(t, addrs, cachestruct.MemcachedOptions{})
		}
		return stores
	})
}

// FuzzMemcached explores operation sequences on a real memcached against
// the reference with the fuzzer; under plain go test it runs its seeds.
func FuzzMemcached(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 2, 0, 0, 0, 4, 0, 0, 1, 3, 0, 1, 0, 3, 0, 1, 0})
	f.Add([]byte{5, 3, 0, 10, 6, 3, 1, 250, 5, 3, 5, 1, 2, 3, 2, 0})
	f.Add([]byte{2, 1, 0, 0, 2, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 8, 1, 0, 0})
	addr := memcachedtest.Start(f).Addr()
	m, err := cachestruct.NewMemcached([]string{addr}, cachestruct.MemcachedOptions{BinaryKeys: true, ConnsPerServer: 1})
	require.NoError(f, err)
	f.Cleanup(func() { _ = m.Close() })
	f.Fuzz(func(t *testing.T, prog []byte) {
		storetest.Differential(t, cachestruct.NewMemory(cachestruct.MemoryOptions{BinaryKeys: true}), m, prog, true)
	})
}
