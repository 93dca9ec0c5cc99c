package hashring

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewBoundedErrors(t *testing.T) {
	r, err := New(testNodes(3))
	require.NoError(t, err)
	for _, c := range []float64{1, 0.5, 0, -2, math.NaN(), math.Inf(1), math.Inf(-1)} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			b, err := NewBounded(r, c)
			require.ErrorIs(t, err, ErrBadFactor)
			assert.Nil(t, b)
		})
	}
	assert.PanicsWithValue(t, "hashring: NewBounded with a nil *Ring", func() { _, _ = NewBounded(nil, 1.25) })
}

func TestBoundedEmptyAndSingle(t *testing.T) {
	r, err := New(nil)
	require.NoError(t, err)
	b, err := NewBounded(r, 1.25)
	require.NoError(t, err)
	_, ok := b.Acquire("k")
	assert.False(t, ok)
	assert.Zero(t, b.InFlight())

	require.NoError(t, r.Add(Node{Name: "only"}))
	for i := range 100 {
		node, ok := b.Acquire(fmt.Sprint(i % 3))
		require.True(t, ok)
		require.Equal(t, "only", node)
	}
	assert.Equal(t, 100, b.Load("only"))
	assert.Equal(t, 100, b.InFlight())
}

// checkBound asserts the bounded-loads guarantee for the node an Acquire
// just chose: with the new work counted, it holds at most ⌈c × in-flight ×
// weight / sum of weights⌉. (Releases elsewhere can later leave a node
// above the bound of a smaller total; the guarantee is about assignment.)
func checkBound(t *testing.T, b *Bounded, r *Ring, c float64, node string) {
	t.Helper()
	sum, w := 0, 0
	for _, n := range r.Nodes() {
		sum += max(n.Weight, 1)
		if n.Name == node {
			w = max(n.Weight, 1)
		}
	}
	require.Positive(t, w, "node %s is on the ring", node)
	total := b.InFlight()
	limit := int(math.Ceil(c * float64(total) * float64(w) / float64(sum)))
	require.LessOrEqual(t, b.Load(node), limit, "node %s with %d in flight", node, total)
}

func TestBoundedNeverExceeds(t *testing.T) {
	for _, ketama := range []bool{false, true} {
		for _, n := range []int{1, 2, 3, 7, 10} {
			for _, c := range []float64{1.01, 1.25, 2} {
				t.Run(fmt.Sprintf("ketama=%v/nodes=%d/c=%v", ketama, n, c), func(t *testing.T) {
					nodes := testNodes(n)
					if n > 2 {
						nodes[1].Weight = 3
					}
					var r *Ring
					var err error
					if ketama {
						r, err = NewKetama(nodes...)
					} else {
						r, err = New(nodes, Points(64))
					}
					require.NoError(t, err)
					b, err := NewBounded(r, c)
					require.NoError(t, err)
					var held []string
					for i := range 300 {
						// Mostly one hot key, so the loads must spill.
						key := "hot"
						if i%4 == 0 {
							key = fmt.Sprint("k", i)
						}
						node, ok := b.Acquire(key)
						require.True(t, ok)
						held = append(held, node)
						checkBound(t, b, r, c, node)
						if i%5 == 4 {
							b.Release(held[0])
							held = held[1:]
						}
					}
				})
			}
		}
	}
}

func TestBoundedSpillsHotKey(t *testing.T) {
	r, err := New(testNodes(10))
	require.NoError(t, err)
	b, err := NewBounded(r, 1.25)
	require.NoError(t, err)
	owner := r.Get("hot")
	first, ok := b.Acquire("hot")
	require.True(t, ok)
	assert.Equal(t, owner, first, "an idle ring sends the key to its owner")
	used := map[string]int{first: 1}
	for range 99 {
		node, _ := b.Acquire("hot")
		used[node]++
	}
	// ⌈1.25 × 100 / 10⌉ = 13 at most on any node.
	for node, n := range used {
		assert.LessOrEqual(t, n, 13, node)
	}
	assert.GreaterOrEqual(t, len(used), 8)
	// The spill order is GetN order: the owner fills first, then the next.
	order, err := r.GetN("hot", 2)
	require.NoError(t, err)
	assert.Equal(t, order[0], owner)
	assert.Positive(t, used[order[1]])
}

