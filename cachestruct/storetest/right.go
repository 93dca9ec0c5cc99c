package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
)

// recomputeRight runs, in order, the operations that move the right to
// recompute an item (memcached's W, X and Z flags) and requires memcached
// 1.6.18's answer to each: any read of a stale item that nobody has won
// wins it, whatever its options; a read with a Recache threshold above the
// item's TTL wins a fresh one; later reads are Busy; an invalidation (plain
// or guarded by the current CAS) or a write guarded by the current CAS
// hands the right back; an invalidation with an old CAS does not.
func recomputeRight(t *testing.T, s cachestruct.Store, key func(string) string) {
	ctx := context.Background()
	k := key("k")
	var cas uint64 // the latest CAS seen
	get := func(opt cachestruct.GetOptions) func() string {
		return func() string {
			it, found, err := s.Get(ctx, k, opt)
			if err != nil || !found {
				return "miss " + diffErr(err)
			}
			cas = it.CAS
			return diffItem(it, diffLoose{})
		}
	}
	del := func(opt cachestruct.DeleteOptions, casOff uint64) func() string {
		return func() string {
			if casOff != 0 {
				opt.CAS = cas + casOff - 1
			}
			return diffErr(s.Delete(ctx, k, opt))
		}
	}
	set := func(withCAS bool) func() string {
		return func() string {
			opt := cachestruct.SetOptions{TTL: 100 * time.Second}
			if withCAS {
				opt.CAS = cas
			}
			c, err := s.Set(ctx, k, []byte("v"), opt)
			if err == nil {
				cas = c
			}
			return diffErr(err)
		}
	}
	const (
		clean = `{"v" f0 ttl1m40s wonfalse stalefalse busyfalse}`
		won   = `{"v" f0 ttl1m40s wontrue stalefalse busyfalse}`
		busy  = `{"v" f0 ttl1m40s wonfalse stalefalse busytrue}`
		sWon  = `{"v" f0 ttl1m40s wontrue staletrue busyfalse}`
		sBusy = `{"v" f0 ttl1m40s wonfalse staletrue busytrue}`
	)
	type GO = cachestruct.GetOptions
	type DO = cachestruct.DeleteOptions
	steps := []struct {
		name string
		do   func() string
		want string
	}{
		{"set", set(false), "ok"},
		{"get", get(GO{}), clean},
		{"invalidate", del(DO{Invalidate: true}, 0), "ok"},
		{"plain get of a stale item wins", get(GO{}), sWon},
		{"then busy", get(GO{}), sBusy},
		{"invalidate with the current CAS", del(DO{Invalidate: true}, 1), "ok"},
		{"wins again", get(GO{Recache: 50 * time.Second}), sWon},
		{"invalidate with an old CAS", del(DO{Invalidate: true}, 1+1<<40), cachestruct.ErrCASConflict.Error()},
		{"still busy", get(GO{Lease: 30 * time.Second}), sBusy},
		{"write with the current CAS", set(true), "ok"},
		{"a new item", get(GO{Recache: 50 * time.Second}), clean},
		{"recache above the TTL wins", get(GO{Recache: 5000 * time.Second}), won},
		{"then busy for recache", get(GO{Recache: 5000 * time.Second}), busy},
		{"and for a plain get", get(GO{}), busy},
		{"invalidate a won item", del(DO{Invalidate: true}, 0), "ok"},
		{"wins", get(GO{}), sWon},
		{"write with the current CAS", set(true), "ok"},
		{"clean", get(GO{}), clean},
	}
	for _, st := range steps {
		require.Equal(t, st.want, st.do(), st.name)
	}
}
