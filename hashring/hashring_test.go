package hashring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testKeys returns n deterministic 16-byte printable keys.
func testKeys(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 99))
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

// testNodes returns n memcached-style addresses.
func testNodes(n int) []Node {
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{Name: fmt.Sprintf("10.0.%d.%d:11211", i/200, 1+i%200)}
	}
	return nodes
}

// builders names the two ring constructors for table tests.
var builders = []struct {
	name  string
	build func(nodes []Node) (*Ring, error)
}{
	{"fast", func(nodes []Node) (*Ring, error) { return New(nodes) }},
	{"ketama", func(nodes []Node) (*Ring, error) { return NewKetama(nodes...) }},
}

func mapping(r *Ring, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = r.Get(k)
	}
	return out
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name   string
		nodes  []Node
		ketama error // error from NewKetama; nil means accepted
		fast   error // error from New
	}{
		{"empty name", []Node{{Name: "a:1"}, {Name: ""}}, ErrEmptyName, ErrEmptyName},
		{"duplicate", []Node{{Name: "a:1"}, {Name: "a:1", Weight: 2}}, ErrDuplicateNode, ErrDuplicateNode},
		{"default port duplicate", []Node{{Name: "a"}, {Name: "a:11211"}}, ErrDuplicateNode, nil},
		{"ipv6 duplicate", []Node{{Name: "::1"}, {Name: "[::1]:11211"}}, ErrDuplicateNode, nil},
		{"bad port", []Node{{Name: "a:x"}}, ErrBadAddress, nil},
		{"port zero", []Node{{Name: "a:0"}}, ErrBadAddress, nil},
		{"socket path", []Node{{Name: "/tmp/mc.sock"}}, ErrBadAddress, nil},
		{"negative weight", []Node{{Name: "a", Weight: -1}}, ErrBadWeight, ErrBadWeight},
		{"huge weight", []Node{{Name: "a", Weight: 1 << 32}}, ErrBadWeight, ErrBadWeight},
		{"too many points", []Node{{Name: "a", Weight: 1 << 20}}, nil, ErrTooManyPoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewKetama(tt.nodes...)
			if tt.ketama != nil {
				require.ErrorIs(t, err, tt.ketama)
				assert.Nil(t, r)
			} else {
				require.NoError(t, err)
			}
			r, err = New(tt.nodes)
			if tt.fast != nil {
				require.ErrorIs(t, err, tt.fast)
				assert.Nil(t, r)
			} else {
				require.NoError(t, err)
			}
		})
	}
	t.Run("points", func(t *testing.T) {
		for _, p := range []int{0, -1} {
			_, err := New(testNodes(3), Points(p))
			require.ErrorIs(t, err, ErrBadPoints)
		}
	})
	t.Run("too many nodes", func(t *testing.T) {
		nodes := make([]Node, MaxNodes+1)
		for i := range nodes {
			nodes[i] = Node{Name: fmt.Sprint(i)}
		}
		_, err := New(nodes, Points(1))
		require.ErrorIs(t, err, ErrTooManyNodes)
	})
	t.Run("negative n", func(t *testing.T) {
		r, err := New(testNodes(3))
		require.NoError(t, err)
		_, err = r.GetN("k", -1)
		require.ErrorIs(t, err, ErrNegativeCount)
		dst := []string{"x"}
		got, err := r.AppendN(dst, "k", -2)
		require.ErrorIs(t, err, ErrNegativeCount)
		assert.Equal(t, dst, got)
	})
}

func TestEmptyRing(t *testing.T) {
	var zero Ring
	k, err := NewKetama()
	require.NoError(t, err)
	f, err := New(nil)
	require.NoError(t, err)
	for name, r := range map[string]*Ring{"zero": &zero, "ketama": k, "fast": f} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, "", r.Get("k"))
			_, ok := r.Lookup("k")
			assert.False(t, ok)
			got, err := r.GetN("k", 3)
			require.NoError(t, err)
			assert.Empty(t, got)
			dst := []string{"x"}
			got, err = r.AppendN(dst, "k", 3)
			require.NoError(t, err)
			assert.Equal(t, dst, got)
			assert.Empty(t, r.Nodes())
			assert.Zero(t, r.Len())

			require.NoError(t, r.Add(Node{Name: "a:1"}))
			node, ok := r.Lookup("k")
			assert.True(t, ok)
			assert.Equal(t, "a:1", node)
			require.NoError(t, r.Remove("a:1"))
			assert.Equal(t, "", r.Get("k"))
		})
	}
}

