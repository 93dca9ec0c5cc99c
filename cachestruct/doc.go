// Package cachestruct builds data structures on memcached's semantics:
// counters, an online-users counter, locks (with keep-alive and fencing
// tokens), a rate limiter, tagged entries, a stampede-safe cache, an event
// log and a stats buffer, all written against one small Store interface so
// that each runs unchanged on the in-memory store, on (sharded) real
// memcached and on Redis.
//
// # Which store
//
// NewMemory is the embedded default: the whole Store contract in process,
// with memcached 1.6's semantics (whole-second TTLs, CAS, leases, stale
// items, counters) and an LRU bound. Use it in unit tests, in
// single-process programs, and to try the structures. NewMemcached speaks
// memcached's meta protocol to one server or to many through a picker
// (consistent hashing), and is what several processes must share: a Lock
// or a stampede-protected Cache only protects the processes that use the
// same store. The nested module github.com/twine-go/twine/cachestruct/redisstore
// is the Store on a go-redis client (one server, a Ring or a Cluster), and
// package github.com/twine-go/twine/cachestruct/storetest is the contract
// suite that every store, a user's included, can run.
//
// Optional interfaces let a store do more in one round trip:
// PlainMultiGetter (Memcached.GetMultiPlain, a multi-get of values only)
// and RateStore (redisstore's AllowRate, a rate-limit decision on the
// server). MemoryOptions.Hook and MemcachedOptions.Hook report every
// operation (SlogHook logs them), MemcachedOptions.OnServer every ejection
// and readmission (SlogServerEvents).
//
// # The structures and what a miss means
//
// memcached forgets: an item can vanish by expiry, by eviction or with its
// server, and the client cannot tell which. So every structure defines what
// a missing key means for it, and none reports a miss as an error:
//
//   - Counter: counts restart (from zero, or from a Load function that
//     reseeds from a durable source). Initialisation is race-free: one
//     Incr with vivify, or add-then-incr with a loader.
//   - Online: distinct users in the last N slots with N+1 rotating,
//     self-expiring keys aligned to the clock; a missing slot counts zero.
//   - Lock: a missing lock is free. Acquire is an add returning a CAS,
//     release a delete guarded by that CAS, so an expired holder never
//     releases its successor's lock. An evicted lock can have two holders:
//     use it to avoid duplicate work, or fence the protected resource with
//     the tokens of LockConfig.Fencing (Held.Token), which grow across
//     expiry and eviction. Held.KeepAlive extends a held lock and cancels a
//     context when it is lost.
//   - RateLimiter: GCRA per key (NewRateLimiter with PerSecond or
//     PerMinute); a missing key is a full bucket, so an evicted key only
//     lets a burst through early.
//   - Tags: an entry misses when it is gone or when any of its tags was
//     invalidated or is missing; tag versions start from the time in
//     nanoseconds, so an evicted tag never resurrects stale entries.
//   - Cache: a miss, a value past its own expiry (to the millisecond, not
//     the store's whole seconds), an invalidated value and an early XFetch
//     recompute are each computed by exactly one caller among all
//     processes, the one that holds the store's right to recompute (leases
//     and memcached's W/Z tokens; singleflight within a process), as long
//     as it finishes within the lease; a plain Cache.Get never keeps that
//     right. When the store is down, values are computed locally and not
//     cached.
//   - EventLog: a missing chunk's events are gone; the log keeps only
//     recent history by design.
//   - Stats: a missing counter or dirty list loses the counts not yet
//     flushed; Flush moves counts to a durable Sink without losing
//     increments that arrive meanwhile, idempotently per flush id.
//
// Every structure is safe for concurrent use by multiple goroutines and by
// several processes sharing a store, and every method that talks to the
// store takes a context.Context first.
//
// # Goroutines
//
// Callbacks (a Cache's compute, a Counter's Load, a Stats Sink, an
// Observer, a Hook) run on the goroutine that called the method, except
// inside a Cache's flight. The package starts goroutines in three places
// only:
//
//   - Cache.GetOrCompute, when the caller must wait for another caller's
//     computation (or the store is down), starts one flight per key and
//     process (singleflight's DoChan), shared by the waiting callers; it
//     polls the store, or computes, with the ctx of the caller that
//     started it, and ends when the value is there, when compute returns,
//     or when that ctx ends. A caller whose own ctx ends leaves at once;
//     the flight goes on for the others.
//   - Held.KeepAlive starts one, which ends when its ctx ends, at Unlock or
//     when the lock is lost (its returned context is then cancelled).
//   - A Memcached multi-get over several servers runs one per server but
//     the first, all ended before the call returns.
//
// No method returns a channel. An Observer receives the events of
// the structures as letters (M miss, L lock try, W written, U unlock, H
// hit), the debugging trick of the post "Memcached: statistics, debugging
// and RPC" in the "Web, caching and memcached" series on Habr; a Recorder
// keeps them per key, so that a key's story reads "MLWUHHHH".
package cachestruct
