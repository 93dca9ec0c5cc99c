package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twine-go/twine/cachestruct"
)

// The differential cases run the same operations on the store under test
// and on a reference (cachestruct.NewMemory, which this package's own
// tests hold to a real memcached 1.6.18 the same way) and require the same
// outcome from both: errors, hits, values, flags, the W/X/Z states, TTLs
// (give or take the second a server's clock may tick) and which CAS writes
// succeed. TTLs are chosen far from any boundary, so that the backends'
// different clocks cannot disagree.

// diffSide is one backend under test with what it told us so far.
type diffSide struct {
	name  string
	store cachestruct.Store
	cas   map[string]uint64 // the latest CAS seen per key
}

// diffSeq makes the key prefixes of differential runs unique across runs
// that share a server.
var diffSeq atomic.Uint64

// diffTTLs are TTLs that cannot expire during a run, or expire at once.
var diffTTLs = []time.Duration{0, 100 * time.Second, 1000 * time.Second, -time.Second}

// diffValues include numbers in memcached's odd forms and non-numbers.
// Counters stay below 2^63: from there on memcached looks for a '-' past
// the end of the item, in whatever memory follows it (see Memory.Incr), so
// its answer is not reproducible.
var diffValues = []string{"5", "10", "99", " 12", "12 ", "+7", "-0", "-3", "1 2", "007",
	"4611686018427387904", "18446744073709551616", "abc", "", "x\r\ny", "\x00\xff"}

// diffLoose is what the differential test cannot compare exactly for a
// key that was incremented since it was last written: memcached rewrites a
// counter in place (space padded, keeping the stale and won states) only
// when no response still holds the item, which depends on timing (a read
// pipelined just before the ma keeps it held); otherwise it replaces the
// item. Memory always does the former.
type diffLoose struct {
	padding bool // compare values without trailing spaces
	states  bool // do not compare Stale/Won/Busy
}

// runDiff executes the operations that prog encodes on both sides and
// fails at the first difference.
func runDiff(t testing.TB, sides [2]*diffSide, prog []byte, binary bool) {
	ctx := context.Background()
	prefix := fmt.Sprintf("diff%d:%d:", time.Now().UnixNano(), diffSeq.Add(1))
	keys := []string{prefix + "a", prefix + "b", prefix + "c", prefix + "n"}
	if binary {
		keys[2], keys[3] = prefix+"c d", prefix+"\x00n"
	}
	loose := map[string]diffLoose{}
	var log []string
	for step := 0; len(prog) >= 4; step++ {
		op, k, arg, n := prog[0]%9, keys[int(prog[1])%len(keys)], prog[2], prog[3]
		prog = prog[4:]
		ttl := diffTTLs[int(arg)%len(diffTTLs)]
		var results [2]string
		for i, s := range sides {
			results[i] = diffOp(ctx, s, op, k, arg, n, ttl, loose[k])
		}
		log = append(log, fmt.Sprintf("%d: op %d key %q arg %d n %d ttl %v -> %s", step, op, strings.TrimPrefix(k, prefix), arg, n, ttl, results[0]))
		if results[0] != results[1] {
			t.Fatalf("%s and %s differ:\n%s\n%s: %s", sides[0].name, sides[1].name,
				strings.Join(log, "\n"), sides[1].name, results[1])
		}
		switch {
		case !strings.HasSuffix(results[0], " ok"):
		case op == 5 || op == 6:
			if !strings.HasPrefix(results[0], "incr created") {
				loose[k] = diffLoose{padding: true, states: true}
			}
		case op == 0 || op == 1:
			delete(loose, k) // every successful write makes a new item
		case op == 4:
			if arg%2 == 0 { // invalidation sets both states
				loose[k] = diffLoose{padding: loose[k].padding}
			} else {
				delete(loose, k)
			}
		}
	}
}