func TestGetN(t *testing.T) {
	keys := testKeys(2000, 1)
	for _, b := range builders {
		for _, n := range []int{1, 2, 5, 20} {
			t.Run(fmt.Sprintf("%s/nodes=%d", b.name, n), func(t *testing.T) {
				r, err := b.build(testNodes(n))
				require.NoError(t, err)
				for _, want := range []int{0, 1, 3, n, n + 5, 100} {
					for _, key := range keys[:200] {
						got, err := r.GetN(key, want)
						require.NoError(t, err)
						require.Len(t, got, min(want, n))
						if want > 0 {
							assert.Equal(t, r.Get(key), got[0], "first replica is the owner")
						}
						assert.Len(t, uniq(got), len(got), "distinct")
					}
				}
			})
		}
	}
}

// TestGetNPrefix checks that a shorter GetN is a prefix of a longer one,
// on both sides of the 64-node limit of the stack-tracked path, and that
// a ketama node without points never appears.
func TestGetNPrefix(t *testing.T) {
	keys := testKeys(200, 12)
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			r, err := b.build(testNodes(100))
			require.NoError(t, err)
			for _, key := range keys {
				all, err := r.GetN(key, 100)
				require.NoError(t, err)
				require.Len(t, all, 100)
				require.Len(t, uniq(all), 100)
				for _, n := range []int{1, 3, 64, 65, 80} {
					some, err := r.GetN(key, n)
					require.NoError(t, err)
					require.Equal(t, all[:n], some)
				}
			}
		})
	}
	t.Run("ketama node without points", func(t *testing.T) {
		// 1 / (1 + 100000) × 40 × 2 < 1: libmemcached gives it no points.
		r, err := NewKetama(Node{Name: "tiny", Weight: 1}, Node{Name: "huge", Weight: 100000})
		require.NoError(t, err)
		for _, key := range keys {
			got, err := r.GetN(key, 2)
			require.NoError(t, err)
			require.Equal(t, []string{"huge"}, got)
		}
		b, err := NewBounded(r, 1.5)
		require.NoError(t, err)
		for range 10 {
			node, _ := b.Acquire("k")
			require.Equal(t, "huge", node)
		}
	})
}

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// TestGetNFailover checks that the second node of GetN is where the key
// goes when its owner is removed: the failover target.
func TestGetNFailover(t *testing.T) {
	keys := testKeys(3000, 2)
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			nodes := testNodes(10)
			r, err := b.build(nodes)
			require.NoError(t, err)
			// without[name] is the ring after name's removal.
			without := map[string]*Ring{}
			for _, n := range nodes {
				w, err := b.build(nodes)
				require.NoError(t, err)
				require.NoError(t, w.Remove(n.Name))
				without[n.Name] = w
			}
			for _, key := range keys {
				two, err := r.GetN(key, 2)
				require.NoError(t, err)
				// In ketama, removing a server changes the others' point
				// counts only when the float32 rounding changes; at 9 and
				// 10 servers it doesn't.
				require.Equal(t, two[1], without[two[0]].Get(key), "key %q", key)
			}
		})
	}
}

func TestZeroAllocs(t *testing.T) {
	long := strings.Repeat("k", 250)
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			r, err := b.build(testNodes(100))
			require.NoError(t, err)
			dst := make([]string, 0, 8)
			allocs := testing.AllocsPerRun(200, func() {
				_ = r.Get("0123456789abcdef")
				_ = r.Get(long)
				_, _ = r.Lookup("0123456789abcdef")
				dst, _ = r.AppendN(dst[:0], "0123456789abcdef", 3)
			})
			assert.Zero(t, allocs)
		})
	}
}

func TestPermutationInvariance(t *testing.T) {
	keys := testKeys(5000, 3)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			nodes := testNodes(37)
			nodes[3].Weight = 3
			nodes[5].Weight = 0
			r, err := b.build(nodes)
			require.NoError(t, err)
			want := mapping(r, keys)
			for range 5 {
				rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
				r2, err := b.build(nodes)
				require.NoError(t, err)
				require.Equal(t, want, mapping(r2, keys))
				// Built one by one, too.
				r3, err := b.build(nil)
				require.NoError(t, err)
				for _, n := range nodes {
					require.NoError(t, r3.Add(n))
				}
				require.Equal(t, want, mapping(r3, keys))
			}
		})
	}
}

