// Package twine is a map of the twine module; it holds no code.
//
// twine is a library of async primitives for Go services that talk to caches
// and flaky backends. Its four packages each stand alone and never import one
// another:
//
//   - [github.com/twine-go/twine/deferred]: Deferred[T], a Twisted-style
//     callback/errback chain that is safe for concurrent use, with chaining,
//     cancellation, timeouts, lists, locks, semaphores and queues.
//   - [github.com/twine-go/twine/backoff]: delay policies with jitter, a
//     zero-allocation Retry and RetryValue, and retry budgets that stop retry
//     storms.
//   - [github.com/twine-go/twine/hashring]: consistent hashing for
//     client-side sharding: a ketama ring that maps keys exactly as
//     libmemcached does, a faster xxhash ring, replicas, bounded loads and
//     jump hashing.
//   - [github.com/twine-go/twine/cachestruct]: data structures on memcached
//     (counters, online counters, locks, tags, a stampede-safe cache, an
//     event log, a stats buffer) over a Store with an in-memory default and
//     a meta-protocol memcached backend; cachestruct/storetest is the Store
//     contract suite, and the nested module cachestruct/redisstore a Store
//     on Redis (go-redis v9).
//
// Runnable programs that wire the packages together live in the examples
// module (examples/ in the repository).
package twine
