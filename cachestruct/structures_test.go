package cachestruct

import (
	"sync"
	"testing"
	"time"
)

// stClock is a fake clock shared by a Memory store and the structures under
// test. It is safe for concurrent use.
type stClock struct {
	mu sync.Mutex
	t  time.Time
}

// newStClock returns a clock at t.
func newStClock(t time.Time) *stClock { return &stClock{t: t} }

// Now returns the clock's time.
func (c *stClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *stClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stEpoch is a round time the fake clocks start from (a Monday, 10:00 UTC).
var stEpoch = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// stBackend is a kind of store the structures' proofs run on: clients
// returns n clients (Stores) of one shared backend, as n processes would
// have.
type stBackend struct {
	name    string
	clients func(t *testing.T, n int) []Store
}

// stMemoryBackend is the in-memory store: n structures over one Memory.
func stMemoryBackend() stBackend {
	return stBackend{name: "memory", clients: func(t *testing.T, n int) []Store {
		m := NewMemory(MemoryOptions{})
		out := make([]Store, n)
		for i := range out {
			out[i] = m
		}
		return out
	}}
}