func TestNodes(t *testing.T) {
	r, err := NewKetama(Node{Name: "b:2", Weight: 0}, Node{Name: "a", Weight: 5})
	require.NoError(t, err)
	assert.Equal(t, []Node{{Name: "a", Weight: 5}, {Name: "b:2"}}, r.Nodes())
	assert.Equal(t, 2, r.Len())
}

func TestMembershipErrors(t *testing.T) {
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			r, err := b.build(testNodes(3))
			require.NoError(t, err)
			before := r.Nodes()
			require.ErrorIs(t, r.Add(Node{Name: testNodes(1)[0].Name}), ErrDuplicateNode)
			require.ErrorIs(t, r.Add(Node{Name: "x:1"}, Node{Name: "x:1"}), ErrDuplicateNode)
			require.ErrorIs(t, r.Add(Node{Name: "y:1"}, Node{}), ErrEmptyName)
			require.ErrorIs(t, r.Remove("nope:1"), ErrUnknownNode)
			require.ErrorIs(t, r.Remove(testNodes(1)[0].Name, "nope:1"), ErrUnknownNode)
			require.ErrorIs(t, r.Remove(""), ErrEmptyName)
			require.ErrorIs(t, r.SetWeight("nope:1", 2), ErrUnknownNode)
			require.ErrorIs(t, r.SetWeight(testNodes(1)[0].Name, -2), ErrBadWeight)
			require.ErrorIs(t, r.Set(Node{Name: "a:1"}, Node{Name: "a:1"}), ErrDuplicateNode)
			assert.Equal(t, before, r.Nodes(), "ring unchanged after errors")

			require.NoError(t, r.SetWeight(testNodes(1)[0].Name, 4))
			assert.Equal(t, 4, r.Nodes()[0].Weight)
			require.NoError(t, r.Set(Node{Name: "z:9"}))
			assert.Equal(t, []Node{{Name: "z:9"}}, r.Nodes())
		})
	}
	r, err := NewKetama(Node{Name: "h"}, Node{Name: "[::1]:5"})
	require.NoError(t, err)
	require.ErrorIs(t, r.Remove("h:x"), ErrBadAddress)
	require.NoError(t, r.Remove("h:11211", "[::1]:5"))
	assert.Zero(t, r.Len())
}

// TestChangesEqualFreshBuild checks that a ring changed at run time maps
// like a ring built from scratch with the final membership (ketama caches
// point values across changes).
func TestChangesEqualFreshBuild(t *testing.T) {
	keys := testKeys(3000, 13)
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			nodes := testNodes(12)
			r, err := b.build(nodes[:8])
			require.NoError(t, err)
			require.NoError(t, r.SetWeight(nodes[2].Name, 5))
			require.NoError(t, r.Add(nodes[8:]...))
			require.NoError(t, r.Remove(nodes[0].Name, nodes[9].Name))
			require.NoError(t, r.SetWeight(nodes[2].Name, 2))
			require.NoError(t, r.Add(nodes[0]))

			final := slices.Clone(nodes)
			final[2].Weight = 2
			final = slices.Delete(final, 9, 10)
			fresh, err := b.build(final)
			require.NoError(t, err)
			assert.Equal(t, mapping(fresh, keys), mapping(r, keys))
			assert.Equal(t, fresh.Nodes(), r.Nodes())
		})
	}
}

// moved returns the fraction of keys whose node differs, and whether every
// moved key went from or to allowed.
func moved(before, after []string, allowed string) (float64, bool) {
	n, ok := 0, true
	for i := range before {
		if before[i] != after[i] {
			n++
			if before[i] != allowed && after[i] != allowed {
				ok = false
			}
		}
	}
	return float64(n) / float64(len(before)), ok
}

func TestMovement(t *testing.T) {
	keys := testKeys(200000, 5)
	for _, b := range builders {
		t.Run(b.name+"/add 11th to 10", func(t *testing.T) {
			nodes := testNodes(11)
			r, err := b.build(nodes[:10])
			require.NoError(t, err)
			before := mapping(r, keys)
			require.NoError(t, r.Add(nodes[10]))
			after := mapping(r, keys)
			frac, ok := moved(before, after, nodes[10].Name)
			assert.True(t, ok, "keys moved between old nodes")
			assert.GreaterOrEqual(t, frac, 0.07)
			assert.LessOrEqual(t, frac, 0.11)
			for i := range before {
				if before[i] != after[i] {
					require.Equal(t, nodes[10].Name, after[i])
				}
			}
		})
	}
	t.Run("fast/reweight", func(t *testing.T) {
		nodes := testNodes(10)
		r, err := New(nodes)
		require.NoError(t, err)
		before := mapping(r, keys)
		require.NoError(t, r.SetWeight(nodes[4].Name, 2))
		after := mapping(r, keys)
		frac, ok := moved(before, after, nodes[4].Name)
		assert.True(t, ok)
		// From 1/10 to 2/11 of the keys: about 8 % move, all to node 4.
		assert.InDelta(t, 2.0/11-1.0/10, frac, 0.02)
	})
}

