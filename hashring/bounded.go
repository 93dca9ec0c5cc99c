package hashring

import (
	"fmt"
	"math"
	"sync"
)

// Bounded assigns work to the nodes of a Ring with bounded loads
// (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded
// Loads", 2016; HAProxy's hash-balance-factor): a key goes to the first
// node in GetN order (the owner, then the failover nodes) whose in-flight load stays within
// ⌈c × average⌉ once the new work is counted, where c > 1 is the balance
// factor. Hot keys then spill to the next nodes instead of overloading
// one, and keys move only as much as the loads require.
//
// With weights, a node's bound is ⌈c × total × weight / sum of weights⌉,
// which is ⌈c × average⌉ for equal weights. The bound holds when work is
// assigned: releases elsewhere can later leave a node above the bound of
// the smaller total, and new work then goes around it. Because the bounds sum to more
// than the work in flight, some node always has room: Acquire never fails
// on a non-empty ring, whatever the node count.
//
// Bounded follows the Ring's membership changes. Work acquired on a node
// that is later removed counts until it is released. A Bounded is safe for
// concurrent use by multiple goroutines; Acquire and Release take a mutex
// and Acquire walks the ring, so they cost 100–500 ns, more than a lookup.
type Bounded struct {
	ring   *Ring
	factor float64

	mu    sync.Mutex
	loads map[string]int
	total int
	full  []bool // scratch for pick
}

// NewBounded returns a bounded-load picker over r with balance factor c
// (HAProxy's default hash-balance-factor is 1.25; smaller values balance
// more tightly and move more keys). It returns ErrBadFactor unless c is a
// finite number greater than 1. It panics if r is nil (a programmer error).
func NewBounded(r *Ring, c float64) (*Bounded, error) {
	if r == nil {
		panic("hashring: NewBounded with a nil *Ring")
	}
	if !(c > 1) || math.IsInf(c, 1) {
		return nil, fmt.Errorf("%w: %v", ErrBadFactor, c)
	}
	return &Bounded{ring: r, factor: c, loads: map[string]int{}}, nil
}

// Acquire picks the node for one unit of work on key and counts it as in
// flight until Release. It returns false only when the ring is empty.
func (b *Bounded) Acquire(key string) (string, bool) {
	s := b.ring.snap.Load()
	if s == nil || len(s.names) == 0 {
		return "", false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	node := b.pick(s, key)
	b.loads[node]++
	b.total++
	return node, true
}

// pick walks the ring from key to the first node with room. full marks
// the nodes already found full, so that a full node's other points cost a
// slice read, not a map lookup.
func (b *Bounded) pick(s *snapshot, key string) string {
	if len(s.names) == 1 {
		return s.names[0]
	}
	work := float64(b.total + 1)
	if cap(b.full) < len(s.names) {
		b.full = make([]bool, len(s.names))
	}
	full := b.full[:len(s.names)]
	clear(full)
	c := s.cursor(s.hash(key))
	for {
		o, ok := c.next()
		if !ok {
			break
		}
		if full[o] {
			continue
		}
		limit := math.Ceil(b.factor * work * float64(s.members[o].weight) / s.reachW)
		if float64(b.loads[s.names[o]]+1) <= limit {
			return s.names[o]
		}
		full[o] = true
	}
	// Rounding can only leave no room when c is within a rounding error of
	// 1: fall back to the least loaded node that owns points.
	best := ""
	for o, name := range s.names {
		if s.owned[o] && (best == "" || b.loads[name] < b.loads[best]) {
			best = name
		}
	}
	return best
}

// Release ends one unit of work on node, acquired with Acquire. Releasing
// a node with no work in flight does nothing.
func (b *Bounded) Release(node string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.loads[node] == 0 {
		return
	}
	b.loads[node]--
	b.total--
	if b.loads[node] == 0 {
		delete(b.loads, node)
	}
}

// Load returns the work in flight on node.
func (b *Bounded) Load(node string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.loads[node]
}

// InFlight returns the total work in flight.
func (b *Bounded) InFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}
