package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/twine-go/twine/hashring"
)

// newConsistentHash is the RingOptions.NewConsistentHash of this example:
// a hashring fast ring over the live shard names. go-redis calls it with
// the names of the shards that are up, in random order (it ranges over a
// map) at every rebalance, so the mapping must depend on the set of names
// only: hashring guarantees that (points depend on each node's own name).
//
// *hashring.Ring satisfies go-redis's ConsistentHash (Get(string) string)
// as is. Shard names come from RingOptions.Addrs, which parseShards keeps
// non-empty and distinct, so New cannot fail here; if it ever did, the
// empty ring makes go-redis report that no shard is available instead of
// sending keys to the wrong place.
func newConsistentHash(shards []string) redis.ConsistentHash {
	nodes := make([]hashring.Node, len(shards))
	for i, name := range shards {
		nodes[i] = hashring.Node{Name: name}
	}
	r, err := hashring.New(nodes)
	if err != nil {
		return new(hashring.Ring)
	}
	return r
}

// errBadShards reports a malformed -shards flag.
var errBadShards = errors.New("redisring: -shards wants name=host:port,name=host:port,…")

// parseShards reads "a=host:port,b=host:port" into go-redis's Addrs map and
// the sorted shard names.
func parseShards(s string) (map[string]string, []string, error) {
	addrs := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" || addr == "" {
			return nil, nil, fmt.Errorf("%w: %q", errBadShards, part)
		}
		if _, dup := addrs[name]; dup {
			return nil, nil, fmt.Errorf("%w: shard %q twice", errBadShards, name)
		}
		addrs[name] = addr
	}
	names := make([]string, 0, len(addrs))
	for name := range addrs {
		names = append(names, name)
	}
	sort.Strings(names)
	return addrs, names, nil
}
