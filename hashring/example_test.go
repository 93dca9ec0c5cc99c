package hashring_test

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cespare/xxhash/v2"

	"github.com/twine-go/twine/hashring"
)

// A ring shared with C, Python and PHP clients: every key maps to the
// server libmemcached picks with MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED.
func ExampleNewKetama() {
	r, err := hashring.NewKetama(
		hashring.Node{Name: "10.0.0.1"}, // port 11211
		hashring.Node{Name: "10.0.0.2:11211"},
		hashring.Node{Name: "10.0.0.3:11212", Weight: 2}, // twice the keys
	)
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"user:1", "user:2", "user:3", "session:abc"} {
		fmt.Println(key, "->", r.Get(key))
	}
	// Output:
	// user:1 -> 10.0.0.2:11211
	// user:2 -> 10.0.0.2:11211
	// user:3 -> 10.0.0.1
	// session:abc -> 10.0.0.3:11212
}

// The fast ring: any node names, xxhash, points per node configurable.
func ExampleNew() {
	r, err := hashring.New([]hashring.Node{
		{Name: "cache-a"}, {Name: "cache-b"}, {Name: "cache-c"},
	}, hashring.Points(256))
	if err != nil {
		panic(err)
	}
	counts := map[string]int{}
	for i := range 30000 {
		counts[r.Get(fmt.Sprint("key-", i))]++
	}
	for _, n := range r.Nodes() {
		// Each node gets about a third of the keys.
		fmt.Printf("%s %.2f\n", n.Name, float64(counts[n.Name])/30000)
	}
	// Output:
	// cache-a 0.33
	// cache-b 0.34
	// cache-c 0.33
}

// Lookup tells an empty ring apart; Get returns "" for it, as go-redis's
// ConsistentHash interface expects.
func ExampleRing_Lookup() {
	r, _ := hashring.New(nil)
	node, ok := r.Lookup("k")
	fmt.Printf("%q %v %q\n", node, ok, r.Get("k"))

	_ = r.Add(hashring.Node{Name: "a"})
	node, ok = r.Lookup("k")
	fmt.Printf("%q %v\n", node, ok)
	// Output:
	// "" false ""
	// "a" true
}

// *Ring satisfies go-redis's ConsistentHash interface as is:
// RingOptions.NewConsistentHash can return it. The shard names arrive in
// random order; the ring does not care.
func ExampleRing_Get() {
	type consistentHash interface{ Get(string) string } // redis.ConsistentHash
	newConsistentHash := func(shards []string) consistentHash {
		nodes := make([]hashring.Node, len(shards))
		for i, s := range shards {
			nodes[i] = hashring.Node{Name: s}
		}
		r, err := hashring.New(nodes)
		if err != nil {
			panic(err) // only for empty or duplicate names
		}
		return r
	}
	a := newConsistentHash([]string{"shard1", "shard2", "shard3"})
	b := newConsistentHash([]string{"shard3", "shard1", "shard2"})
	fmt.Println(a.Get("user:42"), a.Get("user:42") == b.Get("user:42"))
	// Output:
	// shard3 true
}

// GetN gives the replicas of a key: its owner, then the node it fails over
// to, and so on.
func ExampleRing_GetN() {
	r, _ := hashring.New([]hashring.Node{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}})
	replicas, _ := r.GetN("user:42", 3)
	fmt.Println(replicas)

	// If the owner goes, the key moves to the second replica.
	_ = r.Remove(replicas[0])
	fmt.Println(r.Get("user:42"))

	_, err := r.GetN("user:42", -1)
	fmt.Println(err)
	// Output:
	// [b d c]
	// d
	// hashring: negative node count: -1
}

// AppendN reuses a buffer: no allocation per lookup.
func ExampleRing_AppendN() {
	r, _ := hashring.NewKetama(hashring.Node{Name: "10.0.0.1"}, hashring.Node{Name: "10.0.0.2"}, hashring.Node{Name: "10.0.0.3"})
	buf := make([]string, 0, 2)
	for _, key := range []string{"a", "b"} {
		buf, _ = r.AppendN(buf[:0], key, 2)
		fmt.Println(key, buf)
	}
	// Output:
	// a [10.0.0.2 10.0.0.1]
	// b [10.0.0.2 10.0.0.3]
}

