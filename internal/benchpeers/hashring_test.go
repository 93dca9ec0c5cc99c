package benchpeers

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	jump "github.com/dgryski/go-jump"
	rendezvous "github.com/dgryski/go-rendezvous"
	"github.com/golang/groupcache/consistenthash"
	serialx "github.com/serialx/hashring"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/hashring"
)

// Not comparable here: dgryski/go-ketama, dgryski/go-maglev,
// buraksezer/consistent and stathat.com/c/consistent are not served by the
// Go module proxy (403), so BENCHMARKS.md quotes their reference figures
// without re-measuring them.

// ringPeer is one consistent-hashing implementation under comparison.
type ringPeer struct {
	name  string
	ring  bool // a ring-type peer (points on a circle), as opposed to jump/rendezvous
	build func(nodes []string) func(key string) string
}

// hashringPeers lists twine's rings and the peers, each adapted to a lookup
// function that returns the node name.
var hashringPeers = []ringPeer{
	{"twine-fast", true, func(nodes []string) func(string) string {
		r := mustRing(hashring.New(asNodes(nodes)))
		return r.Get
	}},
	{"twine-fast-160", true, func(nodes []string) func(string) string {
		r := mustRing(hashring.New(asNodes(nodes), hashring.Points(160)))
		return r.Get
	}},
	{"twine-ketama", true, func(nodes []string) func(string) string {
		r := mustRing(hashring.NewKetama(asNodes(nodes)...))
		return r.Get
	}},
	{"serialx", true, func(nodes []string) func(string) string {
		r := serialx.New(nodes)
		return func(key string) string {
			node, _ := r.GetNode(key)
			return node
		}
	}},
	{"groupcache-160", true, func(nodes []string) func(string) string {
		m := consistenthash.New(160, nil) // crc32, as its default
		m.Add(nodes...)
		return m.Get
	}},
	{"rendezvous-xxhash", false, func(nodes []string) func(string) string {
		r := rendezvous.New(nodes, xxhash.Sum64String)
		return r.Lookup
	}},
	{"jump-xxhash", false, func(nodes []string) func(string) string {
		names := slices.Clone(nodes)
		return func(key string) string {
			return names[jump.Hash(xxhash.Sum64String(key), len(names))]
		}
	}},
	// md5-floor is not a ring: it only hashes the key with md5, the floor
	// of any libmemcached-compatible lookup, so that ketama's cost can be
	// compared with go-ketama's reference figure as a multiple of md5.
	{"md5-floor", false, func(nodes []string) func(string) string {
		return func(key string) string {
			sum := md5.Sum([]byte(key))
			return nodes[sum[0]%byte(len(nodes))]
		}
	}},
	{"twine-jump-xxhash", false, func(nodes []string) func(string) string {
		names := slices.Clone(nodes)
		return func(key string) string {
			return names[hashring.Jump(xxhash.Sum64String(key), len(names))]
		}
	}},
}

func mustRing(r *hashring.Ring, err error) *hashring.Ring {
	if err != nil {
		panic(err)
	}
	return r
}

func asNodes(names []string) []hashring.Node {
	nodes := make([]hashring.Node, len(names))
	for i, n := range names {
		nodes[i] = hashring.Node{Name: n}
	}
	return nodes
}

// ringNodes returns n memcached addresses.
func ringNodes(n int) []string {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("10.0.%d.%d:11211", i/200, 1+i%200)
	}
	return nodes
}

// ringKeys returns n 16-byte printable keys.
func ringKeys(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	keys := make([]string, n)
	var b [16]byte
	for i := range keys {
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		keys[i] = string(b[:])
	}
	return keys
}

// BenchmarkHashringLookup compares one lookup of a 16-byte key.
func BenchmarkHashringLookup(b *testing.B) {
	keys := ringKeys(4096, 1)
	for _, n := range []int{10, 100} {
		for _, p := range hashringPeers {
			b.Run(fmt.Sprintf("nodes=%d/lib=%s", n, p.name), func(b *testing.B) {
				get := p.build(ringNodes(n))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					_ = get(keys[i&4095])
					i++
				}
			})
		}
	}
}

// BenchmarkHashringBuild compares building a ring of n nodes.
func BenchmarkHashringBuild(b *testing.B) {
	for _, n := range []int{10, 100} {
		nodes := ringNodes(n)
		for _, p := range hashringPeers {
			if !p.ring {
				continue
			}
			b.Run(fmt.Sprintf("nodes=%d/lib=%s", n, p.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = p.build(nodes)
				}
			})
		}
	}
}

// heapBytes returns the bytes that stay allocated after build.
func heapBytes(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}

