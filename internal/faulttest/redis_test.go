package faulttest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/redisstore"
	"github.com/twine-go/twine/internal/redistest"
)

// newRedisRig is one redis-server behind a proxy, with stores on go-redis
// Clients built as redisstore advises: ctx deadlines bound every read
// (ContextTimeoutEnabled) and no command is retried (MaxRetries: -1); a
// read without a deadline gives up after 5s.
func newRedisRig(t *testing.T) *rig {
	t.Helper()
	srv := redistest.Start(t)
	p := newProxy(t, srv.Addr())
	open := func() cachestruct.Store { return openRedis(t, p.Addr(), 5*time.Second) }
	return &rig{proxy: p, store: open(), open: open}
}

// openRedis returns a store on a new go-redis Client of addr, with
// ContextTimeoutEnabled, MaxRetries: -1 and timeout as its read and write
// timeouts, closed in t.Cleanup.
func openRedis(t *testing.T, addr string, timeout time.Duration) *redisstore.Store {
	c := redis.NewClient(&redis.Options{
		Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1,
		ReadTimeout: timeout, WriteTimeout: timeout,
	})
	t.Cleanup(func() { _ = c.Close() })
	return redisstore.New(c, redisstore.Options{})
}

// TestRedisSilentServer: a redis-server that accepts connections and never
// answers (toxiproxy's timeout toxic drops its replies), on a client whose
// connections are all in use or new. Every call fails within its ctx with
// an error wrapping ErrUnavailable (and ctx's), none takes another's reply;
// once the fault is removed the client's pool, whose waiting connections
// were all closed by their deadlines, serves again. There is one server,
// so there is nothing to eject: that is memcached's (TestSilentServer).
// A ctx cancelled without a deadline is the exception: go-redis does not
// watch ctx.Done while it reads, so such a call returns only at the
// client's ReadTimeout.
func TestRedisSilentServer(t *testing.T) {
	r := newRedisRig(t)
	ctx := context.Background()
	_, err := r.store.Set(ctx, "k", []byte("k=before"), cachestruct.SetOptions{})
	require.NoError(t, err)

	r.proxy.add("silent", "timeout", "downstream", `{"timeout":0}`)
	l := runLoad(t, r.store, true, 8, 100, 200*time.Millisecond, time.Second)
	l.assertClean(t)
	assert.Zero(t, l.ok.Load(), "a silent server answers nothing")

	c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, _, err = r.store.Get(c, "k", cachestruct.GetOptions{})
	require.ErrorIs(t, err, cachestruct.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A ctx cancelled without a deadline does not interrupt go-redis's
	// read (it bounds a read only by setting the socket's deadline, from
	// ctx's deadline or ReadTimeout): the call returns when the client's
	// ReadTimeout, here 300ms, ends it, not at the cancel.
	short := openRedis(t, r.proxy.Addr(), 300*time.Millisecond)
	c, cancel = context.WithCancel(ctx)
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, _, err = short.Get(c, "k", cachestruct.GetOptions{})
	took := time.Since(start)
	require.ErrorIs(t, err, cachestruct.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond, "returned at the cancel")
	assert.Less(t, took, 300*time.Millisecond+slack)

	r.proxy.remove("silent")
	recovered(t, r.store)
	it, found, err := r.store.Get(ctx, "k", cachestruct.GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "k=before", string(it.Value))
}

// TestRedisServerUnreachable: the proxy stops (connections are refused),
// long enough for the client to fail more dials than its pool holds
// (after which go-redis stops dialling on demand and retries in the
// background); every call fails within its ctx, and once the proxy
// listens again the pool recovers.
func TestRedisServerUnreachable(t *testing.T) {
	r := newRedisRig(t)
	r.proxy.p.Stop()
	l := runLoad(t, r.store, true, 8, 100, 200*time.Millisecond, 500*time.Millisecond)
	l.assertClean(t)
	assert.Zero(t, l.ok.Load(), "nothing listens")
	require.NoError(t, r.proxy.p.Start())
	recovered(t, r.store)
}