// Membership changes at run time move only the keys they must: adding a
// node moves keys only onto it.
func ExampleRing_Add() {
	nodes := []hashring.Node{}
	for i := range 10 {
		nodes = append(nodes, hashring.Node{Name: fmt.Sprint("node-", i)})
	}
	r, _ := hashring.New(nodes)
	keys := make([]string, 100000)
	before := make([]string, len(keys))
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
		before[i] = r.Get(keys[i])
	}

	_ = r.Add(hashring.Node{Name: "node-10"})
	moved, elsewhere := 0, 0
	for i, k := range keys {
		if now := r.Get(k); now != before[i] {
			moved++
			if now != "node-10" {
				elsewhere++
			}
		}
	}
	fmt.Printf("moved %.2f, all to node-10: %v\n", float64(moved)/float64(len(keys)), elsewhere == 0)

	_ = r.Remove("node-10")
	back := 0
	for i, k := range keys {
		if r.Get(k) == before[i] {
			back++
		}
	}
	fmt.Println("after Remove, same mapping as before:", back == len(keys))
	// Output:
	// moved 0.09, all to node-10: true
	// after Remove, same mapping as before: true
}

// Set replaces the membership, as when service discovery sends a new
// server list; keys of the servers that stay mostly stay.
func ExampleRing_Set() {
	r, _ := hashring.NewKetama(hashring.Node{Name: "10.0.0.1"}, hashring.Node{Name: "10.0.0.2"})
	before := r.Get("user:42")
	err := r.Set(hashring.Node{Name: "10.0.0.2"}, hashring.Node{Name: "10.0.0.1"}, hashring.Node{Name: "10.0.0.3"})
	fmt.Println(err, r.Len(), before, r.Get("user:42"))

	err = r.Set(hashring.Node{Name: "10.0.0.1"}, hashring.Node{Name: "10.0.0.1:11211"})
	fmt.Println(errors.Is(err, hashring.ErrDuplicateNode), r.Len())
	// Output:
	// <nil> 3 10.0.0.1 10.0.0.1
	// true 3
}

// SetWeight changes a node's share at run time.
func ExampleRing_SetWeight() {
	r, _ := hashring.New([]hashring.Node{{Name: "small"}, {Name: "big"}})
	_ = r.SetWeight("big", 3)
	counts := map[string]int{}
	for i := range 40000 {
		counts[r.Get(fmt.Sprint(i))]++
	}
	fmt.Printf("big %.2f, small %.2f\n", float64(counts["big"])/40000, float64(counts["small"])/40000)
	fmt.Println(r.Nodes())
	// Output:
	// big 0.76, small 0.24
	// [{big 3} {small 0}]
}

// Bounded loads: a hot key spills to the next nodes instead of piling
// onto one; no node holds more than ⌈1.25 × average⌉ when work is assigned.
func ExampleNewBounded() {
	r, _ := hashring.New([]hashring.Node{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}})
	b, err := hashring.NewBounded(r, 1.25)
	if err != nil {
		panic(err)
	}
	var held []string
	for range 20 {
		node, _ := b.Acquire("hot-key")
		held = append(held, node)
	}
	loads := map[string]int{}
	for _, n := range held {
		loads[n]++
	}
	names := make([]string, 0, len(loads))
	for n := range loads {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n, loads[n]) // at most ⌈1.25 × 20 / 4⌉ = 7
	}
	for _, n := range held {
		b.Release(n)
	}
	fmt.Println("in flight:", b.InFlight())
	// Output:
	// a 6
	// b 6
	// c 1
	// d 7
	// in flight: 0
}

// Jump maps a 64-bit key to one of n numbered buckets.
func ExampleJump() {
	h := xxhash.Sum64String("user:42")
	fmt.Println(hashring.Jump(h, 10), hashring.Jump(h, 11), hashring.Jump(h, 1000))
	// Output:
	// 5 5 717
}
