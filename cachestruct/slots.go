package cachestruct

import (
	"strconv"
	"time"
)

// slotRing is the clock-driven ring of keys of Online and EventLog: time
// is cut into slots of length period, slot number s = floor(t / period)
// counting from the Unix epoch, and slot s uses key <prefix>:<i> with
// i = s mod n. Every process computes the same key from its clock alone.
type slotRing struct {
	prefix string
	period time.Duration
	n      int64
}

// newSlotRing returns the ring of n keys under prefix, of one-minute slots
// if period is zero. It panics, naming the constructor that asked, if
// period is not a positive whole number of seconds (memcached TTLs are
// whole seconds).
func newSlotRing(prefix string, period time.Duration, n int, who string) slotRing {
	if period == 0 {
		period = time.Minute
	}
	if period < time.Second || period%time.Second != 0 {
		panic("cachestruct: " + who + " that is not a positive whole number of seconds")
	}
	return slotRing{prefix: prefix, period: period, n: int64(n)}
}

// slotOf returns the slot number of t and the time elapsed since its start.
func (r slotRing) slotOf(t time.Time) (int64, time.Duration) {
	ns, p := t.UnixNano(), r.period.Nanoseconds()
	q, rem := ns/p, ns%p
	if rem < 0 { // before 1970: floor, not truncation
		q, rem = q-1, rem+p
	}
	return q, time.Duration(rem)
}

// slot returns the slot number of t.
func (r slotRing) slot(t time.Time) int64 {
	s, _ := r.slotOf(t)
	return s
}

// slotKey returns the key of slot number s.
func (r slotRing) slotKey(s int64) string {
	return r.prefix + ":" + strconv.FormatInt((s%r.n+r.n)%r.n, 10)
}
