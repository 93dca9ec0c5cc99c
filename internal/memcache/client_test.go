package memcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// newClient starts a memcached and returns a client of it, closed in
// t.Cleanup.
func newClient(t *testing.T, cfg Config, opts ...memcachedtest.Option) (*Client, *memcachedtest.Server) {
	t.Helper()
	s := memcachedtest.Start(t, opts...)
	c := New(s.Addr(), cfg)
	t.Cleanup(func() { _ = c.Close() })
	return c, s
}

func TestClientCommands(t *testing.T) {
	c, _ := newClient(t, Config{})
	ctx := context.Background()

	_, err := c.Get(ctx, "missing", GetOptions{})
	require.ErrorIs(t, err, ErrCacheMiss)

	cas, err := c.Set(ctx, "k", []byte("hello"), SetOptions{Flags: 42, TTL: 100 * time.Second})
	require.NoError(t, err)
	require.NotZero(t, cas)
	it, err := c.Get(ctx, "k", GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "hello", string(it.Value))
	assert.Equal(t, uint32(42), it.Flags)
	assert.Equal(t, cas, it.CAS)
	assert.InDelta(t, 100, it.TTL, 1)

	_, err = c.Set(ctx, "k", []byte("x"), SetOptions{Mode: ModeAdd})
	require.ErrorIs(t, err, ErrNotStored)
	_, err = c.Set(ctx, "k", []byte("x"), SetOptions{CAS: cas + 1000})
	require.ErrorIs(t, err, ErrCASConflict)
	_, err = c.Set(ctx, "nokey", []byte("x"), SetOptions{CAS: 5})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = c.Set(ctx, "k", []byte("!"), SetOptions{Mode: ModeAppend})
	require.NoError(t, err)
	_, err = c.Set(ctx, "k", []byte("<"), SetOptions{Mode: ModePrepend})
	require.NoError(t, err)
	it, err = c.Get(ctx, "k", GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "<hello!", string(it.Value))

	require.ErrorIs(t, c.Delete(ctx, "k", DeleteOptions{CAS: it.CAS + 1000}), ErrCASConflict)
	require.NoError(t, c.Delete(ctx, "k", DeleteOptions{CAS: it.CAS}))
	require.ErrorIs(t, c.Delete(ctx, "k", DeleteOptions{}), ErrNotFound)

	_, err = c.Incr(ctx, "n", 1, ArithOptions{})
	require.ErrorIs(t, err, ErrNotFound)
	n, err := c.Incr(ctx, "n", 5, ArithOptions{Vivify: true, Initial: 10})
	require.NoError(t, err)
	assert.Equal(t, uint64(10), n, "vivify does not apply the delta")
	n, err = c.Incr(ctx, "n", 5, ArithOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(15), n)
	n, err = c.Decr(ctx, "n", 100, ArithOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(0), n)
	_, err = c.Set(ctx, "n", []byte("18446744073709551615"), SetOptions{})
	require.NoError(t, err)
	n, err = c.Incr(ctx, "n", 2, ArithOptions{})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n, "wraps at 2^64")
	_, err = c.Set(ctx, "s", []byte("abc"), SetOptions{})
	require.NoError(t, err)
	_, err = c.Incr(ctx, "s", 1, ArithOptions{})
	require.ErrorIs(t, err, ErrNotNumber)

	require.NoError(t, c.Noop(ctx))
	st, err := c.Stats(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, "1.6.18", st["version"])
	st, err = c.Stats(ctx, "settings")
	require.NoError(t, err)
	assert.Equal(t, "1048576", st["item_size_max"])
	_, err = c.Stats(ctx, "settings\r\nflush_all")
	require.ErrorIs(t, err, ErrInvalidKey)
}

