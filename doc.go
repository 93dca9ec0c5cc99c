// Package twine is a map of the twine module; it holds no code.
//
// twine is a library of async primitives for Go services that talk to caches
// and flaky backends. Its four packages each stand alone and never import one
// another:
//
//   - [github.com/twine-go/twine/deferred]: Deferred[T], a Twisted-style
//     callback/errback chain that is safe for concurrent use, with chaining,
//     cancellation (with a cause, or bound to a context), timeouts, lists,
//     Await in goroutine bodies, bounded fan-out (Map), locks, semaphores and
//     queues.
//   - [github.com/twine-go/twine/backoff]: delay policies with jitter, a
//     zero-allocation Retry and RetryValue that say why they stopped, and
//     retry budgets that stop retry storms;
//     [github.com/twine-go/twine/backoff/httpretry] is an http.RoundTripper
//     that retries what is safe to repeat.
//   - [github.com/twine-go/twine/hashring]: consistent hashing for
//     client-side sharding: a ketama ring that maps keys exactly as
//     libmemcached does, a faster xxhash ring, replicas, bounded loads and
//     jump hashing.
//   - [github.com/twine-go/twine/cachestruct]: data structures on memcached
//     or Redis (counters, online counters, locks with keep-alive and fencing
//     tokens, a rate limiter, tags, a stampede-safe cache, an event log, a
//     stats buffer) over a Store with an in-memory default and a
//     meta-protocol memcached backend;
//     [github.com/twine-go/twine/cachestruct/storetest] is the Store contract
//     suite any Store can run, and the nested module
//     github.com/twine-go/twine/cachestruct/redisstore puts the Store on
//     go-redis (one server, Ring or Cluster).
//
// Runnable programs that wire the packages together live in the examples
// module (examples/ in the repository).
package twine