func TestBoundedRelease(t *testing.T) {
	r, err := New(testNodes(2))
	require.NoError(t, err)
	b, err := NewBounded(r, 1.5)
	require.NoError(t, err)
	b.Release("nobody") // no work in flight: nothing happens
	node, _ := b.Acquire("k")
	b.Release(node)
	b.Release(node)
	assert.Zero(t, b.Load(node))
	assert.Zero(t, b.InFlight())
}

func TestBoundedMembershipChange(t *testing.T) {
	nodes := testNodes(4)
	r, err := New(nodes)
	require.NoError(t, err)
	b, err := NewBounded(r, 1.25)
	require.NoError(t, err)
	var held []string
	for i := range 20 {
		node, _ := b.Acquire(fmt.Sprint(i))
		held = append(held, node)
	}
	require.NoError(t, r.Remove(nodes[0].Name, nodes[1].Name))
	for i := range 20 {
		node, ok := b.Acquire(fmt.Sprint("after", i))
		require.True(t, ok)
		assert.Contains(t, []string{nodes[2].Name, nodes[3].Name}, node)
	}
	for _, node := range held {
		b.Release(node)
	}
	assert.Equal(t, 20, b.InFlight())
}

func TestBoundedConcurrent(t *testing.T) {
	r, err := New(testNodes(5), Points(32))
	require.NoError(t, err)
	b, err := NewBounded(r, 1.25)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				node, ok := b.Acquire(fmt.Sprint(g, i%7))
				if !ok {
					t.Error("Acquire on a non-empty ring failed")
					return
				}
				b.Release(node)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, b.InFlight())
}

// FuzzBounded checks the bound under arbitrary sequences of acquires and
// releases: each op byte acquires a key (high bit clear) or releases the
// oldest work (high bit set).
func FuzzBounded(f *testing.F) {
	f.Add(uint8(3), uint8(25), []byte{1, 1, 1, 1, 0x80, 2, 2, 2})
	f.Add(uint8(1), uint8(1), []byte{0, 0, 0})
	f.Add(uint8(9), uint8(100), []byte("hot hot hot hot hot"))
	f.Fuzz(func(t *testing.T, n, pct uint8, ops []byte) {
		nodes := testNodes(1 + int(n)%12)
		r, err := New(nodes, Points(16))
		require.NoError(t, err)
		c := 1 + float64(1+int(pct)%200)/100
		b, err := NewBounded(r, c)
		require.NoError(t, err)
		var held []string
		for _, op := range ops {
			if op&0x80 != 0 {
				if len(held) > 0 {
					b.Release(held[0])
					held = held[1:]
				}
				continue
			}
			node, ok := b.Acquire(string(rune(op % 8)))
			require.True(t, ok)
			held = append(held, node)
			checkBound(t, b, r, c, node)
		}
	})
}

// TestBoundedFallback drives pick into its last resort, which the bound
// arithmetic only reaches through rounding: with every node above its
// bound (loads forced here), it picks the least loaded node with points.
func TestBoundedFallback(t *testing.T) {
	r, err := New(testNodes(3), Points(4))
	require.NoError(t, err)
	b, err := NewBounded(r, 1.5)
	require.NoError(t, err)
	names := r.Nodes()
	b.loads[names[0].Name] = 9
	b.loads[names[1].Name] = 5
	b.loads[names[2].Name] = 7
	b.total = 0 // bounds of ⌈1.5 × 1 / 3⌉ = 1: every node is full
	node, ok := b.Acquire("k")
	require.True(t, ok)
	assert.Equal(t, names[1].Name, node)
}
