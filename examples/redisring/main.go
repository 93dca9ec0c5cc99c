// Command redisring shards keys over several Redis servers with go-redis
// v9's Ring, whose key-to-shard mapping comes from twine's hashring:
// RingOptions.NewConsistentHash builds a hashring over the live shard
// names. It writes keys through the Ring, then asks every shard directly
// which keys it holds and checks that each key sits where hashring says;
// keys sharing a {hashtag} share a shard. It puts a cachestruct Counter and
// Lock on the same Ring through redisstore. Finally it shows what a
// consistent ring buys: when a shard goes away, only its own keys move.
//
//	redis-server --port 6379 & redis-server --port 6380 & redis-server --port 6381 &
//	go run ./redisring -shards a=localhost:6379,b=localhost:6380,c=localhost:6381
//
// The keys are written under -prefix and deleted at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redisring:", err)
		os.Exit(1)
	}
}

// config holds the command-line settings.
type config struct {
	addrs  map[string]string
	names  []string
	keys   int
	prefix string
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("redisring", flag.ContinueOnError)
	fs.SetOutput(out)
	shards := fs.String("shards", "a=localhost:6379,b=localhost:6380,c=localhost:6381", "the shards: name=host:port,…")
	fs.IntVar(&c.keys, "keys", 1000, "number of keys to write")
	fs.StringVar(&c.prefix, "prefix", "twine:redisring:", "prefix of the keys written (deleted at the end)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.keys < 1 {
		return c, fmt.Errorf("-keys must be positive")
	}
	var err error
	c.addrs, c.names, err = parseShards(*shards)
	return c, err
}

// newRing returns a go-redis Ring over the shards, hashed by hashring.
func newRing(addrs map[string]string, heartbeat time.Duration) *redis.Ring {
	return redis.NewRing(&redis.RingOptions{
		Addrs:              addrs,
		NewConsistentHash:  newConsistentHash,
		HeartbeatFrequency: heartbeat,
		DialTimeout:        time.Second,
		MaxRetries:         -1,
	})
}

// run is the program; tests call it with their own arguments and output.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	ring := newRing(c.addrs, 0)
	defer ring.Close()
	if err := ring.ForEachShard(ctx, func(ctx context.Context, shard *redis.Client) error {
		return shard.Ping(ctx).Err()
	}); err != nil {
		return fmt.Errorf("a shard does not answer: %w", err)
	}
	keys := make([]string, c.keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("%suser:%d", c.prefix, i)
	}
	defer func() { _ = deleteKeys(context.WithoutCancel(ctx), ring, keys) }()

	fmt.Fprintf(stdout, "redisring: %d keys through a go-redis Ring over %d shards, hashed by hashring\n\n", c.keys, len(c.names))
	if err := writeKeys(ctx, ring, keys); err != nil {
		return err
	}
	// The ring go-redis uses, rebuilt here from the same shard names.
	hash := newConsistentHash(c.names)
	report, err := placement(ctx, c.addrs, c.names, c.prefix, hash)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-6s %-22s %6s %10s\n", "shard", "address", "keys", "misplaced")
	for _, name := range c.names {
		r := report[name]
		fmt.Fprintf(stdout, "%-6s %-22s %6d %10d\n", name, c.addrs[name], r.held, r.misplaced)
	}
	total, misplaced := 0, 0
	for _, r := range report {
		total += r.held
		misplaced += r.misplaced
	}
	if total != c.keys || misplaced != 0 {
		return fmt.Errorf("found %d of %d keys on the shards, %d misplaced", total, c.keys, misplaced)
	}
	fmt.Fprintf(stdout, "every key is on the shard hashring names (asked each shard with SCAN)\n")

	if err := showHashtags(ctx, stdout, ring, c.addrs, c.names, c.prefix, hash); err != nil {
		return err
	}
	if err := showStructures(ctx, stdout, ring, c.addrs, c.prefix, hash); err != nil {
		return err
	}
	showRemoval(stdout, c.names, keys)
	return nil
}
