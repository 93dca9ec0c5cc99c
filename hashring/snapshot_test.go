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
