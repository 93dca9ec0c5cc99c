package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/twine-go/twine/cachestruct"
)

// showAgreement writes keys through one client and finds them through the
// other, then asks every server alone (a single-server gomemcache client)
// whether it holds each key: only the ring's server may.
func (cl *cluster) showAgreement(ctx context.Context, w io.Writer, keys []string) error {
	fmt.Fprintf(w, "\n2. gomemcache (NewFromSelector + the ring) and cachestruct agree on every key:\n")
	half := len(keys) / 2
	viaMC, viaStore := keys[:half], keys[half:]
	for _, k := range viaMC {
		if err := cl.mc.Set(&memcache.Item{Key: k, Value: []byte("from gomemcache")}); err != nil {
			return err
		}
	}
	for _, k := range viaStore {
		if _, err := cl.store.Set(ctx, k, []byte("from cachestruct"), cachestruct.SetOptions{}); err != nil {
			return err
		}
	}

	foundByStore := 0
	for _, k := range viaMC {
		it, ok, err := cl.store.Get(ctx, k, cachestruct.GetOptions{})
		if err != nil {
			return err
		}
		if ok && string(it.Value) == "from gomemcache" {
			foundByStore++
		}
	}
	foundByMC := 0
	for _, k := range viaStore {
		it, err := cl.mc.Get(k)
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
		case err != nil:
			return err
		case string(it.Value) == "from cachestruct":
			foundByMC++
		}
	}
	fmt.Fprintf(w, "   written by gomemcache, read by cachestruct: %d/%d\n", foundByStore, len(viaMC))
	fmt.Fprintf(w, "   written by cachestruct, read by gomemcache: %d/%d\n", foundByMC, len(viaStore))

	onOwner, elsewhere, err := cl.askEachServer(keys)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   asked each server alone: %d/%d keys on the ring's server, %d anywhere else\n", onOwner, len(keys), elsewhere)
	if foundByStore != len(viaMC) || foundByMC != len(viaStore) || onOwner != len(keys) || elsewhere != 0 {
		return errors.New("the clients disagree on where keys live")
	}
	return nil
}

// askEachServer counts, for keys, the copies on the server the ring names
// and the copies on any other server, asking each server directly.
func (cl *cluster) askEachServer(keys []string) (onOwner, elsewhere int, err error) {
	for _, s := range cl.servers {
		direct := memcache.New(s)
		items, err := direct.GetMulti(keys)
		direct.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", s, err)
		}
		for k := range items {
			if cl.ring.Get(k) == s {
				onOwner++
			} else {
				elsewhere++
			}
		}
	}
	return onOwner, elsewhere, nil
}
