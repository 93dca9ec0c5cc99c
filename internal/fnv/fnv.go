// Package fnv computes the FNV-1a hashes of strings without allocating,
// for the places that pick a server, a connection or a list by key: the
// standard library's hash/fnv works through a hash.Hash, which costs an
// allocation and a []byte per key.
package fnv

// Sum32a returns the 32-bit FNV-1a hash of s, as hash/fnv's New32a does.
func Sum32a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// Sum64a returns the 64-bit FNV-1a hash of s, as hash/fnv's New64a does.
func Sum64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}
