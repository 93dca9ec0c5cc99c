// Package benchpeers holds benchmarks that measure twine against peer
// libraries side by side, in one run, so that BENCHMARKS.md can quote ratios
// rather than absolute figures from a noisy shared machine.
//
// It is a separate module so that the library module never depends on the
// peers. The imports below pin every peer in go.mod; each is used by the
// benchmark file of the twine package it is compared with.
package benchpeers

import (
	_ "github.com/avast/retry-go/v4"
	_ "github.com/bradfitz/gomemcache/memcache"
	_ "github.com/cenkalti/backoff/v5"
	_ "github.com/dgraph-io/ristretto/v2"
	_ "github.com/dgryski/go-jump"
	_ "github.com/dgryski/go-rendezvous"
	_ "github.com/fanliao/go-promise"
	_ "github.com/golang/groupcache/consistenthash"
	_ "github.com/jpillora/backoff"
	_ "github.com/maypok86/otter/v2"
	_ "github.com/serialx/hashring"
	_ "github.com/sethvargo/go-retry"

	_ "github.com/twine-go/twine"
)