func TestClientLeaseAndStale(t *testing.T) {
	c, _ := newClient(t, Config{})
	ctx := context.Background()

	it, err := c.Get(ctx, "l", GetOptions{Vivify: 30 * time.Second})
	require.NoError(t, err)
	assert.True(t, it.Won)
	assert.Empty(t, it.Value)
	it2, err := c.Get(ctx, "l", GetOptions{Vivify: 30 * time.Second})
	require.NoError(t, err)
	assert.False(t, it2.Won)
	assert.True(t, it2.Busy)
	_, err = c.Set(ctx, "l", []byte("v"), SetOptions{CAS: it.CAS, TTL: time.Minute})
	require.NoError(t, err)

	require.NoError(t, c.Delete(ctx, "l", DeleteOptions{Invalidate: true, TTL: 30 * time.Second}))
	it, err = c.Get(ctx, "l", GetOptions{})
	require.NoError(t, err)
	assert.True(t, it.Stale)
	assert.True(t, it.Won)
	assert.Equal(t, "v", string(it.Value))
	assert.EqualValues(t, 30, it.TTL)
	it, err = c.Get(ctx, "l", GetOptions{})
	require.NoError(t, err)
	assert.True(t, it.Stale)
	assert.True(t, it.Busy)
	assert.False(t, it.Won)

	_, err = c.Set(ctx, "r", []byte("v"), SetOptions{TTL: 10 * time.Second})
	require.NoError(t, err)
	it, err = c.Get(ctx, "r", GetOptions{Recache: 30 * time.Second})
	require.NoError(t, err)
	assert.True(t, it.Won)
	it, err = c.Get(ctx, "r", GetOptions{Recache: 30 * time.Second})
	require.NoError(t, err)
	assert.True(t, it.Busy)
}

func TestClientSetInvalidate(t *testing.T) {
	c, _ := newClient(t, Config{})
	ctx := context.Background()
	old, err := c.Set(ctx, "k", []byte("a"), SetOptions{})
	require.NoError(t, err)
	_, err = c.Set(ctx, "k", []byte("b"), SetOptions{})
	require.NoError(t, err)
	_, err = c.Set(ctx, "k", []byte("late"), SetOptions{CAS: old})
	require.ErrorIs(t, err, ErrCASConflict)
	// With I, a write carrying an older CAS is accepted but the item is
	// marked stale, so the next reader recomputes it.
	_, err = c.Set(ctx, "k", []byte("late"), SetOptions{CAS: old, Invalidate: true})
	require.NoError(t, err)
	it, err := c.Get(ctx, "k", GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "late", string(it.Value))
	assert.True(t, it.Stale)
	assert.True(t, it.Won)
}

func TestClientGetMulti(t *testing.T) {
	c, _ := newClient(t, Config{BinaryKeys: true})
	ctx := context.Background()
	var keys []string
	for i := range 300 {
		k := fmt.Sprintf("m%d", i)
		if i%7 == 0 {
			k = fmt.Sprintf("bin \r\n\x00%d", i)
		}
		keys = append(keys, k)
		if i%3 != 0 {
			_, err := c.Set(ctx, k, []byte("v"+k), SetOptions{Flags: uint32(i)})
			require.NoError(t, err)
		}
	}
	keys = append(keys, keys[1], keys[0]) // duplicates: a hit and a miss
	items, err := getMap(ctx, c, keys, GetMultiOptions{})
	require.NoError(t, err)
	assert.Len(t, items, 200)
	for i, k := range keys[:300] {
		it, ok := items[k]
		require.Equal(t, i%3 != 0, ok, k)
		if ok {
			assert.Equal(t, "v"+k, string(it.Value))
			assert.Equal(t, uint32(i), it.Flags)
		}
	}
	// Values share buffers but not capacity: appending to one leaves the
	// others alone.
	a, b := items[keys[1]].Value, items[keys[2]].Value
	want := string(b)
	_ = append(a, "XXXXXXXX"...)
	assert.Equal(t, want, string(b))

	items, err = getMap(ctx, c, nil, GetMultiOptions{})
	require.NoError(t, err)
	assert.Empty(t, items)
}

// TestClientGetMultiDuplicateWins: the first read of a stale item wins it;
// a duplicate later in the batch must not hide that.
func TestClientGetMultiDuplicateWins(t *testing.T) {
	c, _ := newClient(t, Config{})
	ctx := context.Background()
	for _, n := range []int{2, 300} { // one part, and a batch split over both connections
		key := fmt.Sprint("dup", n)
		_, err := c.Set(ctx, key, []byte("v"), SetOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Delete(ctx, key, DeleteOptions{Invalidate: true}))
		keys := make([]string, n)
		for i := range keys {
			keys[i] = key
		}
		items, err := getMap(ctx, c, keys, GetMultiOptions{})
		require.NoError(t, err)
		require.Len(t, items, 1)
		assert.True(t, items[key].Won, "n=%d", n)
		assert.True(t, items[key].Stale)
		// Both connections are still in step (with n=300 one part of the
		// split is empty and must not be sent).
		for i := range 4 {
			_, err := c.Get(ctx, fmt.Sprint("absent", i), GetOptions{})
			require.ErrorIs(t, err, ErrCacheMiss)
		}
	}
	// Every occurrence of a key goes to the same part, in order.
	keys := []string{"a", "b", "a", "c", "b", "d", "a"}
	for n := 1; n <= 4; n++ {
		where := map[string]int{}
		total := 0
		for i, p := range split(nil, keys, n) {
			total += len(p)
			for _, k := range p {
				if j, ok := where[k]; ok {
					assert.Equal(t, j, i, "%q split over parts", k)
				}
				where[k] = i
			}
		}
		assert.Equal(t, len(keys), total)
	}
}

