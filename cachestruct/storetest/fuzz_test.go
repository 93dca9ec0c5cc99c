package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/internal/memcachedtest"
)

// errKind names the Store sentinel an error matches, for comparisons.
func errKind(err error) string {
	for _, s := range []error{cachestruct.ErrNotFound, cachestruct.ErrNotStored, cachestruct.ErrCASConflict, cachestruct.ErrNotNumber, cachestruct.ErrInvalidKey, cachestruct.ErrValueTooLarge, cachestruct.ErrUnavailable} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return "ok"
}

// diffStore is one side of the differential test: a store and the last
// CAS it reported per key.
type diffStore struct {
	s   cachestruct.Store
	cas map[string]uint64
	// fuzzy marks keys whose stale/win state memcached leaves unspecified:
	// an incr on an existing item rewrites it in place (keeping the stale
	// and win marks) only when no one else holds a reference to it, which
	// a recent read may still do; otherwise it replaces the item and drops
	// them. The marks are ignored until the key is written again.
	fuzzy map[string]bool
}

// apply runs the operation encoded by op and arg on key and describes the
// outcome in terms that must match between backends (not CAS values, and
// TTLs by the class they were set with).
func (d *diffStore) apply(ctx context.Context, op, arg byte, key string) string {
	ttls := []time.Duration{0, 100 * time.Second, -time.Second, 50 * time.Second}
	ttl := ttls[int(arg)%len(ttls)]
	cas := uint64(0)
	switch arg >> 6 {
	case 1:
		cas = d.cas[key]
	case 2:
		cas = d.cas[key] + 1000
	}
	item := func(it cachestruct.Item, found bool, err error) string {
		if err == nil && found {
			d.cas[key] = it.CAS
		}
		ttl := diffTTLClass(it.TTL) // robust to memcached's clock ticks and slow runs
		marks := fmt.Sprintf("won=%v stale=%v busy=%v", it.Won, it.Stale, it.Busy)
		if d.fuzzy[key] {
			marks = "marks unspecified"
		}
		// A decrement that shortens a number pads it with spaces when
		// memcached rewrites the item in place, not when it replaces it
		// (see fuzzy): trailing spaces are not compared.
		value := strings.TrimRight(string(it.Value), " ")
		return fmt.Sprintf("found=%v value=%q flags=%d ttl=%v %s err=%s",
			found, value, it.Flags, ttl, marks, errKind(err))
	}
	switch op % 8 {
	case 0:
		return item(d.s.Get(ctx, key, cachestruct.GetOptions{}))
	case 1:
		return item(d.s.Get(ctx, key, cachestruct.GetOptions{Lease: 30 * time.Second}))
	case 2:
		return item(d.s.Get(ctx, key, cachestruct.GetOptions{Recache: 60 * time.Second}))
	case 3, 4:
		mode := cachestruct.SetMode(arg % 5)
		c, err := d.s.Set(ctx, key, []byte{'0' + arg%10}, cachestruct.SetOptions{Mode: mode, TTL: ttl, Flags: uint32(arg % 3), CAS: cas, Vivify: arg&32 != 0})
		if err == nil {
			d.cas[key] = c
			d.fuzzy[key] = false
		}
		return fmt.Sprintf("set mode=%d cas=%v err=%s", mode, cas != 0, errKind(err))
	case 5:
		err := d.s.Delete(ctx, key, cachestruct.DeleteOptions{CAS: cas, Invalidate: arg&1 != 0, TTL: ttl})
		if err == nil && arg&1 == 0 {
			d.fuzzy[key] = false
		}
		return fmt.Sprintf("delete err=%s", errKind(err))
	case 7:
		// A multi-get of the key, a sibling and the key again.
		sib := key[:len(key)-1] + string('a'+rune(arg%3))
		items, err := d.s.GetMulti(ctx, []string{key, sib, key})
		out := fmt.Sprintf("multi n=%d err=%s", len(items), errKind(err))
		for _, k := range []string{key, sib} {
			if it, ok := items[k]; ok {
				d.cas[k] = it.CAS
				marks := fmt.Sprintf("won=%v stale=%v busy=%v", it.Won, it.Stale, it.Busy)
				if d.fuzzy[k] {
					marks = "marks unspecified"
				}
				out += fmt.Sprintf(" %s=%q %s", k[len(k)-1:], strings.TrimRight(string(it.Value), " "), marks)
			}
		}
		return out
	default:
		it, found, _ := d.s.Get(ctx, key, cachestruct.GetOptions{})
		n, err := d.s.Incr(ctx, key, int64(arg%7)-3, cachestruct.IncrOptions{Vivify: arg&8 != 0, Initial: uint64(arg % 4), TTL: ttl})
		if err == nil && found && (it.Stale || it.Won || it.Busy) {
			d.fuzzy[key] = true
		}
		return fmt.Sprintf("incr n=%d err=%s", n, errKind(err))
	}
}