// FuzzInvariants checks, for rings built from fuzzed membership, that
// removing a node moves only its keys, adding one moves keys only onto it,
// and GetN returns distinct nodes led by the owner.
func FuzzInvariants(f *testing.F) {
	f.Add(uint8(5), uint8(2), uint16(7), false)
	f.Add(uint8(1), uint8(0), uint16(1), true)
	f.Add(uint8(40), uint8(39), uint16(300), false)
	f.Add(uint8(12), uint8(3), uint16(9), true)
	keys := testKeys(2000, 6)
	f.Fuzz(func(t *testing.T, n, victim uint8, seed uint16, ketama bool) {
		count := 1 + int(n)%64
		nodes := make([]Node, count)
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		for i := range nodes {
			nodes[i] = Node{Name: fmt.Sprintf("n%d.%d:%d", seed, i, 1+rng.IntN(65535)), Weight: rng.IntN(4)}
		}
		v := nodes[int(victim)%count]
		build := func(ns []Node) *Ring {
			var r *Ring
			var err error
			if ketama {
				// Ketama point counts depend on the whole membership; keep
				// them fixed (160 each) with weights equal to 1 and counts
				// where float32 gives 40 points, so only the invariants
				// of the continuum are tested.
				r, err = NewKetama(ns...)
			} else {
				r, err = New(ns, Points(50))
			}
			require.NoError(t, err)
			return r
		}
		if ketama {
			for i := range nodes {
				nodes[i].Weight = 1
			}
			v.Weight = 1
		}
		full := build(nodes)
		others := slices.DeleteFunc(slices.Clone(nodes), func(x Node) bool { return x.Name == v.Name })
		small := build(others)
		before, after := mapping(small, keys), mapping(full, keys)
		if !ketama || ketamaPoints(1, uint64(count), count) == ketamaPoints(1, uint64(count-1), count-1) {
			_, ok := moved(before, after, v.Name)
			require.True(t, ok, "adding %s moved keys between other nodes", v.Name)
		}
		// Removal at run time equals building without the node.
		require.NoError(t, full.Remove(v.Name))
		require.Equal(t, before, mapping(full, keys))
		for _, k := range keys[:100] {
			got, err := small.GetN(k, 4)
			require.NoError(t, err)
			require.Len(t, uniq(got), len(got))
			if len(got) > 0 {
				require.Equal(t, small.Get(k), got[0])
			}
		}
	})
}

func maxOverMean(counts map[string]int, nodes int, keys int) float64 {
	m := 0
	for _, c := range counts {
		m = max(m, c)
	}
	return float64(m) / (float64(keys) / float64(nodes))
}

// arcShare returns the largest share of the hash space that one node owns
// over the mean share: the exact balance, free of key sampling noise.
func arcShare(r *Ring) float64 {
	s := r.snap.Load()
	share := make([]float64, len(s.names))
	vals := s.vals[:s.n]
	for i, v := range vals {
		if s.ketama {
			// A point owns the gap before it.
			prev := vals[(i+len(vals)-1)%len(vals)]
			share[s.owners[i]] += float64(v - prev)
			continue
		}
		// A point owns half of the gap on each side.
		prev := vals[(i+len(vals)-1)%len(vals)]
		next := vals[(i+1)%len(vals)]
		share[s.owners[i]] += float64(v-prev)/2 + float64(next-v)/2
	}
	return slices.Max(share) / (float64(1<<32) / float64(len(share)))
}

