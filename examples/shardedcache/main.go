// Command shardedcache is a sharded memcached client: three (or more)
// memcached servers, a ketama ring from twine's hashring (the distribution
// of libmemcached, pylibmc and PHP memcached) choosing the server of each
// key, and twine's cachestruct structures on top through
// cachestruct.NewMemcached with the ring as its picker.
//
// It also wires the same ring into gomemcache through
// memcache.NewFromSelector (see ringSelector) and proves that both clients
// agree on where each key lives: what one writes, the other finds, on the
// server that the ring names and on no other.
//
// Last comes failover: the program waits for one server to go away (stop
// one while it runs), shows cachestruct ejecting it and its keys going to
// their successors on the ring, while the structures keep working.
//
//	memcached -p 11211 & memcached -p 11212 & memcached -p 11213 &
//	go run ./shardedcache -servers localhost:11211,localhost:11212,localhost:11213
//	# when asked: kill %2
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/hashring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "shardedcache:", err)
		os.Exit(1)
	}
}

// config holds the command-line settings.
type config struct {
	servers []string
	keys    int
	wait    time.Duration
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("shardedcache", flag.ContinueOnError)
	fs.SetOutput(out)
	servers := fs.String("servers", "localhost:11211,localhost:11212,localhost:11213", "memcached servers, host:port,…")
	fs.IntVar(&c.keys, "keys", 1000, "keys written to check placement")
	fs.DurationVar(&c.wait, "wait", 30*time.Second, "how long to wait for a server to stop (0 skips the failover step)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, s := range strings.Split(*servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.servers = append(c.servers, s)
		}
	}
	switch {
	case len(c.servers) < 2:
		return c, errors.New("-servers wants at least two servers")
	case c.keys < 1:
		return c, errors.New("-keys must be positive")
	case c.wait < 0:
		return c, errors.New("-wait must not be negative")
	}
	return c, nil
}

// cluster is the client side of the example: one ring, two clients.
type cluster struct {
	servers []string
	ring    *hashring.Ring
	store   *cachestruct.Memcached // cachestruct's meta-protocol store
	mc      *memcache.Client       // gomemcache on the same ring
}

func newCluster(servers []string) (*cluster, error) {
	nodes := make([]hashring.Node, len(servers))
	for i, s := range servers {
		nodes[i] = hashring.Node{Name: s}
	}
	ring, err := hashring.NewKetama(nodes...)
	if err != nil {
		return nil, err
	}
	store, err := cachestruct.NewMemcached(servers, cachestruct.MemcachedOptions{
		Picker:      ring, // *hashring.Ring is a SuccessorPicker: failover included
		Timeout:     500 * time.Millisecond,
		DialTimeout: 500 * time.Millisecond,
		EjectAfter:  2,
		RetryAfter:  time.Minute, // keep the dead server out for the rest of the demo
	})
	if err != nil {
		return nil, err
	}
	mc := memcache.NewFromSelector(newRingSelector(ring))
	mc.Timeout = 500 * time.Millisecond
	return &cluster{servers: servers, ring: ring, store: store, mc: mc}, nil
}

// run is the program; tests call it with their own arguments and output.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	cl, err := newCluster(c.servers)
	if err != nil {
		return err
	}
	defer cl.store.Close()
	defer cl.mc.Close()
	if err := cl.mc.Ping(); err != nil {
		return fmt.Errorf("a server does not answer: %w", err)
	}

	fmt.Fprintf(stdout, "shardedcache: %d memcached servers, a ketama ring (libmemcached's), two clients on it\n", len(c.servers))
	keys := make([]string, c.keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("sc:key:%d", i)
	}
	steps := []func() error{
		func() error { return cl.showSpread(stdout, keys) },
		func() error { return cl.showAgreement(ctx, stdout, keys) },
		func() error { return cl.showStructures(ctx, stdout) },
	}
	if c.wait > 0 {
		steps = append(steps, func() error { return cl.showFailover(ctx, stdout, keys, c.wait) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// showSpread prints how many keys each server owns.
func (cl *cluster) showSpread(w io.Writer, keys []string) error {
	count := map[string]int{}
	for _, k := range keys {
		count[cl.ring.Get(k)]++
	}
	fmt.Fprintf(w, "\n1. where %d keys live (hashring.NewKetama):\n", len(keys))
	for _, s := range cl.servers {
		fmt.Fprintf(w, "   %-22s %5d keys\n", s, count[s])
	}
	return nil
}
