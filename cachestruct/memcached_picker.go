package cachestruct

import "github.com/twine-go/twine/internal/fnv"

// Picker chooses the server of a key: Get returns one of the addresses
// given to NewMemcached. *hashring.Ring satisfies it; any consistent-hash
// ring with that method does. An empty or unknown answer (an empty ring)
// makes the call report ErrUnavailable.
type Picker interface {
	Get(key string) string
}

// SuccessorPicker is a Picker that can also name the servers that take
// over a key when its own server is ejected: AppendN appends to dst up to n
// distinct servers for key in order of preference (ring order), the first
// being Get(key), and returns the extended slice. *hashring.Ring satisfies
// it. A Picker without AppendN gets no failover: the keys of an ejected
// server report ErrUnavailable.
type SuccessorPicker interface {
	Picker
	AppendN(dst []string, key string, n int) ([]string, error)
}

// modPicker is the default Picker: the FNV-1a hash of the key modulo the
// number of servers; the successors are the next servers in order. Every
// process maps a key to the same server.
type modPicker []string

// Get returns the server of key.
func (p modPicker) Get(key string) string {
	return p[fnv.Sum64a(key)%uint64(len(p))]
}

// AppendN appends up to n servers for key: its own, then the next ones.
func (p modPicker) AppendN(dst []string, key string, n int) ([]string, error) {
	i := int(fnv.Sum64a(key) % uint64(len(p)))
	for j := range min(n, len(p)) {
		dst = append(dst, p[(i+j)%len(p)])
	}
	return dst, nil
}
