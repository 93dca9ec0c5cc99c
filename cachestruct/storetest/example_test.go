package storetest_test

import (
	"testing"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/cachestruct/storetest"
)

// A test of a Store runs the contract, and the structures' proofs on
// several clients of one backend (here one in-memory store serves them
// all; a networked store would give each its own connections).
func Example() {
	_ = func(t *testing.T) { // func TestMyStore(t *testing.T)
		storetest.Run(t, func(*testing.T) cachestruct.Store {
			return cachestruct.NewMemory(cachestruct.MemoryOptions{})
		})
		shared := cachestruct.NewMemory(cachestruct.MemoryOptions{})
		storetest.RunStructures(t, func(_ *testing.T, n int) []cachestruct.Store {
			stores := make([]cachestruct.Store, n)
			for i := range stores {
				stores[i] = shared
			}
			return stores
		})
	}
	// Output:
}
