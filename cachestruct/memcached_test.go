package cachestruct

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// newMemcachedStore returns a store on addrs, closed in t.Cleanup.
func newMemcachedStore(t *testing.T, addrs []string, opts MemcachedOptions) *Memcached {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second // room for a loaded CI machine; fault tests set their own
	}
	m, err := NewMemcached(addrs, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestMemcachedLoadMaxItemSize(t *testing.T) {
	servers := []*memcachedtest.Server{
		memcachedtest.Start(t, memcachedtest.MaxItemSize(2<<20)),
		memcachedtest.Start(t, memcachedtest.MaxItemSize(4<<20)),
	}
	m := newMemcachedStore(t, memcachedtest.Addrs(servers), MemcachedOptions{})
	ctx := context.Background()
	big := make([]byte, 1500<<10)
	_, err := m.Set(ctx, "k", big, SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge, "the default is 1 MiB")
	n, err := m.LoadMaxItemSize(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2<<20, n, "the smallest server's")
	_, err = m.Set(ctx, "k", big, SetOptions{})
	require.NoError(t, err)
	_, err = m.Set(ctx, "k", make([]byte, 2<<20), SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)

	servers[1].Stop()
	_, err = m.LoadMaxItemSize(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
}
