package cachestruct

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// newMemcachedStore returns a store on addrs, closed in t.Cleanup.
func newMemcachedStore(t *testing.T, addrs []string, opts MemcachedOptions) *Memcached {
	t.Helper()
	m, err := NewMemcached(addrs, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestMemcachedContract(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		addrs := []string{memcachedtest.Start(t).Addr()}
		runStoreContract(t, func(t *testing.T) Store { return newMemcachedStore(t, addrs, MemcachedOptions{}) })
		runBinaryKeyContract(t, func(t *testing.T) Store {
			return newMemcachedStore(t, addrs, MemcachedOptions{BinaryKeys: true})
		})
	})
	t.Run("cluster", func(t *testing.T) {
		addrs := memcachedtest.Addrs(memcachedtest.Cluster(t, 3))
		runStoreContract(t, func(t *testing.T) Store { return newMemcachedStore(t, addrs, MemcachedOptions{}) })
		runBinaryKeyContract(t, func(t *testing.T) Store {
			return newMemcachedStore(t, addrs, MemcachedOptions{BinaryKeys: true})
		})
	})
}
