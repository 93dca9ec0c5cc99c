package memstore

import (
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// clock reads the store's clock once per operation, lazily: most items
// have no expiry and never need it.
type clock struct {
	now func() time.Time
	ns  int64
	ok  bool
}

func (c *clock) get() int64 {
	if !c.ok {
		c.ns = c.now().UnixNano()
		c.ok = true
	}
	return c.ns
}

// expiry returns the deadline (Unix nanoseconds) of an item written with
// ttl, 0 for never; expired reports a negative ttl.
func expiry(c *clock, ttl time.Duration) (deadline int64, expired bool) {
	switch {
	case ttl == 0:
		return 0, false
	case ttl < 0:
		return 0, true
	}
	// A deadline beyond the year 2262 cannot be represented: never, in
	// practice.
	const maxSeconds = (1<<63 - 1) / int64(time.Second)
	s := memcache.WholeSeconds(ttl)
	if s > maxSeconds {
		return 0, false
	}
	d := s * int64(time.Second)
	now := c.get()
	if now > 1<<63-1-d {
		return 0, false
	}
	return now + d, false
}

// left returns the TTL left of an item with deadline exp in whole seconds,
// rounded up, as memcached's mg t flag reports it; NoExpiry for none.
func left(c *clock, exp int64) time.Duration {
	if exp == 0 {
		return NoExpiry
	}
	d := exp - c.get()
	s := d / int64(time.Second)
	if d%int64(time.Second) > 0 {
		s++
	}
	return time.Duration(s) * time.Second
}
