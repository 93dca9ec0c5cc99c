package main

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/hashring"
	"github.com/twine-go/twine/internal/memcachedtest"
)

func ketama(t *testing.T, addrs []string) *hashring.Ring {
	t.Helper()
	nodes := make([]hashring.Node, len(addrs))
	for i, a := range addrs {
		nodes[i] = hashring.Node{Name: a}
	}
	r, err := hashring.NewKetama(nodes...)
	require.NoError(t, err)
	return r
}

func TestSelectorPicksTheRingsServer(t *testing.T) {
	servers := memcachedtest.Cluster(t, 3)
	addrs := memcachedtest.Addrs(servers)
	ring := ketama(t, addrs)
	mc := memcache.NewFromSelector(newRingSelector(ring))
	direct := map[string]*memcache.Client{}
	for _, a := range addrs {
		direct[a] = memcache.New(a)
	}

	perServer := map[string]int{}
	for i := range 300 {
		key := fmt.Sprint("sel:", i)
		require.NoError(t, mc.Set(&memcache.Item{Key: key, Value: []byte("v")}))
		owner := ring.Get(key)
		perServer[owner]++
		for a, c := range direct {
			_, err := c.Get(key)
			if a == owner {
				require.NoError(t, err, "key %s on its ring server %s", key, a)
			} else {
				require.ErrorIs(t, err, memcache.ErrCacheMiss, "key %s absent from %s", key, a)
			}
		}
	}
	assert.Len(t, perServer, 3, "keys spread over every server")
}

func TestSelectorEach(t *testing.T) {
	ring := ketama(t, []string{"127.0.0.1:3", "127.0.0.1:1", "127.0.0.1:2"})
	s := newRingSelector(ring)
	var got []string
	require.NoError(t, s.Each(func(a net.Addr) error { got = append(got, a.String()); return nil }))
	assert.Equal(t, []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, got)

	stop := errors.New("stop")
	calls := 0
	err := s.Each(func(net.Addr) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 1, calls)
}

func TestSelectorDefaultPortAndEmptyRing(t *testing.T) {
	s := newRingSelector(ketama(t, []string{"127.0.0.1"}))
	a, err := s.PickServer("k")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:11211", a.String())

	_, err = newRingSelector(new(hashring.Ring)).PickServer("k")
	require.ErrorIs(t, err, memcache.ErrNoServers)
}

func TestSelectorFollowsRingChanges(t *testing.T) {
	ring := ketama(t, []string{"127.0.0.1:1"})
	s := newRingSelector(ring)
	require.NoError(t, ring.Add(hashring.Node{Name: "127.0.0.1:2"}))
	seen := map[string]bool{}
	for i := range 100 {
		a, err := s.PickServer(fmt.Sprint("k", i))
		require.NoError(t, err)
		seen[a.String()] = true
	}
	assert.Len(t, seen, 2)
}
