// Package faulttest holds the network-fault tests of twine's stores: a
// real memcached (cachestruct.Memcached) and a real redis-server
// (redisstore on a go-redis Client) behind Shopify's toxiproxy (run
// in-process), which adds latency, bandwidth limits, resets, 1-byte
// packets and silent servers between the client and the server. It is a
// module of its own so that the library module requires neither toxiproxy
// nor go-redis; it has no code besides its tests.
package faulttest
