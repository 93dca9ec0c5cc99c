package hashring

// Jump returns the bucket in [0, buckets) for key by jump consistent hashing
// (Lamping and Veach, 2014): no memory, near-perfect balance (max/mean ≈
// 1.03 at 100 buckets) and, when the bucket count grows from n to n+1,
// only 1/(n+1) of the keys move, all to the new bucket. Buckets are
// numbered: only the last one can be removed, and there are no weights, so
// use it for numbered shards and the rings for named servers. Hash string
// keys first, for example with xxhash.Sum64String. Jump takes O(log
// buckets) steps, about 20–40 ns at 100–1000 buckets.
//
// Jump panics when buckets < 1: there is no bucket to return, and asking
// for one is a programmer error (as an index out of range is), not a
// condition to handle at run time.
func Jump(key uint64, buckets int) int {
	if buckets < 1 {
		panic("hashring: Jump with buckets < 1")
	}
	b, j := int64(-1), int64(0)
	for j < int64(buckets) {
		b = j
		// A 64-bit linear congruential step draws the next jump.
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}