// TestSplitParts: whatever the number of parts asked for, split returns at
// most maxMultiParts parts (the size of Multi's arrays) holding every key
// once.
func TestSplitParts(t *testing.T) {
	keys := make([]string, 2000)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	for n := 0; n <= 70; n++ {
		parts := split(nil, keys, n)
		assert.LessOrEqual(t, len(parts), maxMultiParts, "n=%d", n)
		assert.Equal(t, max(1, min(n, maxMultiParts)), len(parts), "n=%d", n)
		total := 0
		for _, p := range parts {
			total += len(p)
		}
		assert.Equal(t, len(keys), total, "n=%d", n)
	}
}

// TestClientGetMultiHits: every hit is passed once per occurrence of its
// key, the first read first, in request order on one connection; misses are
// not passed; a nil function is a programmer error.
func TestClientGetMultiHits(t *testing.T) {
	c, _ := newClient(t, Config{})
	ctx := context.Background()
	_, err := c.Set(ctx, "f:stale", []byte("old"), SetOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx, "f:stale", DeleteOptions{Invalidate: true}))
	for _, k := range []string{"f:a", "f:b"} {
		_, err := c.Set(ctx, k, []byte("v"+k), SetOptions{})
		require.NoError(t, err)
	}
	type hit struct {
		key   string
		value string
		won   bool
		busy  bool
	}
	var got []hit
	err = c.GetMulti(ctx, []string{"f:b", "f:stale", "f:missing", "f:a", "f:stale"}, GetMultiOptions{}, func(k string, it Item) {
		got = append(got, hit{k, string(it.Value), it.Won, it.Busy})
	})
	require.NoError(t, err)
	assert.Equal(t, []hit{
		{"f:b", "vf:b", false, false},
		{"f:stale", "old", true, false},
		{"f:a", "vf:a", false, false},
		{"f:stale", "old", false, true},
	}, got)

	for _, opt := range []GetMultiOptions{{}, {Classic: true}} {
		require.NoError(t, c.GetMulti(ctx, nil, opt, func(string, Item) { t.Error("called for no keys") }))
		err = c.GetMulti(ctx, []string{"f:a", "bad key"}, opt, func(string, Item) { t.Error("called despite a bad key") })
		require.ErrorIs(t, err, ErrInvalidKey)
		assert.PanicsWithValue(t, "memcache: GetMulti with a nil hit function", func() {
			_ = c.GetMulti(ctx, []string{"f:a"}, opt, nil)
		})
	}
}

