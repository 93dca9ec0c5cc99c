package hashring

import (
	"encoding/binary"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// naiveLocate is the first point ≥ h by binary search, wrapping to 0.
func naiveLocate(vals []uint32, h uint32) int {
	i := sort.Search(len(vals), func(i int) bool { return vals[i] >= h })
	if i == len(vals) {
		return 0
	}
	return i
}

// FuzzLocate checks the indexed, branchless lookup against a plain binary
// search, for arbitrary point sets: crowded buckets, equal points, points
// at 0 and 2^32-1, a single point.
func FuzzLocate(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, uint32(0))
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0}, uint32(1<<32-1))
	crowded := make([]byte, 4*40)
	for i := range 40 {
		binary.LittleEndian.PutUint32(crowded[4*i:], 0x80000000+uint32(i))
	}
	f.Add(crowded, uint32(0x80000010))
	f.Add(crowded, uint32(0x7fffffff))
	f.Add(crowded, uint32(0x90000000))
	f.Fuzz(func(t *testing.T, data []byte, h uint32) {
		n := len(data) / 4
		if n == 0 {
			return
		}
		all := []memberWithWeight{
			{member: member{name: "a", weight: 1}},
			{member: member{name: "b", weight: 1}},
			{member: member{name: "c", weight: 1}},
		}
		packed := make([]uint64, n)
		for i := range packed {
			v := binary.LittleEndian.Uint32(data[4*i:])
			packed[i] = uint64(v)<<32 | uint64(i%3)
		}
		for _, ketama := range []bool{true, false} {
			s := newSnapshot(ketama, all, packed)
			vals := s.vals[:s.n]
			require.True(t, sort.SliceIsSorted(vals, func(i, j int) bool { return vals[i] < vals[j] }))
			want := naiveLocate(vals, h)
			require.Equal(t, want, s.locate(h))
			p := (want + s.n - 1) % s.n
			if !ketama && h-vals[p] < vals[want]-h {
				want = p
			}
			require.Equal(t, vals[want], vals[s.point(h)], "same position")
			// The cursor visits every point exactly once.
			c := s.cursor(h)
			seen := 0
			for {
				if _, ok := c.next(); !ok {
					break
				}
				seen++
			}
			require.Equal(t, s.n, seen)
		}
	})
}

// FuzzChanges applies arbitrary sequences of Add, Remove, SetWeight and Set
// and checks after each that the ring is identical, point for point, to a
// ring built from scratch with the same membership (the fast ring merges
// points incrementally; ketama reuses cached digests).
func FuzzChanges(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0x41, 0x82, 0xc3, 5}, false)
	f.Add([]byte{0, 1, 2, 3, 0x41, 0x82, 0xc3, 5}, true)
	f.Add([]byte{7, 7, 0x47, 0x87, 0x87, 0xc0, 1}, false)
	f.Fuzz(func(t *testing.T, ops []byte, ketama bool) {
		universe := testNodes(16)
		build := func(nodes []Node) *Ring {
			var r *Ring
			var err error
			if ketama {
				r, err = NewKetama(nodes...)
			} else {
				r, err = New(nodes, Points(8))
			}
			require.NoError(t, err)
			return r
		}
		r := build(nil)
		for _, op := range ops {
			n := universe[op%16]
			switch op >> 6 {
			case 0:
				_ = r.Add(n)
			case 1:
				_ = r.Remove(n.Name)
			case 2:
				_ = r.SetWeight(n.Name, int(op>>4&3))
			case 3:
				var some []Node
				for i, u := range universe {
					if (i+int(op))%3 == 0 {
						some = append(some, u)
					}
				}
				require.NoError(t, r.Set(some...))
			}
			fresh := build(r.Nodes())
			got, want := r.snap.Load(), fresh.snap.Load()
			require.Equal(t, want.names, got.names)
			require.Equal(t, want.vals, got.vals)
			require.Equal(t, want.owners, got.owners)
			require.Equal(t, want.index, got.index)
			require.Equal(t, want.reachable, got.reachable)
		}
	})
}
