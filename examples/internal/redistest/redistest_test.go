package redistest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/examples/internal/redistest"
	"github.com/twine-go/twine/internal/memcachedtest"
)

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStartServesCommands(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	c := client(t, s.Addr())
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	got, err := c.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)
	assert.True(t, s.Running())
}

func TestStopAndRestart(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	require.NoError(t, client(t, s.Addr()).Set(ctx, "k", "v", 0).Err())

	s.Stop()
	assert.False(t, s.Running())
	_, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	require.Error(t, err, "a stopped server refuses connections")
	s.Stop() // stopping twice does nothing

	s.Restart()
	assert.True(t, s.Running())
	_, err = client(t, s.Addr()).Get(ctx, "k").Result()
	require.ErrorIs(t, err, redis.Nil, "a restarted server is empty")
}

func TestClusterHasDistinctAddrs(t *testing.T) {
	servers := redistest.Cluster(t, 3)
	addrs := redistest.Addrs(servers)
	require.Len(t, addrs, 3)
	seen := map[string]bool{}
	for _, a := range addrs {
		assert.False(t, seen[a], "duplicate address %s", a)
		seen[a] = true
		require.NoError(t, client(t, a).Ping(context.Background()).Err())
	}
}

func TestMissingBinarySkips(t *testing.T) {
	t.Setenv(memcachedtest.RequireEnv, "")
	t.Setenv("PATH", t.TempDir())
	var sub *testing.T
	t.Run("start", func(t *testing.T) {
		sub = t
		redistest.Start(t)
		t.Error("Start returned without a redis-server binary")
	})
	assert.True(t, sub.Skipped(), "Start skips when redis-server is missing")
}

func TestPauseAndResume(t *testing.T) {
	s := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, ReadTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx).Err())

	s.Pause()
	assert.True(t, s.Paused())
	assert.True(t, s.Running())
	err := c.Ping(ctx).Err()
	var netErr net.Error
	require.ErrorAs(t, err, &netErr, "a paused server does not answer")
	assert.True(t, netErr.Timeout())

	s.Resume()
	assert.False(t, s.Paused())
	require.NoError(t, c.Ping(ctx).Err())
}
