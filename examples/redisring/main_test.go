package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/redistest"
)

// shardsFlag names the servers a, b, c, … for -shards.
func shardsFlag(servers []*redistest.Server) (string, map[string]string) {
	addrs := map[string]string{}
	var parts []string
	for i, s := range servers {
		name := string(rune('a' + i))
		addrs[name] = s.Addr()
		parts = append(parts, name+"="+s.Addr())
	}
	return strings.Join(parts, ","), addrs
}

func dbsize(t *testing.T, addr string) int64 {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	n, err := c.DBSize(context.Background()).Result()
	require.NoError(t, err)
	return n
}

func TestRunAgainstRealRedis(t *testing.T) {
	servers := redistest.Servers(t, 3)
	flagValue, _ := shardsFlag(servers)
	var out strings.Builder
	require.NoError(t, run(context.Background(), []string{"-shards", flagValue, "-keys", "600"}, &out))
	got := out.String()
	t.Log("\n" + got)

	rows := regexp.MustCompile(`(?m)^([abc])\s+\S+\s+(\d+)\s+(\d+)$`).FindAllStringSubmatch(got, -1)
	require.Len(t, rows, 3, "one row per shard")
	total := 0
	for _, r := range rows {
		var held, misplaced int
		fmt.Sscan(r[2], &held)
		fmt.Sscan(r[3], &misplaced)
		assert.Positive(t, held, "shard %s holds keys", r[1])
		assert.Zero(t, misplaced, "shard %s", r[1])
		total += held
	}
	assert.Equal(t, 600, total)
	assert.Contains(t, got, "every key is on the shard hashring names")
	assert.Regexp(t, `Counter: 8 goroutines × 125 Incr -> 1000; the counter lives on shard [abc]: true`, got)
	assert.Contains(t, got, `a second TryLock gets "cachestruct: locked"`)

	tag := regexp.MustCompile(`hashring.Get\("user:42"\) = ([abc])`).FindStringSubmatch(got)
	require.NotNil(t, tag)
	assert.Equal(t, 3, strings.Count(got, "found on shard ["+tag[1]+"]"), "all tagged keys on the tag's shard")
	assert.Contains(t, got, "all of them c's own (0 moved between the others)")

	for _, s := range servers {
		assert.Zero(t, dbsize(t, s.Addr()), "the example deletes its keys")
	}
}

func TestRunFailsWhenAShardIsDown(t *testing.T) {
	servers := redistest.Servers(t, 2)
	servers[1].Stop()
	flagValue, _ := shardsFlag(servers)
	err := run(context.Background(), []string{"-shards", flagValue}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a shard does not answer")
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-shards", "nonsense"}, {"-keys", "0"}, {"-bogus"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			assert.Error(t, run(context.Background(), args, io.Discard))
		})
	}
}

// ownersOf maps each key to the address of the shard the Ring sends it to.
func ownersOf(ring *redis.Ring, keys []string) (map[string]string, error) {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		c, err := ring.GetShardClientForKey(k)
		if err != nil {
			return nil, err
		}
		m[k] = c.Options().Addr
	}
	return m, nil
}

func owners(t *testing.T, ring *redis.Ring, keys []string) map[string]string {
	t.Helper()
	m, err := ownersOf(ring, keys)
	require.NoError(t, err)
	return m
}

func TestRingFailoverMovesOnlyTheDeadShardsKeys(t *testing.T) {
	servers := redistest.Servers(t, 3)
	_, addrs := shardsFlag(servers)
	ring := newRing(addrs, 20*time.Millisecond)
	t.Cleanup(func() { _ = ring.Close() })
	ctx := context.Background()

	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprint("k:", i)
	}
	before := owners(t, ring, keys)
	for _, k := range keys {
		assert.Equal(t, addrs[newConsistentHash([]string{"a", "b", "c"}).Get(k)], before[k])
	}

	// Kill shard c; go-redis marks it down after three failed heartbeats
	// and rebuilds its ring from the live shards (in map order).
	servers[2].Stop()
	dead := servers[2].Addr()
	require.Eventually(t, func() bool {
		now, err := ownersOf(ring, keys)
		if err != nil {
			return false
		}
		for _, a := range now {
			if a == dead {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "the Ring drops the dead shard")

	after := owners(t, ring, keys)
	survivors := newConsistentHash([]string{"b", "a"})
	moved := 0
	for _, k := range keys {
		if before[k] != dead {
			assert.Equal(t, before[k], after[k], "key %s of a live shard stays", k)
		} else {
			moved++
		}
		assert.Equal(t, addrs[survivors.Get(k)], after[k], "key %s where hashring over the survivors says", k)
		require.NoError(t, ring.Set(ctx, k, "v", 0).Err(), "the Ring serves every key again")
	}
	assert.Positive(t, moved)

	// Bring c back: once its heartbeat answers, its keys return to it.
	servers[2].Restart()
	require.Eventually(t, func() bool {
		now, err := ownersOf(ring, keys)
		if err != nil {
			return false
		}
		for _, k := range keys {
			if now[k] != before[k] {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "the Ring takes the shard back with its old keys")
}
