package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/twine-go/twine/cachestruct"
)

// failoverPrompt is printed when the program starts waiting for a server to
// stop; the test stops one when it reads it.
const failoverPrompt = "stop one of the servers now"

// showFailover waits until one server stops answering, then shows that
// cachestruct ejected it and serves its keys from their successors on the
// ring, while gomemcache, which has no ejection, keeps failing on them.
func (cl *cluster) showFailover(ctx context.Context, w io.Writer, keys []string, wait time.Duration) error {
	fmt.Fprintf(w, "\n4. failover: %s (waiting up to %v)\n", failoverPrompt, wait)
	dead, failures, err := cl.waitForEjection(ctx, keys, wait)
	if err != nil {
		return err
	}
	if dead == "" {
		fmt.Fprintf(w, "   no server stopped; skipping the failover step\n")
		return nil
	}
	fmt.Fprintf(w, "   %s stopped answering: ejected after %d failed calls (Ejected() = %v)\n", dead, failures, cl.store.Ejected())

	// Every write succeeds: the dead server's keys go to their successor,
	// the next server clockwise on the ring.
	written := 0
	var deadKeys []string
	for _, k := range keys {
		if cl.ring.Get(k) == dead {
			deadKeys = append(deadKeys, k)
		}
		if _, err := cl.store.Set(ctx, k, []byte("after failover"), cachestruct.SetOptions{}); err == nil {
			written++
		}
	}
	onSuccessor := 0
	for _, k := range deadKeys {
		succ, err := cl.ring.GetN(k, 2)
		if err != nil {
			return err
		}
		direct := memcache.New(succ[1])
		if it, err := direct.Get(k); err == nil && string(it.Value) == "after failover" {
			onSuccessor++
		}
		direct.Close()
	}
	fmt.Fprintf(w, "   cachestruct: %d/%d writes succeeded; %d/%d of %s's keys are on their ring successor\n",
		written, len(keys), onSuccessor, len(deadKeys), dead)

	// gomemcache's selector has no notion of a dead server.
	failed := 0
	for _, k := range deadKeys {
		if _, err := cl.mc.Get(k); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
			failed++
		}
	}
	fmt.Fprintf(w, "   gomemcache on the same ring has no ejection: %d/%d of those keys fail\n", failed, len(deadKeys))

	views := cachestruct.NewCounter(cl.store, cachestruct.CounterConfig{})
	n, err := views.Incr(ctx, "sc:views:home", 1)
	if err != nil {
		return err
	}
	if cl.ring.Get("sc:views:home") == dead {
		fmt.Fprintf(w, "   counter sc:views:home lived on the dead server: it restarts on its successor at %d (a miss is a fresh count)\n", n)
	} else {
		fmt.Fprintf(w, "   counter sc:views:home keeps counting on %s: %d\n", cl.ring.Get("sc:views:home"), n)
	}
	return nil
}

// waitForEjection writes one key per server every 50 ms until the store
// ejects a server, wait passes (it returns ""), or ctx ends.
func (cl *cluster) waitForEjection(ctx context.Context, keys []string, wait time.Duration) (dead string, failures int, err error) {
	probes := map[string]string{} // server → a key it owns
	for _, k := range keys {
		if s := cl.ring.Get(k); probes[s] == "" {
			probes[s] = k
		}
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, k := range probes {
			if _, err := cl.store.Set(ctx, k, []byte("probe"), cachestruct.SetOptions{}); errors.Is(err, cachestruct.ErrUnavailable) {
				failures++
			}
		}
		if ej := cl.store.Ejected(); len(ej) > 0 {
			return ej[0], failures, nil
		}
		select {
		case <-ctx.Done():
			return "", failures, ctx.Err()
		case <-deadline.C:
			return "", failures, nil
		case <-tick.C:
		}
	}
}