// TestClientGetMultiClassic: a classic multi-get reads values, flags and
// CAS of every key in one gets, with TTLUnknown and no marks: a stale
// item reads as fresh and its win is left for the next mg, a lease
// placeholder reads as an empty value. Duplicates and misses come out as
// with mg, a batch of 300 keys is split over both connections, and a
// batch with a base64 key goes the mg way.
func TestClientGetMultiClassic(t *testing.T) {
	c, _ := newClient(t, Config{BinaryKeys: true})
	ctx := context.Background()
	casA, err := c.Set(ctx, "c:a", []byte("va"), SetOptions{Flags: 7, TTL: time.Hour})
	require.NoError(t, err)
	_, err = c.Set(ctx, "c:stale", []byte("old"), SetOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx, "c:stale", DeleteOptions{Invalidate: true}))
	lease, err := c.Get(ctx, "c:lease", GetOptions{Vivify: time.Minute})
	require.NoError(t, err)
	require.True(t, lease.Won)

	type hit struct {
		key   string
		value string
		flags uint32
		ttl   int64
		marks bool
	}
	var got []hit
	var cas uint64
	err = c.GetMulti(ctx, []string{"c:a", "c:missing", "c:stale", "c:lease", "c:a"}, GetMultiOptions{Classic: true}, func(k string, it Item) {
		got = append(got, hit{k, string(it.Value), it.Flags, it.TTL, it.Won || it.Stale || it.Busy})
		if k == "c:a" {
			cas = it.CAS
		}
	})
	require.NoError(t, err)
	assert.Equal(t, []hit{
		{"c:a", "va", 7, TTLUnknown, false},
		{"c:stale", "old", 0, TTLUnknown, false},
		{"c:lease", "", 0, TTLUnknown, false},
		{"c:a", "va", 7, TTLUnknown, false},
	}, got)
	assert.Equal(t, casA, cas)
	it, err := c.Get(ctx, "c:stale", GetOptions{})
	require.NoError(t, err)
	assert.True(t, it.Stale && it.Won, "gets took no win")

	// 300 keys: split over both connections, every part a gets.
	var keys []string
	for i := range 300 {
		keys = append(keys, fmt.Sprint("c:many:", i))
		if i%3 != 0 {
			_, err := c.Set(ctx, keys[i], []byte(keys[i]), SetOptions{Flags: uint32(i)})
			require.NoError(t, err)
		}
	}
	items, err := getMap(ctx, c, keys, GetMultiOptions{Classic: true})
	require.NoError(t, err)
	require.Len(t, items, 200)
	for i, k := range keys {
		it, ok := items[k]
		require.Equal(t, i%3 != 0, ok, k)
		if ok {
			assert.Equal(t, k, string(it.Value))
			assert.Equal(t, uint32(i), it.Flags)
			assert.Equal(t, int64(TTLUnknown), it.TTL)
		}
	}

	// A key that needs base64: the batch is read with mg (TTL known).
	bin := "bin key\r\n"
	_, err = c.Set(ctx, bin, []byte("b"), SetOptions{})
	require.NoError(t, err)
	items, err = getMap(ctx, c, []string{"c:a", bin}, GetMultiOptions{Classic: true})
	require.NoError(t, err)
	require.Len(t, items, 2)
	assert.Equal(t, "b", string(items[bin].Value))
	assert.Equal(t, int64(-1), items[bin].TTL)
	assert.Greater(t, items["c:a"].TTL, int64(3500))
}

// TestClientGetMultiServerGone: a multi-get on a server that went away
// reports ErrUnavailable, in both forms.
func TestClientGetMultiServerGone(t *testing.T) {
	c, s := newClient(t, Config{})
	ctx := context.Background()
	_, err := c.Set(ctx, "g:a", []byte("v"), SetOptions{})
	require.NoError(t, err)
	s.Stop()
	for _, opt := range []GetMultiOptions{{}, {Classic: true}} {
		err := c.GetMulti(ctx, []string{"g:a", "g:b"}, opt, func(string, Item) {})
		require.ErrorIs(t, err, ErrUnavailable)
	}
}

func TestClientBadInputNeverSent(t *testing.T) {
	c, _ := newClient(t, Config{})
	ctx := context.Background()
	_, err := c.Set(ctx, "victim", []byte("alive"), SetOptions{})
	require.NoError(t, err)
	bad := []string{"", strings.Repeat("k", 251), "a b", "x\r\nflush_all", "tab\t", "nul\x00", "del\x7f"}
	for _, k := range bad {
		_, err := c.Set(ctx, k, []byte("v"), SetOptions{})
		require.ErrorIs(t, err, ErrInvalidKey, "%q", k)
		_, err = c.Get(ctx, k, GetOptions{})
		require.ErrorIs(t, err, ErrInvalidKey, "%q", k)
		require.ErrorIs(t, c.Delete(ctx, k, DeleteOptions{}), ErrInvalidKey, "%q", k)
		_, err = c.Incr(ctx, k, 1, ArithOptions{})
		require.ErrorIs(t, err, ErrInvalidKey, "%q", k)
		_, err = getMap(ctx, c, []string{"ok", k}, GetMultiOptions{})
		require.ErrorIs(t, err, ErrInvalidKey, "%q", k)
	}
	it, err := c.Get(ctx, "victim", GetOptions{})
	require.NoError(t, err, "no command was injected")
	assert.Equal(t, "alive", string(it.Value))

	// Binary mode sends these keys base64 encoded: each is its own item.
	b := New(c.Addr(), Config{BinaryKeys: true})
	defer b.Close()
	for i, k := range []string{"a b", "x\r\nflush_all", "nul\x00", strings.Repeat("\x01", MaxBinaryKeyLen)} {
		_, err := b.Set(ctx, k, []byte{byte(i)}, SetOptions{})
		require.NoError(t, err, "%q", k)
		it, err := b.Get(ctx, k, GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, []byte{byte(i)}, it.Value)
	}
	_, err = b.Set(ctx, strings.Repeat("\x01", MaxBinaryKeyLen+1), nil, SetOptions{})
	require.ErrorIs(t, err, ErrInvalidKey)
	it, err = c.Get(ctx, "victim", GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "alive", string(it.Value))
}

