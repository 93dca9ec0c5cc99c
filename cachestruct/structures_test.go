package cachestruct

import (
	"sync"
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

// memoryClients returns n structures' worth of clients of one in-memory
// store: n times the same Memory, as n processes would share a server.
func memoryClients(n int) []Store {
	m := NewMemory(MemoryOptions{})
	out := make([]Store, n)
	for i := range out {
		out[i] = m
	}
	return out
}
