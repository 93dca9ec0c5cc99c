package cachestruct

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcache"
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

// TestMemcachedLoadMaxItemSize: LoadMaxItemSize returns the smallest
// server's item size and makes each server's values checked against its
// own, replacing a configured MaxItemSize.
func TestMemcachedLoadMaxItemSize(t *testing.T) {
	servers := []*memcachedtest.Server{
		memcachedtest.Start(t, memcachedtest.MaxItemSize(2<<20)),
		memcachedtest.Start(t, memcachedtest.MaxItemSize(4<<20)),
	}
	addrs := memcachedtest.Addrs(servers)
	m := newMemcachedStore(t, addrs, MemcachedOptions{MaxItemSize: 1 << 20, Picker: prefixPicker(addrs)})
	ctx := context.Background()
	big := make([]byte, 1500<<10)
	_, err := m.Set(ctx, "0k", big, SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge, "the configured 1 MiB")
	n, err := m.LoadMaxItemSize(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2<<20, n, "the smallest server's")
	_, err = m.Set(ctx, "0k", big, SetOptions{})
	require.NoError(t, err)
	_, err = m.Set(ctx, "0k", make([]byte, 3<<20), SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
	_, err = m.Set(ctx, "1k", make([]byte, 3<<20), SetOptions{})
	require.NoError(t, err, "the second server's own 4 MiB")

	servers[1].Stop()
	_, err = m.LoadMaxItemSize(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
}

// prefixPicker sends a key starting with a digit i to addrs[i].
func prefixPicker(addrs []string) pickerFunc {
	return func(key string) string { return addrs[int(key[0]-'0')] }
}

// pickerFunc is a Picker made of a function.
type pickerFunc func(string) string

func (f pickerFunc) Get(key string) string { return f(key) }

// TestMemcachedValueTooLargeKeepsOldValue is the reported case: a server
// on -I 512k, the default options, and a value larger than 512 KiB over
// an existing key. The store checked values against 1 MiB, so memcached
// received the value, refused it and deleted the key's old value. Each
// server's item size is now learnt when the store connects to it (also
// by a multi-get, also by writers racing on new connections): a value
// too large for its server reports ErrValueTooLarge and the old value
// stays, and a value up to the server's size is stored, also above the
// 1 MiB of memcached's default -I.
func TestMemcachedValueTooLargeKeepsOldValue(t *testing.T) {
	const small, large = 512 << 10, 2 << 20
	servers := []*memcachedtest.Server{
		memcachedtest.Start(t, memcachedtest.MaxItemSize(small)),
		memcachedtest.Start(t, memcachedtest.MaxItemSize(large)),
	}
	addrs := memcachedtest.Addrs(servers)
	ctx := context.Background()
	key := "0k"
	fit := small - len(key) - memcache.ItemOverhead
	cases := []struct {
		name  string
		first func(m *Memcached) // the request that opens the connections
	}{
		{"set first", func(m *Memcached) {
			_, err := m.Set(ctx, key, []byte("old"), SetOptions{})
			require.NoError(t, err)
		}},
		{"multi-get first", func(m *Memcached) {
			_, err := m.GetMulti(ctx, []string{"0a", "1a"})
			require.NoError(t, err)
		}},
		{"racing writers first", func(m *Memcached) {
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					_, err := m.Set(ctx, key, make([]byte, 700<<10), SetOptions{})
					assert.ErrorIs(t, err, ErrValueTooLarge)
				})
			}
			wg.Wait()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemcachedStore(t, addrs, MemcachedOptions{Picker: prefixPicker(addrs)})
			tc.first(m)
			_, err := m.Set(ctx, key, []byte("old"), SetOptions{})
			require.NoError(t, err)
			for _, n := range []int{fit + 1, 600 << 10, 700 << 10, 1 << 20, 3 << 20} {
				_, err := m.Set(ctx, key, make([]byte, n), SetOptions{})
				require.ErrorIs(t, err, ErrValueTooLarge, "%d bytes", n)
				_, err = m.Set(ctx, key, make([]byte, n), SetOptions{Mode: ModeAppend})
				require.ErrorIs(t, err, ErrValueTooLarge, "%d bytes", n)
				it, ok, err := m.Get(ctx, key, GetOptions{})
				require.NoError(t, err)
				require.True(t, ok, "%d bytes: the old value is still there", n)
				require.Equal(t, "old", string(it.Value))
			}
			_, err = m.Set(ctx, key, make([]byte, fit), SetOptions{})
			require.NoError(t, err, "the largest value that fits")

			// The other server keeps its own, larger size.
			_, err = m.Set(ctx, "1k", make([]byte, 1500<<10), SetOptions{})
			require.NoError(t, err, "above the 1 MiB default, within the server's 2 MiB")
			_, err = m.Set(ctx, "1k", make([]byte, large), SetOptions{})
			require.ErrorIs(t, err, ErrValueTooLarge)
			it, ok, err := m.Get(ctx, "1k", GetOptions{})
			require.NoError(t, err)
			require.True(t, ok)
			require.Len(t, it.Value, 1500<<10)
		})
	}
}
