package memcache

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// spyConn counts the "stats settings" requests written on a connection
// and, when rewrite is set, sends rewrite in their place.
type spyConn struct {
	net.Conn
	rewrite string
	stats   *atomic.Int32
}

func (s *spyConn) Write(b []byte) (int, error) {
	if string(b) != "stats settings\r\n" {
		return s.Conn.Write(b)
	}
	s.stats.Add(1)
	if s.rewrite == "" {
		return s.Conn.Write(b)
	}
	if _, err := s.Conn.Write([]byte(s.rewrite)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// spyDial returns a Dial function that dials *addr (read at each dial)
// and wraps the connection in a spyConn.
func spyDial(addr *atomic.Pointer[string], rewrite string, stats *atomic.Int32) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, *addr.Load())
		if err != nil {
			return nil, err
		}
		return &spyConn{Conn: nc, rewrite: rewrite, stats: stats}, nil
	}
}

// requireValue asserts that key holds value on c.
func requireValue(t *testing.T, c *Client, key, value string) {
	t.Helper()
	it, err := c.Get(context.Background(), key, GetOptions{})
	require.NoError(t, err, "%s is still there", key)
	require.Equal(t, value, string(it.Value))
}

// TestClientLearnsItemSize is the reported case: a server on -I 512k and a
// client with the default options. The client used to check values
// against 1 MiB, so a value between 512 KiB and 1 MiB was sent, refused,
// and memcached deleted the key's old value. The item size is now learnt
// when the connection opens, here by a multi-get, and every value too
// large for the server is refused before sending.
func TestClientLearnsItemSize(t *testing.T) {
	const serverSize = 512 << 10
	c, _ := newClient(t, Config{}, memcachedtest.MaxItemSize(serverSize))
	ctx := context.Background()
	require.Equal(t, DefaultMaxItemSize, c.MaxItemSize(), "nothing learnt before connecting")
	_, err := getMap(ctx, c, []string{"k", "other"}, GetMultiOptions{})
	require.NoError(t, err)
	require.Equal(t, serverSize, c.MaxItemSize(), "learnt when the multi-get opened the connection")

	fit := serverSize - len("k") - ItemOverhead
	_, err = c.Set(ctx, "k", []byte("old"), SetOptions{})
	require.NoError(t, err)
	for _, n := range []int{fit + 1, 700 << 10, DefaultMaxItemSize, 3 << 20} {
		_, err := c.Set(ctx, "k", make([]byte, n), SetOptions{})
		require.ErrorIs(t, err, ErrValueTooLarge, "%d bytes", n)
		requireValue(t, c, "k", "old")
	}
	_, err = c.Set(ctx, "k", make([]byte, fit-3), SetOptions{Flags: 1})
	require.ErrorIs(t, err, ErrValueTooLarge, "client flags take 4 bytes")
	requireValue(t, c, "k", "old")
	_, err = c.Set(ctx, "k", make([]byte, fit), SetOptions{})
	require.NoError(t, err, "the largest value that fits")

	// Writers racing on new connections: each waits for its connection's
	// answer before its value is checked.
	fresh := New(c.Addr(), Config{Conns: 4})
	defer fresh.Close()
	_, err = c.Set(ctx, "k", []byte("old"), SetOptions{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := fresh.Set(ctx, "k", make([]byte, 700<<10), SetOptions{})
			assert.ErrorIs(t, err, ErrValueTooLarge)
		})
	}
	wg.Wait()
	requireValue(t, c, "k", "old")
}