// diffOp runs one operation on one side and describes its outcome in terms
// that do not depend on the backend (no raw CAS values).
func diffOp(ctx context.Context, s *diffSide, op byte, key string, arg, n byte, ttl time.Duration, loose diffLoose) string {
	switch op {
	case 0, 1: // set in any mode, sometimes with the latest or a wrong CAS
		opt := cachestruct.SetOptions{Mode: cachestruct.SetMode(n % 5), TTL: ttl, Flags: uint32(n % 3), Vivify: n%7 == 0}
		switch arg % 3 {
		case 1:
			opt.CAS = s.cas[key]
		case 2:
			opt.CAS = s.cas[key] + 1<<40
		}
		if opt.CAS == 0 && arg%3 != 0 {
			opt.CAS = 1 << 50 // a CAS nobody has
		}
		cas, err := s.store.Set(ctx, key, []byte(diffValues[int(n)%len(diffValues)]), opt)
		if err == nil {
			s.cas[key] = cas
		}
		return "set " + diffErr(err)
	case 2, 3: // get with a lease and/or a recache threshold
		opt := cachestruct.GetOptions{}
		if arg%2 == 0 {
			opt.Lease = 30 * time.Second
		}
		opt.Recache = []time.Duration{0, 50 * time.Second, 500 * time.Second, 5000 * time.Second}[n%4]
		it, found, err := s.store.Get(ctx, key, opt)
		if err != nil || !found {
			return fmt.Sprintf("get found=%v %s", found, diffErr(err))
		}
		s.cas[key] = it.CAS
		return "get " + diffItem(it, loose)
	case 4: // delete, plain or invalidating, with or without CAS
		opt := cachestruct.DeleteOptions{Invalidate: arg%2 == 0, TTL: []time.Duration{0, 50 * time.Second, -time.Second}[n%3]}
		switch n % 4 {
		case 1:
			opt.CAS = s.cas[key]
		case 2:
			opt.CAS = s.cas[key] + 1<<40
		}
		err := s.store.Delete(ctx, key, opt)
		return "delete " + diffErr(err)
	case 5, 6: // incr or decr, sometimes vivifying
		delta := int64(int8(n))
		if arg%5 == 0 {
			delta = 1 << 40
		}
		_, existed, _ := s.store.Get(ctx, key, cachestruct.GetOptions{})
		v, err := s.store.Incr(ctx, key, delta, cachestruct.IncrOptions{Vivify: arg%2 == 0, Initial: uint64(arg), TTL: ttl})
		if !existed {
			return fmt.Sprintf("incr created %d %s", v, diffErr(err))
		}
		return fmt.Sprintf("incr %d %s", v, diffErr(err))
	case 7: // multi-get of every key
		items, err := s.store.GetMulti(ctx, []string{key, key + "-none"})
		if err != nil {
			return "getmulti " + diffErr(err)
		}
		var b strings.Builder
		for _, it := range items {
			s.cas[key] = it.CAS
			b.WriteString(diffItem(it, loose))
		}
		return fmt.Sprintf("getmulti %d %s", len(items), b.String())
	default: // is the latest CAS still the item's?
		it, found, err := s.store.Get(ctx, key, cachestruct.GetOptions{})
		return fmt.Sprintf("cas-current %v %v %s", found, found && it.CAS == s.cas[key], diffErr(err))
	}
}

func diffErr(err error) string {
	for _, target := range []error{cachestruct.ErrNotFound, cachestruct.ErrNotStored, cachestruct.ErrCASConflict, cachestruct.ErrNotNumber, cachestruct.ErrValueTooLarge, cachestruct.ErrInvalidKey} {
		if errors.Is(err, target) {
			return target.Error()
		}
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return "ok"
}

// diffTTLClasses are the TTLs the operations set (leases, invalidation,
// diffTTLs), in increasing order.
var diffTTLClasses = []time.Duration{30 * time.Second, 50 * time.Second, 100 * time.Second, 1000 * time.Second}

// diffTTLClass returns the class of a positive TTL left: the TTL it was set
// with (see diffItem). Other TTLs are returned as they are.
func diffTTLClass(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return ttl
	}
	for _, class := range diffTTLClasses {
		if ttl <= class+2*time.Second {
			return class
		}
	}
	return ttl
}

// diffItem describes an item; its TTL is given as the TTL it was set with
// (the smallest class at least as long, give or take a second of rounding),
// so that neither a tick of memcached's clock nor a slow run on a loaded
// machine (TTLs only shrink, and the classes are 20 s or more apart) counts
// as a difference.
func diffItem(it cachestruct.Item, loose diffLoose) string {
	ttl := diffTTLClass(it.TTL)
	value := it.Value
	if loose.padding {
		value = bytes.TrimRight(value, " ")
	}
	if loose.states {
		return fmt.Sprintf("{%q f%d ttl%v}", value, it.Flags, ttl)
	}
	return fmt.Sprintf("{%q f%d ttl%v won%v stale%v busy%v}", value, it.Flags, ttl, it.Won, it.Stale, it.Busy)
}
