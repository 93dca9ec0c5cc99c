package main

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/twine-go/twine/hashring"
)

// tourRing spreads keys over a ketama ring and adds a node.
func tourRing(_ context.Context, w io.Writer) error {
	nodes := []hashring.Node{{Name: "cache-a:11211"}, {Name: "cache-b:11211"}, {Name: "cache-c:11211"}}
	ring, err := hashring.NewKetama(nodes...)
	if err != nil {
		return err
	}
	const n = 30000
	keys := make([]string, n)
	before := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
		before[i] = ring.Get(keys[i])
	}
	fmt.Fprintf(w, "%d keys over hashring.NewKetama(cache-a, cache-b, cache-c) (libmemcached's distribution):\n", n)
	printSpread(w, ring, before)

	if err := ring.Add(hashring.Node{Name: "cache-d:11211"}); err != nil {
		return err
	}
	after := make([]string, n)
	moved, toNew := 0, 0
	for i, k := range keys {
		after[i] = ring.Get(k)
		if after[i] != before[i] {
			moved++
			if after[i] == "cache-d:11211" {
				toNew++
			}
		}
	}
	fmt.Fprintf(w, "\nAfter ring.Add(cache-d): %d keys moved (%.1f%%; the ideal is 1/4 = 25%%), %d of them to cache-d, %d between old nodes:\n",
		moved, 100*float64(moved)/n, toNew, moved-toNew)
	printSpread(w, ring, after)
	modMoved := 0
	for _, k := range keys {
		h := crc32.ChecksumIEEE([]byte(k))
		if h%3 != h%4 {
			modMoved++
		}
	}
	fmt.Fprintf(w, "  (crc32 mod N, gomemcache's default ServerList, would move %d keys: %.1f%%)\n", modMoved, 100*float64(modMoved)/n)

	fmt.Fprintln(w, "\nA few keys, their node before and after, and their failover order (ring.GetN(key, 3)):")
	for _, i := range []int{0, 1, 2, 3, 4, 5} {
		replicas, err := ring.GetN(keys[i], 3)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-8s %s -> %s   %v\n", keys[i], before[i], after[i], replicas)
	}
	return nil
}

// printSpread prints how many of the owners each node of ring has.
func printSpread(w io.Writer, ring *hashring.Ring, owners []string) {
	count := map[string]int{}
	for _, o := range owners {
		count[o]++
	}
	for _, node := range ring.Nodes() {
		c := count[node.Name]
		fmt.Fprintf(w, "  %-14s %6d keys %5.1f%%\n", node.Name, c, 100*float64(c)/float64(len(owners)))
	}
}
