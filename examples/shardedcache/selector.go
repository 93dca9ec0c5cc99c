package main

import (
	"net"
	"sync"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/twine-go/twine/hashring"
)

// ringSelector adapts a *hashring.Ring to gomemcache's ServerSelector, so
// that memcache.NewFromSelector picks servers as the ring does: a
// gomemcache client and a cachestruct store built on the same ring agree
// on where every key lives, and so do libmemcached clients (pylibmc,
// PHP) when the ring is a ketama ring.
//
// The ring's node names are server addresses ("host:port"); each is
// resolved once, on first use. A ringSelector is safe for concurrent use by
// multiple goroutines, as gomemcache requires, and follows membership
// changes of the ring.
type ringSelector struct {
	ring  *hashring.Ring
	addrs sync.Map // node name → net.Addr
}

func newRingSelector(ring *hashring.Ring) *ringSelector {
	return &ringSelector{ring: ring}
}

// PickServer returns the address of the server that key maps to, or
// memcache.ErrNoServers when the ring is empty.
func (s *ringSelector) PickServer(key string) (net.Addr, error) {
	name, ok := s.ring.Lookup(key)
	if !ok {
		return nil, memcache.ErrNoServers
	}
	return s.addr(name)
}

// Each calls f on every server of the ring, in name order, and stops at the
// first error. gomemcache uses it for FlushAll and Ping.
func (s *ringSelector) Each(f func(net.Addr) error) error {
	for _, n := range s.ring.Nodes() {
		a, err := s.addr(n.Name)
		if err != nil {
			return err
		}
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// addr resolves a node name once and caches the result.
func (s *ringSelector) addr(name string) (net.Addr, error) {
	if a, ok := s.addrs.Load(name); ok {
		return a.(net.Addr), nil
	}
	host, port, err := net.SplitHostPort(name)
	if err != nil { // a ketama node without a port means memcached's default
		host, port = name, "11211"
	}
	a, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	actual, _ := s.addrs.LoadOrStore(name, net.Addr(a))
	return actual.(net.Addr), nil
}