func TestClientValueTooLarge(t *testing.T) {
	c, s := newClient(t, Config{MaxItemSize: 64 << 10},
		memcachedtest.MaxItemSize(64<<10), memcachedtest.Args("-o", "slab_chunk_max=16384"))
	ctx := context.Background()
	require.Equal(t, s.MaxItemSize(), c.MaxItemSize())
	key := "big"
	fit := c.MaxItemSize() - len(key) - ItemOverhead
	_, err := c.Set(ctx, key, make([]byte, fit), SetOptions{})
	require.NoError(t, err, "the largest value that fits is accepted by the server")
	_, err = c.Set(ctx, key, make([]byte, fit+1), SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
	_, err = c.Set(ctx, key, make([]byte, fit-4), SetOptions{Flags: 1})
	require.NoError(t, err, "client flags take 4 bytes")
	_, err = c.Set(ctx, key, make([]byte, fit-3), SetOptions{Flags: 1})
	require.ErrorIs(t, err, ErrValueTooLarge)

	// With a client limit larger than the server's, the server's answer
	// maps to the same error and the connection stays usable.
	loose := New(s.Addr(), Config{MaxItemSize: 1 << 20})
	defer loose.Close()
	_, err = loose.Set(ctx, key, make([]byte, fit+100), SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
	_, err = loose.Set(ctx, key, make([]byte, fit-3), SetOptions{Flags: 1})
	require.ErrorIs(t, err, ErrValueTooLarge, "the server agrees")
	require.NoError(t, loose.Noop(ctx))
	n, err := loose.LoadMaxItemSize(ctx)
	require.NoError(t, err)
	assert.Equal(t, 64<<10, n)
	_, err = loose.Set(ctx, key, make([]byte, fit+1), SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
}

// TestClientReadsValuesAboveItsLimit: a value larger than this client's
// item size, stored by a client configured for a larger server, is read.
func TestClientReadsValuesAboveItsLimit(t *testing.T) {
	c, s := newClient(t, Config{MaxItemSize: 1 << 20}, memcachedtest.MaxItemSize(4<<20), memcachedtest.MemoryMB(32))
	ctx := context.Background()
	loose := New(s.Addr(), Config{}) // learns 4 MiB
	defer loose.Close()
	value := []byte(strings.Repeat("v", 3<<20))
	_, err := loose.Set(ctx, "big", value, SetOptions{})
	require.NoError(t, err)
	it, err := c.Get(ctx, "big", GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, len(value), len(it.Value))
	_, err = c.Set(ctx, "big", value, SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge, "writes still respect this client's limit")
}

func TestClientConcurrent(t *testing.T) {
	c, _ := newClient(t, Config{Conns: 2})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 200 {
				k := fmt.Sprintf("g%d-%d", g, i%10)
				v := fmt.Sprintf("%d:%d", g, i)
				_, err := c.Set(ctx, k, []byte(v), SetOptions{})
				if !assert.NoError(t, err) {
					return
				}
				it, err := c.Get(ctx, k, GetOptions{})
				if !assert.NoError(t, err) || !assert.Equal(t, v, string(it.Value)) {
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestClientContext(t *testing.T) {
	c, s := newClient(t, Config{Timeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Get(ctx, "k", GetOptions{})
	require.ErrorIs(t, err, context.Canceled)

	_, err = c.Set(context.Background(), "k", []byte("v"), SetOptions{})
	require.NoError(t, err)

	// A hung server: the call returns at its deadline, abandoned replies
	// are consumed later, and the connection stays in step.
	s.Pause()
	waitHung(t, c)
	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	start := time.Now()
	_, err = c.Get(dctx, "k", GetOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
	s.Resume()
	for range 20 {
		it, err := c.Get(context.Background(), "k", GetOptions{})
		require.NoError(t, err)
		require.Equal(t, "v", string(it.Value))
	}
}

func TestClientTimeoutClosesConn(t *testing.T) {
	c, s := newClient(t, Config{Timeout: 100 * time.Millisecond, Conns: 1})
	ctx := context.Background()
	require.NoError(t, c.Noop(ctx))
	s.Pause()
	waitHung(t, c)
	err := c.Noop(ctx)
	var ne *NetError
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	s.Resume()
	require.NoError(t, c.Noop(ctx), "a new connection is dialled")
}

// waitHung returns once the paused server has really stopped answering:
// SIGSTOP takes effect asynchronously.
func waitHung(t *testing.T, c *Client) {
	t.Helper()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		return errors.Is(c.Noop(ctx), context.DeadlineExceeded)
	}, 5*time.Second, time.Millisecond)
}

func TestClientServerDown(t *testing.T) {
	c, s := newClient(t, Config{})
	ctx := context.Background()
	_, err := c.Set(ctx, "k", []byte("v"), SetOptions{})
	require.NoError(t, err)
	s.Stop()
	for range 3 {
		_, err = c.Get(ctx, "k", GetOptions{})
		require.ErrorIs(t, err, ErrUnavailable)
	}
	s.Restart()
	_, err = c.Get(ctx, "k", GetOptions{})
	require.ErrorIs(t, err, ErrCacheMiss, "the restarted server is empty")
}

// TestClientRestartedServer: connections broken while idle by a restart
// cost a plain get no error; a write reports the broken connection.
func TestClientRestartedServer(t *testing.T) {
	c, s := newClient(t, Config{Conns: 3})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 6 { // open every connection
		wg.Go(func() { assert.NoError(t, c.Noop(ctx)) })
	}
	wg.Wait()
	s.Restart()
	_, err := c.Get(ctx, "k", GetOptions{})
	require.ErrorIs(t, err, ErrCacheMiss)
	require.NoError(t, c.Noop(ctx))
	_, err = c.Set(ctx, "k", []byte("v"), SetOptions{})
	require.NoError(t, err)
}

func TestClientClose(t *testing.T) {
	c, _ := newClient(t, Config{})
	ctx := context.Background()
	require.NoError(t, c.Noop(ctx))
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Noop(ctx), ErrClosed)
}

func TestClientCancelWhileBlocked(t *testing.T) {
	c, s := newClient(t, Config{Timeout: 10 * time.Second})
	require.NoError(t, c.Noop(context.Background()))
	s.Pause()
	waitHung(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, "k", GetOptions{})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled call stayed blocked on a hung server")
	}
	s.Resume()
	require.NoError(t, c.Noop(context.Background()), "the connection is still in step")
}

// TestClientCancellationsDoNotHurtOthers mixes callers that give up at
// random moments with callers that do not: the latter always succeed.
func TestClientCancellationsDoNotHurtOthers(t *testing.T) {
	c, _ := newClient(t, Config{Conns: 1})
	ctx := context.Background()
	_, err := c.Set(ctx, "k", []byte("v"), SetOptions{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 300 {
				if g%2 == 0 {
					cctx, cancel := context.WithCancel(ctx)
					if i%3 == 0 {
						cancel()
					} else {
						go cancel()
					}
					_, _ = c.Get(cctx, "k", GetOptions{})
					cancel()
					continue
				}
				it, err := c.Get(ctx, "k", GetOptions{})
				if !assert.NoError(t, err) || !assert.Equal(t, "v", string(it.Value)) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestClientAllocations pins the allocations of the hot paths: a get
// allocates its value only, a set nothing.
func TestClientAllocations(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	c, _ := newClient(t, Config{})
	ctx := context.Background()
	value := make([]byte, 100)
	_, err := c.Set(ctx, "k", value, SetOptions{})
	require.NoError(t, err)
	set := testing.AllocsPerRun(200, func() {
		_, _ = c.Set(ctx, "k", value, SetOptions{})
	})
	get := testing.AllocsPerRun(200, func() {
		_, _ = c.Get(ctx, "k", GetOptions{})
	})
	assert.LessOrEqual(t, set, 0.1)
	assert.LessOrEqual(t, get, 1.1)
}