func TestBalance(t *testing.T) {
	tests := []struct {
		name  string
		build func([]Node) (*Ring, error)
		bound float64
	}{
		{"fast default points", builders[0].build, 1.15},
		{"ketama", builders[1].build, 1.30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.build(testNodes(100))
			require.NoError(t, err)
			exact := arcShare(r)
			assert.LessOrEqual(t, exact, tt.bound, "exact share")
			if testing.Short() || raceEnabled {
				t.Skip("1e6 keys: not in -short or under the race detector")
			}
			const keys = 1_000_000
			counts := map[string]int{}
			rng := rand.New(rand.NewPCG(8, 9))
			var b [16]byte
			for range keys {
				for j := range b {
					b[j] = byte('a' + rng.IntN(26))
				}
				counts[r.Get(string(b[:]))]++
			}
			require.Len(t, counts, 100)
			ratio := maxOverMean(counts, 100, keys)
			t.Logf("max/mean %.3f over %d keys (exact %.3f)", ratio, keys, exact)
			assert.LessOrEqual(t, ratio, tt.bound)
		})
	}
	t.Run("fast weights", func(t *testing.T) {
		nodes := testNodes(10)
		for i := range nodes {
			nodes[i].Weight = 1 + i%3
		}
		r, err := New(nodes)
		require.NoError(t, err)
		counts := map[string]int{}
		for _, k := range testKeys(200000, 10) {
			counts[r.Get(k)]++
		}
		sum := 0
		for _, n := range nodes {
			sum += n.Weight
		}
		for _, n := range nodes {
			want := 200000 * float64(n.Weight) / float64(sum)
			assert.InEpsilon(t, want, float64(counts[n.Name]), 0.12, n.Name)
		}
	})
}

func TestConcurrentMembership(t *testing.T) {
	universe := testNodes(20)
	valid := map[string]bool{}
	for _, n := range universe {
		valid[n.Name] = true
	}
	for _, b := range builders {
		t.Run(b.name, func(t *testing.T) {
			r, err := b.build(universe[:10])
			if b.name == "fast" {
				r, err = New(universe[:10], Points(64))
			}
			require.NoError(t, err)
			var stop atomic.Bool
			var wg sync.WaitGroup
			var lookups atomic.Int64
			keys := testKeys(256, 11)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					dst := make([]string, 0, 3)
					for i := g; !stop.Load(); i++ {
						node, ok := r.Lookup(keys[i%len(keys)])
						if !ok || !valid[node] {
							t.Errorf("lookup returned %q, %v", node, ok)
							return
						}
						dst, err := r.AppendN(dst[:0], keys[i%len(keys)], 3)
						if err != nil || len(dst) != 3 || len(uniq(dst)) != 3 {
							t.Errorf("AppendN = %v, %v", dst, err)
							return
						}
						lookups.Add(1)
					}
				}()
			}
			rng := rand.New(rand.NewPCG(12, 13))
			for i := range 60 {
				n := universe[10+rng.IntN(10)]
				switch i % 4 {
				case 0, 1:
					_ = r.Add(n) // may be a duplicate
				case 2:
					_ = r.Remove(n.Name) // may be absent
				case 3:
					_ = r.SetWeight(universe[rng.IntN(10)].Name, 1+rng.IntN(3))
				}
			}
			// Let the readers overlap with at least a few snapshots.
			for lookups.Load() < 1000 {
				require.NoError(t, r.Set(universe[:10+rng.IntN(10)]...))
			}
			stop.Store(true)
			wg.Wait()
			assert.GreaterOrEqual(t, r.Len(), 10)
		})
	}
}

func TestJump(t *testing.T) {
	assert.PanicsWithValue(t, "hashring: Jump with buckets < 1", func() { Jump(1, 0) })
	assert.PanicsWithValue(t, "hashring: Jump with buckets < 1", func() { Jump(1, -5) })
	assert.Equal(t, 0, Jump(12345, 1))
	const keys = 200000
	rng := rand.New(rand.NewPCG(14, 15))
	counts := make([]int, 100)
	movedKeys := 0
	for range keys {
		k := rng.Uint64()
		b10, b11 := Jump(k, 10), Jump(k, 11)
		require.True(t, b10 >= 0 && b10 < 10)
		if b10 != b11 {
			movedKeys++
			require.Equal(t, 10, b11, "keys move only to the new bucket")
		}
		counts[Jump(k, 100)]++
	}
	assert.InDelta(t, 1.0/11, float64(movedKeys)/keys, 0.01)
	assert.LessOrEqual(t, float64(slices.Max(counts))/(keys/100), 1.10)
	assert.Equal(t, Jump(math.MaxUint64, 1<<30), Jump(math.MaxUint64, 1<<30))
}
