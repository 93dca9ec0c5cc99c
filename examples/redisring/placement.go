package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/redis/go-redis/v9"
)

// writeKeys sets every key through the ring, pipelined (go-redis splits a
// Ring pipeline by shard).
func writeKeys(ctx context.Context, ring *redis.Ring, keys []string) error {
	_, err := ring.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, k, 0)
		}
		return nil
	})
	return err
}

// deleteKeys removes the example's keys.
func deleteKeys(ctx context.Context, ring *redis.Ring, keys []string) error {
	_, err := ring.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	return err
}

// shardReport is what one shard holds.
type shardReport struct {
	held      int // keys under the prefix on this shard
	misplaced int // of which hashring names another shard
}

// placement asks every shard directly, bypassing the Ring, which keys under
// prefix it holds, and counts those that hash names another shard.
func placement(ctx context.Context, addrs map[string]string, names []string, prefix string, hash redis.ConsistentHash) (map[string]shardReport, error) {
	report := make(map[string]shardReport, len(names))
	for _, name := range names {
		keys, err := scanShard(ctx, addrs[name], prefix)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", name, err)
		}
		r := shardReport{held: len(keys)}
		for _, k := range keys {
			if hash.Get(k) != name {
				r.misplaced++
			}
		}
		report[name] = r
	}
	return report, nil
}

// scanShard lists the keys under prefix on the server at addr.
func scanShard(ctx context.Context, addr, prefix string) ([]string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// showHashtags writes keys that share a {hashtag} and shows that they share
// a shard: go-redis hashes only the part between braces, so hashring sees
// "user:42" for all of them. It finds each key by asking every shard.
func showHashtags(ctx context.Context, w io.Writer, ring *redis.Ring, addrs map[string]string, names []string, prefix string, hash redis.ConsistentHash) error {
	fmt.Fprintf(w, "\nkeys with a {hashtag} share a shard (go-redis hashes the tag only; hashring.Get(%q) = %s):\n",
		"user:42", hash.Get("user:42"))
	for _, k := range []string{"{user:42}:profile", "{user:42}:cart", "{user:42}:sessions"} {
		key := prefix + k
		if err := ring.Set(ctx, key, "x", 0).Err(); err != nil {
			return err
		}
		defer ring.Del(context.WithoutCancel(ctx), key)
		var on []string
		for _, name := range names {
			keys, err := scanShard(ctx, addrs[name], key)
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				on = append(on, name)
			}
		}
		fmt.Fprintf(w, "  %-40s found on shard %v\n", key, on)
	}
	return nil
}

// showRemoval computes, with hashring alone, which keys would move if the
// last shard went away: only the keys it held, each to a surviving shard.
// (go-redis rebuilds its ring without a shard that fails its heartbeats.)
func showRemoval(w io.Writer, names []string, keys []string) {
	if len(names) < 2 {
		return
	}
	gone := names[len(names)-1]
	before := newConsistentHash(names)
	after := newConsistentHash(slices.Clone(names[:len(names)-1]))
	moved, movedFromOthers := 0, 0
	for _, k := range keys {
		b, a := before.Get(k), after.Get(k)
		if a != b {
			moved++
			if b != gone {
				movedFromOthers++
			}
		}
	}
	fmt.Fprintf(w, "\nif shard %s went away: %d of %d keys would move, all of them %s's own (%d moved between the others)\n",
		gone, moved, len(keys), gone, movedFromOthers)
}
