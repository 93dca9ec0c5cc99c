// Package faulttest holds the network-fault tests of twine's stores: real
// memcached behind Shopify's toxiproxy (run in-process), which adds
// latency, bandwidth limits, resets, 1-byte packets and silent servers
// between the client and the server. It is a module of its own so that
// the library module does not require toxiproxy; it has no code besides
// its tests.
package faulttest
