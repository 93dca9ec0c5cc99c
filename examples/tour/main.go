// Command tour is a guided walk through twine's four packages, printed as
// it runs; `make demo` runs it.
//
//  1. deferred: a callback chain with an errback that recovers, a callback
//     that waits on an inner Deferred, goroutine bodies gathered in order,
//     and a timeout.
//  2. backoff: the delays of each policy as a table (seeded), a Retry that
//     succeeds on the third attempt, a permanent error, and a Budget that
//     stops a retry storm.
//  3. hashring: keys spread over a ketama ring, and which keys move when a
//     node is added (only those that go to the new node).
//  4. cachestruct: counters, a lock, tags and a stampede prevented (50
//     callers, 1 computation), on the embedded in-memory store, with
//     -memcached host:port,… on real memcached servers, or with
//     -redis host:port,… on Redis (one server, or a go-redis Ring over
//     several with a hashring as its consistent hash).
//
// The output is deterministic (seeded randomness, no timings), so that it
// reads like documentation:
//
//	go run ./tour
//	go run ./tour -memcached localhost:11211,localhost:11212
//	go run ./tour -redis localhost:6379
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

// run is the program; tests call it with their own arguments and output.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("tour", flag.ContinueOnError)
	fs.SetOutput(stdout)
	servers := fs.String("memcached", "", "run the cachestruct part on these memcached servers (host:port,…) instead of in memory")
	redisServers := fs.String("redis", "", "run the cachestruct part on these Redis servers (host:port,…; several make a Ring) instead of in memory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	backend := backend{memcached: splitAddrs(*servers), redis: splitAddrs(*redisServers)}
	if len(backend.memcached) > 0 && len(backend.redis) > 0 {
		return fmt.Errorf("-memcached and -redis are exclusive")
	}

	fmt.Fprintln(stdout, "twine tour: deferred, backoff, hashring, cachestruct")
	sections := []struct {
		title string
		run   func(context.Context, io.Writer) error
	}{
		{"1. deferred: results that arrive later, with a chain of callbacks", tourDeferred},
		{"2. backoff: delays with jitter, Retry, and a Budget against retry storms", tourBackoff},
		{"3. hashring: consistent hashing, libmemcached-compatible", tourRing},
		{"4. cachestruct: data structures on memcached (or in memory)", func(ctx context.Context, w io.Writer) error {
			return tourStructures(ctx, w, backend)
		}},
	}
	for _, s := range sections {
		fmt.Fprintf(stdout, "\n%s\n%s\n", s.title, strings.Repeat("-", len([]rune(s.title))))
		if err := s.run(ctx, stdout); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
	}
	fmt.Fprintln(stdout, "\nMore: examples/README.md (comet, retryclient, shardedcache, redisring, backoffsim, statsflush, metrics).")
	return nil
}

// splitAddrs splits a comma-separated list of addresses.
func splitAddrs(list string) []string {
	var addrs []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			addrs = append(addrs, s)
		}
	}
	return addrs
}
