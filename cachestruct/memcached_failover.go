package cachestruct

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// mcServer is one server of a Memcached with its ejection state.
type mcServer struct {
	addr   string
	index  int // in Memcached.list
	client *memcache.Client
	fails  atomic.Int64 // consecutive failures
	until  atomic.Int64 // Unix nanoseconds until which it is ejected; 0: not ejected
	period atomic.Int64 // current ejection period in nanoseconds; 0: none yet
	down   atomic.Bool  // ejected and not yet readmitted, for OnServer
}

// ServerEvent reports to MemcachedOptions.OnServer that a server was
// ejected or readmitted. OnServer runs synchronously on the goroutine
// whose request caused the change (for a GetMulti over several servers,
// possibly one of the goroutines it runs), after the change, once per
// change: an
// ejection, then (after any number of failed probes, which are not
// reported) the readmission. It must be quick and safe for concurrent use.
type ServerEvent struct {
	// Server is the server's address as given to NewMemcached.
	Server string
	// Ejected is true for an ejection, false for a readmission.
	Ejected bool
	// Period, for an ejection, is how long until the first probe.
	Period time.Duration
	// Err, for an ejection, is the failure that ejected the server.
	Err error
}

// errNoServer is wrapped in ErrUnavailable when no server can take a key.
var errNoServer = errors.New("no server available")

// pick returns the server for key: the picker's choice, or when it is
// ejected the first available successor.
func (m *Memcached) pick(key string) (*mcServer, error) {
	addr := m.picker.Get(key)
	s := m.servers[addr]
	if s == nil {
		return nil, fmt.Errorf("%w: picker returned unknown server %q", ErrUnavailable, addr)
	}
	if s.until.Load() == 0 {
		return s, nil // not ejected: no need to read the clock
	}
	now := m.now().UnixNano()
	if m.admit(s, now) {
		return s, nil
	}
	if m.succ != nil {
		var buf [8]string
		nodes, _ := m.succ.AppendN(buf[:0], key, len(m.list))
		for _, a := range nodes {
			if t := m.servers[a]; t != nil && t != s && m.admit(t, now) {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %w: %s ejected", ErrUnavailable, errNoServer, s.addr)
}

// admit reports whether a request may go to s at time now: yes when it is
// not ejected; when its ejection period has passed, yes for exactly one
// caller (the probe), whose period is extended meanwhile so that the
// others keep using the successors.
func (m *Memcached) admit(s *mcServer, now int64) bool {
	until := s.until.Load()
	if until == 0 {
		return true
	}
	if now < until {
		return false
	}
	return s.until.CompareAndSwap(until, now+s.period.Load())
}

// record counts a request's outcome for s: failures (network errors, and
// deadlines that passed while s did not answer) towards ejection; any
// answer from the server readmits it.
func (m *Memcached) record(s *mcServer, err error) {
	failed := errors.Is(err, memcache.ErrUnavailable) || errors.Is(err, memcache.ErrProtocol) ||
		errors.Is(err, context.DeadlineExceeded)
	if !failed {
		if err == nil || !errors.Is(err, context.Canceled) {
			if s.fails.Load() != 0 || s.until.Load() != 0 {
				s.fails.Store(0)
				s.until.Store(0)
				s.period.Store(0)
				if s.down.CompareAndSwap(true, false) && m.onSrv != nil {
					m.onSrv(ServerEvent{Server: s.addr})
				}
			}
		}
		return
	}
	if n := s.fails.Add(1); m.eject < 0 || n < int64(m.eject) {
		return
	}
	p := time.Duration(s.period.Load())
	if p == 0 {
		p = m.retry
	} else {
		p = min(2*p, m.retries)
	}
	s.period.Store(int64(p))
	s.until.Store(m.now().UnixNano() + int64(p))
	if s.down.CompareAndSwap(false, true) && m.onSrv != nil {
		m.onSrv(ServerEvent{Server: s.addr, Ejected: true, Period: p, Err: mapErr(err)})
	}
}

// Ejected reports the servers currently ejected, in the order given to
// NewMemcached.
func (m *Memcached) Ejected() []string {
	now := m.now().UnixNano()
	var out []string
	for _, s := range m.list {
		if u := s.until.Load(); u != 0 && now < u {
			out = append(out, s.addr)
		}
	}
	return out
}