// FuzzStoreDifferential runs the same random operations on cachestruct.NewMemory and
// on a real memcached and requires the same outcomes: the memory store
// must behave as memcached 1.6.18 does.
func FuzzStoreDifferential(f *testing.F) {
	f.Add([]byte{1, 0, 3, 64, 0, 0})                   // lease, set with the lease's CAS, get
	f.Add([]byte{3, 1, 5, 1, 0, 0, 0, 0})              // set, invalidate, two gets
	f.Add([]byte{6, 8, 6, 3, 6, 1, 3, 3, 6, 5})        // counters
	f.Add([]byte{3, 3, 3, 35, 4, 4, 0, 0, 2, 0, 2, 0}) // append/prepend, recache
	f.Add([]byte{4, 130, 5, 130, 3, 1, 5, 129, 0, 0})  // CAS conflicts
	srv := memcachedtest.Start(f)
	mc, err := cachestruct.NewMemcached([]string{srv.Addr()}, cachestruct.MemcachedOptions{})
	require.NoError(f, err)
	f.Cleanup(func() { _ = mc.Close() })
	var run atomic.Int64
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 64 {
			prog = prog[:64]
		}
		ctx := context.Background()
		mem := &diffStore{s: cachestruct.NewMemory(cachestruct.MemoryOptions{}), cas: map[string]uint64{}, fuzzy: map[string]bool{}}
		real := &diffStore{s: mc, cas: map[string]uint64{}, fuzzy: map[string]bool{}}
		prefix := fmt.Sprintf("diff:%d:%d:", time.Now().UnixNano(), run.Add(1))
		// A decrement that shortens a number leaves it space padded when
		// memcached rewrites it in place, unpadded when it replaces the
		// item (see diffStore.fuzzy); an append or prepend then makes the
		// difference part of the value ("5 8" or "58"). Such keys are not
		// compared until they are set or deleted again.
		padded, tainted := map[string]bool{}, map[string]bool{}
		for i := 0; i+1 < len(prog); i += 2 {
			op, arg := prog[i], prog[i+1]
			key := prefix + string('a'+rune(op>>5%3))
			want := real.apply(ctx, op, arg, key)
			got := mem.apply(ctx, op, arg, key)
			if os.Getenv("DIFFTRACE") != "" {
				t.Logf("%d op=%d arg=%d key=%s\n  real: %s\n  mem:  %s", i/2, op%8, arg, key[len(prefix):], want, got)
			}
			sib := key[:len(key)-1] + string('a'+rune(arg%3))
			if !tainted[key] && !(op%8 == 7 && tainted[sib]) {
				require.Equal(t, want, got, "step %d (op %d, arg %d) of %v", i/2, op, arg, prog)
			}
			switch op % 8 {
			case 3, 4:
				mode, cas := cachestruct.SetMode(arg%5), arg>>6 == 1 || arg>>6 == 2
				if mode == cachestruct.ModeSet && !cas {
					padded[key], tainted[key] = false, false
				} else if (mode == cachestruct.ModeAppend || mode == cachestruct.ModePrepend) && padded[key] {
					tainted[key] = true
				}
			case 5:
				if arg&1 == 0 && arg>>6 != 1 && arg>>6 != 2 {
					padded[key], tainted[key] = false, false
				}
			case 6:
				padded[key] = true
			}
		}
	})
}