// TestClientLearnsItemSizeOnReconnect: the size is learnt on every
// connection opened, so a server restarted with another -I (here another
// server behind the same address) is learnt again; requests do not ask.
func TestClientLearnsItemSizeOnReconnect(t *testing.T) {
	small := memcachedtest.Start(t, memcachedtest.MaxItemSize(512<<10))
	large := memcachedtest.Start(t, memcachedtest.MaxItemSize(2<<20))
	var addr atomic.Pointer[string]
	a := large.Addr()
	addr.Store(&a)
	var stats atomic.Int32
	c := New("server", Config{Conns: 2, Dial: spyDial(&addr, "", &stats)})
	defer c.Close()
	ctx := context.Background()

	big := make([]byte, 1500<<10)
	for range 50 {
		_, err := c.Set(ctx, "k", big, SetOptions{})
		require.NoError(t, err, "2 MiB learnt: above the 1 MiB default is fine")
		_, err = c.Get(ctx, "k", GetOptions{})
		require.NoError(t, err)
	}
	assert.Equal(t, int32(2), stats.Load(), "one stats settings per connection, none per request")

	large.Stop()
	b := small.Addr()
	addr.Store(&b)
	require.NoError(t, c.Noop(ctx), "the broken connection is replaced")
	require.Equal(t, 512<<10, c.MaxItemSize())
	_, err := c.Set(ctx, "k", []byte("old"), SetOptions{})
	require.NoError(t, err)
	_, err = c.Set(ctx, "k", big, SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
	requireValue(t, c, "k", "old")
}

// TestClientItemSizeUnanswered: a server that answers stats settings
// without an item size (an error line, or stats without item_size_max)
// leaves the size as it was and the connection in step.
func TestClientItemSizeUnanswered(t *testing.T) {
	s := memcachedtest.Start(t, memcachedtest.MaxItemSize(512<<10))
	a := s.Addr()
	var addr atomic.Pointer[string]
	addr.Store(&a)
	for _, rewrite := range []string{"stats nonsense\r\n", "stats slabs\r\n"} {
		t.Run(strings.TrimSpace(rewrite), func(t *testing.T) {
			var stats atomic.Int32
			c := New(a, Config{Conns: 1, Dial: spyDial(&addr, rewrite, &stats)})
			defer c.Close()
			ctx := context.Background()
			_, err := c.Set(ctx, "u", []byte("v"), SetOptions{})
			require.NoError(t, err)
			requireValue(t, c, "u", "v")
			require.NoError(t, c.Noop(ctx))
			assert.Equal(t, DefaultMaxItemSize, c.MaxItemSize(), "the default stays")
			assert.Equal(t, int32(1), stats.Load())
		})
	}
}

// TestClientItemSizeNotAnswered: a server that does not answer stats
// settings fails the connection like a failed dial, within DialTimeout or
// the caller's ctx.
func TestClientItemSizeNotAnswered(t *testing.T) {
	s := memcachedtest.Start(t, memcachedtest.MaxItemSize(512<<10))
	c := New(s.Addr(), Config{DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	s.Pause()
	err := c.Noop(context.Background())
	var ne *NetError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, "dial", ne.Op)
	assert.True(t, ne.Timeout())
	require.ErrorIs(t, err, ErrUnavailable)

	patient := New(s.Addr(), Config{DialTimeout: time.Hour})
	defer patient.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = patient.Noop(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the caller's ctx bounds the question")

	s.Resume()
	require.NoError(t, c.Noop(context.Background()))
	assert.Equal(t, 512<<10, c.MaxItemSize())
}

// TestClientItemSizeConfigured: a configured MaxItemSize is used as it
// is, without asking the server.
func TestClientItemSizeConfigured(t *testing.T) {
	s := memcachedtest.Start(t, memcachedtest.MaxItemSize(512<<10))
	a := s.Addr()
	var addr atomic.Pointer[string]
	addr.Store(&a)
	var stats atomic.Int32
	c := New(a, Config{MaxItemSize: 64 << 10, Dial: spyDial(&addr, "", &stats)})
	defer c.Close()
	ctx := context.Background()
	_, err := c.Set(ctx, "k", make([]byte, 100<<10), SetOptions{})
	require.ErrorIs(t, err, ErrValueTooLarge)
	require.NoError(t, c.Noop(ctx))
	assert.Equal(t, 64<<10, c.MaxItemSize())
	assert.Zero(t, stats.Load())
}
