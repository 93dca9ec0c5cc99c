package hashring

import (
	"crypto/md5"
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// snapshot is an immutable ring: readers share it without locks.
//
// The points are two parallel arrays sorted by (value, owner): vals holds
// the 32-bit positions and owners the index of the node (in canonical order)
// that owns each point, 6 bytes per point. index narrows a lookup to a
// handful of points: index[j] is the first point whose value's top b bits
// are ≥ j, and there are 2 to 4 points per bucket on average, so the index
// costs at most 2 bytes per point and a lookup is one index read and a
// short scan, whatever the size of the ring.
type snapshot struct {
	ketama    bool
	members   []member // canonical order: owner i is members[i]
	given     []int    // weights as the caller gave them
	names     []string // names[i] == members[i].name
	vals      []uint32
	owners    []uint16
	index     []uint32 // len 1<<b + 1
	shift     uint32   // 32 - b
	reachable int      // nodes that own at least one point
}

// hash returns the ring position of key.
func (s *snapshot) hash(key string) uint32 {
	if s.ketama {
		return ketamaHash(key)
	}
	return uint32(xxhash.Sum64String(key) >> 32)
}

// ketamaHash is libmemcached's MD5 key hash: the first four bytes of the
// digest, little-endian. Keys up to 256 bytes are copied to a stack buffer
// so that the conversion to []byte does not allocate.
func ketamaHash(key string) uint32 {
	var sum [md5.Size]byte
	if len(key) <= 256 {
		var buf [256]byte
		n := copy(buf[:], key)
		sum = md5.Sum(buf[:n])
	} else {
		sum = md5.Sum([]byte(key))
	}
	return binary.LittleEndian.Uint32(sum[:4])
}

// locate returns the index of the first point whose value is ≥ h, wrapping
// to 0 past the last point.
func (s *snapshot) locate(h uint32) int {
	j := h >> s.shift
	i, end := int(s.index[j]), int(s.index[j+1])
	vals := s.vals[:end]
	for i < end && vals[i] < h {
		i++
	}
	if i == len(s.vals) {
		return 0
	}
	return i
}

// owner returns the owner index of key. The ring must not be empty.
func (s *snapshot) owner(key string) int {
	if len(s.names) == 1 {
		// One node: no hashing at all, as libmemcached does.
		return 0
	}
	return int(s.owners[s.locate(s.hash(key))])
}

// smallN is the largest n for which appendN tracks the nodes it has seen in
// a stack array instead of an allocated bit set.
const smallN = 64

// appendN appends up to n distinct nodes for key in ring order to dst.
func (s *snapshot) appendN(dst []string, key string, n int) []string {
	want := min(n, s.reachable)
	if want <= 0 {
		return dst
	}
	if len(s.names) == 1 {
		return append(dst, s.names[0])
	}
	i := s.locate(s.hash(key))
	if want == 1 {
		return append(dst, s.names[s.owners[i]])
	}
	var small [smallN]uint16
	seen := small[:0]
	var bits []uint64
	if want > smallN {
		bits = make([]uint64, (len(s.names)+63)/64)
	}
	for found, steps := 0, 0; found < want && steps < len(s.vals); steps++ {
		o := s.owners[i]
		fresh := false
		if bits != nil {
			if bits[o/64]&(1<<(o%64)) == 0 {
				bits[o/64] |= 1 << (o % 64)
				fresh = true
			}
		} else if !contains(seen, o) {
			seen = append(seen, o)
			fresh = true
		}
		if fresh {
			dst = append(dst, s.names[o])
			found++
		}
		if i++; i == len(s.vals) {
			i = 0
		}
	}
	return dst
}

func contains(a []uint16, x uint16) bool {
	for _, y := range a {
		if y == x {
			return true
		}
	}
	return false
}

// newSnapshot sorts the packed points (value<<32 | owner, generated in
// owner order) and builds the lookup index.
func newSnapshot(ketama bool, all []memberWithWeight, packed []uint64) *snapshot {
	s := &snapshot{
		ketama:  ketama,
		members: make([]member, len(all)),
		given:   make([]int, len(all)),
		names:   make([]string, len(all)),
	}
	for i, m := range all {
		s.members[i] = m.member
		s.given[i] = m.given
		s.names[i] = m.name
	}
	packed = sortPoints(packed)
	s.vals = make([]uint32, len(packed))
	s.owners = make([]uint16, len(packed))
	owned := make([]bool, len(all))
	for i, p := range packed {
		s.vals[i] = uint32(p >> 32)
		s.owners[i] = uint16(p)
		if !owned[uint16(p)] {
			owned[uint16(p)] = true
			s.reachable++
		}
	}
	s.buildIndex()
	return s
}

// buildIndex sizes the index at 2 to 4 points per bucket and fills it.
func (s *snapshot) buildIndex() {
	b := 0
	for p := len(s.vals); p >= 4; p >>= 1 {
		b++
	}
	s.shift = uint32(32 - b)
	buckets := 1 << b
	s.index = make([]uint32, buckets+1)
	j := 0
	for i, v := range s.vals {
		for ; j <= int(v>>s.shift); j++ {
			s.index[j] = uint32(i)
		}
	}
	for ; j <= buckets; j++ {
		s.index[j] = uint32(len(s.vals))
	}
}

// sortPoints sorts packed points by their upper 32 bits with a stable
// least-significant-digit radix sort, so that points with equal values keep
// their owner order. It is 5–10 times faster than a comparison sort at ring
// sizes (16,000 to 100,000 points).
func sortPoints(a []uint64) []uint64 {
	tmp := make([]uint64, len(a))
	for shift := 32; shift < 64; shift += 8 {
		var count [256]int
		for _, v := range a {
			count[(v>>shift)&0xff]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, v := range a {
			d := (v >> shift) & 0xff
			tmp[count[d]] = v
			count[d]++
		}
		a, tmp = tmp, a
	}
	return a
}