// quality is what a distribution costs and achieves at n nodes.
type quality struct {
	maxMean  float64 // most loaded node over the mean, 16-byte keys
	moved    float64 // fraction of keys moved when node n+1 joins
	strayed  float64 // fraction moved between old nodes (should be 0)
	bytes    uint64  // heap bytes per node
	buildDur time.Duration
}

func measure(p ringPeer, n int, keys []string) quality {
	var q quality
	nodes := ringNodes(n + 1)
	start := time.Now()
	get := p.build(nodes[:n])
	q.buildDur = time.Since(start)
	counts := map[string]int{}
	before := make([]string, len(keys))
	for i, k := range keys {
		before[i] = get(k)
		counts[before[i]]++
	}
	most := 0
	for _, c := range counts {
		most = max(most, c)
	}
	q.maxMean = float64(most) / (float64(len(keys)) / float64(n))
	grown := p.build(nodes)
	moved, strayed := 0, 0
	for i, k := range keys {
		if after := grown(k); after != before[i] {
			moved++
			if after != nodes[n] {
				strayed++
			}
		}
	}
	q.moved = float64(moved) / float64(len(keys))
	q.strayed = float64(strayed) / float64(len(keys))
	q.bytes = heapBytes(func() any { return p.build(nodes[:n]) }) / uint64(n)
	return q
}

// TestHashringQuality measures balance, movement on growth and memory of
// every peer at 10 and 100 nodes (the figures in BENCHMARKS.md) and checks
// twine's: better balance than the ring-type peers, the fast ring moves
// keys only onto the new node, 0.07–0.11 moved from 10 to 11 nodes.
func TestHashringQuality(t *testing.T) {
	if raceBuild() {
		t.Skip("a measurement: skipped under the race detector, which only slows it down")
	}
	// 250,000 keys keep the test quick; BENCHMARKS.md quotes a run with
	// TWINE_RING_KEYS=1000000.
	nkeys := 250_000
	if s := os.Getenv("TWINE_RING_KEYS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "TWINE_RING_KEYS")
		nkeys = n
	}
	if testing.Short() {
		nkeys = 50_000
	}
	keys := ringKeys(nkeys, 2)
	for _, n := range []int{10, 100} {
		var table strings.Builder
		fmt.Fprintf(&table, "nodes=%d, %d keys of 16 bytes\n%-20s %8s %8s %8s %10s %10s\n",
			n, nkeys, "lib", "max/mean", "moved", "strayed", "bytes/node", "build")
		results := map[string]quality{}
		for _, p := range hashringPeers {
			if p.name == "md5-floor" {
				continue // not a distribution
			}
			q := measure(p, n, keys)
			results[p.name] = q
			fmt.Fprintf(&table, "%-20s %8.3f %8.4f %8.4f %10d %10s\n",
				p.name, q.maxMean, q.moved, q.strayed, q.bytes, q.buildDur.Round(time.Microsecond))
		}
		t.Log("\n" + table.String())

		fast := results["twine-fast"]
		for _, p := range hashringPeers {
			if p.ring && !strings.HasPrefix(p.name, "twine") {
				assert.Less(t, fast.maxMean, results[p.name].maxMean, "twine-fast balances better than %s", p.name)
			}
		}
		for _, name := range []string{"twine-fast", "twine-fast-160"} {
			assert.Zero(t, results[name].strayed, "%s moved keys between old nodes", name)
		}
		if n == 10 {
			// libmemcached's float32 point counts are 160 at 10 and 11
			// servers; at 101 they drop to 156 and keys move between old
			// servers, in libmemcached and so in twine-ketama.
			assert.Zero(t, results["twine-ketama"].strayed)
		}
		assert.LessOrEqual(t, fast.bytes, uint64(8*hashring.DefaultPoints+1024), "≤ 8 bytes per point")
		if n == 100 && nkeys >= 250_000 {
			// With fewer keys, sampling noise (±2.5 % at 100 nodes and
			// 50,000 keys) blurs the bounds; the hashring package asserts
			// them exactly.
			assert.LessOrEqual(t, fast.maxMean, 1.15)
			assert.LessOrEqual(t, results["twine-ketama"].maxMean, 1.30)
		}
		if n == 10 {
			for _, name := range []string{"twine-fast", "twine-ketama"} {
				assert.InDelta(t, 0.09, results[name].moved, 0.02, name)
			}
		}
	}
}

// raceBuild reports whether the test binary was built with -race.
func raceBuild() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestJumpMatchesGoJump checks hashring.Jump against dgryski/go-jump.
func TestJumpMatchesGoJump(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		key, n := rng.Uint64(), 1+rng.IntN(5000)
		require.Equal(t, int(jump.Hash(key, n)), hashring.Jump(key, n), "key %d, %d buckets", key, n)
	}
}
