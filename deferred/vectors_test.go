package deferred

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden vectors in testdata/twisted were made by running Twisted
// itself (testdata/twisted/gen.py says how, and which scripts it leaves
// out): random scripts of operations and the trace Twisted produced for
// each. The tests below replay every script on this package and compare
// the traces, so any behaviour of a chain (which callback runs with what,
// implicit and explicit chaining, pausing, cancelling, firing twice,
// unhandled errors), of List, Gather and First, and of Lock, Semaphore and
// Queue that departs from Twisted shows up as the first differing step.

// vectorErr is the error numbered K of the scripts (gen.py's E).
type vectorErr struct{ K int }

func (e *vectorErr) Error() string { return fmt.Sprintf("E%d", e.K) }

// vectorName names an error as gen.py does.
func vectorName(err error) string {
	var fe *FirstError
	var ve *vectorErr
	switch {
	case errors.As(err, &fe):
		return fmt.Sprintf("First[%d,%s]", fe.Index, vectorName(fe.Err))
	case errors.Is(err, ErrTimeout):
		return "Timeout"
	case errors.Is(err, ErrAlreadyCalled):
		return "AlreadyCalled"
	case errors.Is(err, ErrCancelled):
		return "Cancelled"
	case errors.As(err, &ve):
		return ve.Error()
	}
	return "unexpected: " + err.Error()
}

// trace records the steps of a replay.
type trace [][]any

func (tr *trace) add(step ...any) { *tr = append(*tr, step) }

// snapshot records d's result as gen.py's snap does, without counting an
// error as handled (the scripts read results at any point, and Twisted's
// reading does not handle anything).
func (tr *trace) snapshot(d *Deferred[int], step ...any) {
	d.mu.Lock()
	rest, v, err := d.atRest(), d.result, d.err
	d.mu.Unlock()
	switch {
	case !rest:
		tr.add(append(step, "none")...)
	case err != nil:
		tr.add(append(step, "err", vectorName(err))...)
	default:
		tr.add(append(step, "val", v)...)
	}
}

// vector is one line of a vectors file.
type vector[C any] struct {
	Seed   int
	Script [][]json.RawMessage
	Case   C
	Trace  json.RawMessage
}

func readVectors[C any](t *testing.T, name string) []vector[C] {
	t.Helper()
	f, err := os.Open("testdata/twisted/" + name)
	require.NoError(t, err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	require.NoError(t, err)
	var vs []vector[C]
	sc := bufio.NewScanner(z)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v vector[C]
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v))
		vs = append(vs, v)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, vs)
	return vs
}

// checkTrace compares a replay's trace with Twisted's.
func checkTrace(t *testing.T, seed int, want json.RawMessage, got trace) bool {
	t.Helper()
	if got == nil {
		got = trace{}
	}
	js, err := json.Marshal(got)
	require.NoError(t, err)
	return assert.JSONEq(t, string(want), string(js), "seed %d", seed)
}

// TestTwistedChainVectors replays scripts on four Deferreds of int: every
// kind of callback, Deferreds returned from callbacks and errbacks, Chain,
// Pause and Unpause, Cancel with and without cancellers, AddTimeout on a
// hand-driven clock, second fires,
// results read at any point and, at the end, which Deferreds would report
// an unhandled error when collected.
func TestTwistedChainVectors(t *testing.T) {
	for _, v := range readVectors[struct{}](t, "chain.jsonl.gz") {
		if !checkTrace(t, v.Seed, v.Trace, replayChain(t, v.Script)) {
			return
		}
	}
}

func replayChain(t *testing.T, script [][]json.RawMessage) trace {
	var tr trace
	ds := map[int]*Deferred[int]{}
	clock := &fakeClock{} // Twisted's task.Clock, advanced one second at a time
	for _, raw := range script {
		var op string
		var i, k int
		var kind string
		require.NoError(t, json.Unmarshal(raw[0], &op))
		require.NoError(t, json.Unmarshal(raw[1], &i))
		if len(raw) > 2 {
			if op == "new" {
				require.NoError(t, json.Unmarshal(raw[2], &kind))
			} else {
				require.NoError(t, json.Unmarshal(raw[2], &k))
			}
		}
		switch op {
		case "new":
			ds[i] = newVectorDeferred(kind, &tr, 100)
		case "addcb":
			ds[i].AddCallback(func(v int) (int, error) { tr.add("cb", i, k, v); return v + k, nil })
		case "addfail":
			ds[i].AddCallback(func(v int) (int, error) { tr.add("fail", i, k, v); return 0, &vectorErr{k} })
		case "addeb":
			ds[i].AddErrback(func(err error) (int, error) { tr.add("eb", i, k, vectorName(err)); return k, nil })
		case "addboth":
			ds[i].AddBoth(func(v int, err error) (int, error) {
				if err != nil {
					tr.add("both", i, k, vectorName(err))
					return 0, err
				}
				tr.add("both", i, k, v)
				return v * 2, nil
			})
		case "addinner":
			ds[i].AddCallbackDeferred(func(v int) (*Deferred[int], error) { tr.add("inner", i, k, v); return ds[k], nil })
		case "addebinner":
			ds[i].AddErrbackDeferred(func(err error) (*Deferred[int], error) {
				tr.add("ebinner", i, k, vectorName(err))
				return ds[k], nil
			})
		case "callback", "errback":
			var err error
			if op == "callback" {
				err = ds[i].Callback(k)
			} else {
				err = ds[i].Errback(&vectorErr{k})
			}
			if err != nil {
				tr.add("fire", i, vectorName(err))
			} else {
				tr.add("fire", i, "ok")
			}
		case "cancel":
			ds[i].Cancel()
		case "pause":
			ds[i].Pause()
		case "unpause":
			ds[i].Unpause()
		case "chain":
			ds[i].Chain(ds[k])
		case "result":
			tr.snapshot(ds[i], "result", i)
		case "timeout":
			ds[i].AddTimeout(time.Duration(k)*time.Second, clock)
		case "advance":
			clock.Advance(time.Second)
		default:
			t.Fatalf("unknown operation %q", op)
		}
	}
	for i := range len(ds) {
		d := ds[i]
		d.mu.Lock()
		unhandled := d.extra != nil && d.extra.track != nil && d.extra.track.err.Load() != nil
		d.mu.Unlock()
		tr.add("unhandled", i, unhandled)
	}
	return tr
}

// newVectorDeferred makes a Deferred with the canceller kind of gen.py:
// none, one that does nothing, one that succeeds with success, one that
// fails with E99. The cancellers record themselves in tr when tr is not nil.
func newVectorDeferred(kind string, tr *trace, success int) *Deferred[int] {
	note := func(what string) {
		if tr != nil {
			tr.add("canceller", what)
		}
	}
	switch kind {
	case "noop":
		return NewWithCanceller(func(*Deferred[int]) { note("noop") })
	case "cb":
		return NewWithCanceller(func(d *Deferred[int]) { note("cb"); _ = d.Callback(success) })
	case "eb":
		return NewWithCanceller(func(d *Deferred[int]) { note("eb"); _ = d.Errback(&vectorErr{99}) })
	}
	return New[int]()
}

// listCase is a script of the List, Gather and First vectors. Twisted's
// DeferredList with fireOnOneCallback is First; its consumeErrors is the
// opposite of KeepErrors.
type listCase struct {
	Kind                string // "list" or "gather"
	Foc, Foe, Consume   bool
	Cancellers          []string
	Prefired, Prefailed []int
	Ops                 [][]json.RawMessage
}

func TestTwistedListVectors(t *testing.T) {
	for _, v := range readVectors[listCase](t, "list.jsonl.gz") {
		if !checkTrace(t, v.Seed, v.Trace, replayList(t, v.Case)) {
			return
		}
	}
}

func replayList(t *testing.T, c listCase) trace {
	var tr trace
	ds := make([]*Deferred[int], len(c.Cancellers))
	for i, kind := range c.Cancellers {
		ds[i] = newVectorDeferred(kind, nil, 100+i)
	}
	for _, i := range c.Prefired {
		require.NoError(t, ds[i].Callback(10+i))
	}
	for _, i := range c.Prefailed {
		require.NoError(t, ds[i].Errback(&vectorErr{i}))
	}
	opts := ListOptions{FireOnOneErrback: c.Foe, KeepErrors: !c.Consume}
	recordErr := func(err error) { tr.add("dl", "err", vectorName(err)) }
	var cancel func()
	switch {
	case c.Kind == "gather":
		g := Gather(ds, opts)
		g.AddBoth(func(v []int, err error) ([]int, error) {
			if err != nil {
				recordErr(err)
			} else {
				tr.add("dl", "val", v)
			}
			return v, err
		})
		cancel = g.Cancel
	case c.Foc:
		g := First(ds, opts)
		g.AddBoth(func(o Outcome[int], err error) (Outcome[int], error) {
			if err != nil {
				recordErr(err)
			} else {
				tr.add("dl", "val", []any{o.Value, o.Index})
			}
			return o, err
		})
		cancel = g.Cancel
	default:
		g := List(ds, opts)
		g.AddBoth(func(os []Outcome[int], err error) ([]Outcome[int], error) {
			if err != nil {
				recordErr(err)
				return os, err
			}
			pairs := []any{}
			for _, o := range os {
				if o.Err != nil {
					pairs = append(pairs, []any{false, vectorName(o.Err)})
				} else {
					pairs = append(pairs, []any{true, o.Value})
				}
			}
			tr.add("dl", "val", pairs)
			return os, nil
		})
		cancel = g.Cancel
	}
	for _, raw := range c.Ops {
		var op string
		var i int
		require.NoError(t, json.Unmarshal(raw[0], &op))
		if op == "cancel" {
			cancel()
			continue
		}
		require.NoError(t, json.Unmarshal(raw[1], &i))
		var err error
		if op == "cb" {
			err = ds[i].Callback(i)
		} else {
			err = ds[i].Errback(&vectorErr{i})
		}
		if err != nil {
			tr.add("fire", i, vectorName(err))
		} else {
			tr.add("fire", i, "ok")
		}
	}
	for i, d := range ds {
		tr.snapshot(d, "in", i)
	}
	return tr
}

// primitiveCase is a script of the Lock, Semaphore and Queue vectors. A nil
// Size or Backlog is Twisted's None, Unlimited here.
type primitiveCase struct {
	Kind          string // "lock", "sem" or "queue"
	Tokens        int
	Size, Backlog *int
	Ops           [][]json.RawMessage
}

func TestTwistedPrimitiveVectors(t *testing.T) {
	for _, v := range readVectors[primitiveCase](t, "primitives.jsonl.gz") {
		if !checkTrace(t, v.Seed, v.Trace, replayPrimitive(t, v.Case)) {
			return
		}
	}
}

func replayPrimitive(t *testing.T, c primitiveCase) trace {
	var tr trace
	limit := func(p *int) int {
		if p == nil {
			return Unlimited
		}
		return *p
	}
	var (
		lock    Lock
		sem     *Semaphore
		q       *Queue[int]
		results []func() // record the final state of each acquired or gotten Deferred
		cancels []func()
	)
	switch c.Kind {
	case "sem":
		sem = NewSemaphore(c.Tokens)
	case "queue":
		q = NewQueue[int](limit(c.Size), limit(c.Backlog))
	}
	for _, raw := range c.Ops {
		var op string
		require.NoError(t, json.Unmarshal(raw[0], &op))
		i := len(results)
		switch op {
		case "acquire":
			var d interface{ Cancel() }
			if c.Kind == "lock" {
				a := lock.Acquire()
				a.AddCallback(func(l *Lock) (*Lock, error) { tr.add("got", i); return l, nil })
				results = append(results, func() { snapshotHeld(&tr, a, i) })
				d = a
			} else {
				a := sem.Acquire()
				a.AddCallback(func(s *Semaphore) (*Semaphore, error) { tr.add("got", i); return s, nil })
				results = append(results, func() { snapshotHeld(&tr, a, i) })
				d = a
			}
			cancels = append(cancels, d.Cancel)
		case "release":
			func() {
				defer func() {
					if recover() != nil {
						tr.add("release-bad") // Twisted: AssertionError
					}
				}()
				if c.Kind == "lock" {
					lock.Release()
				} else {
					sem.Release()
				}
				tr.add("released")
			}()
		case "put":
			var v int
			require.NoError(t, json.Unmarshal(raw[1], &v))
			if err := q.Put(v); err != nil {
				require.ErrorIs(t, err, ErrQueueOverflow)
				tr.add("put", "overflow")
			} else {
				tr.add("put", "ok")
			}
		case "get":
			g, err := q.Get()
			if err != nil {
				require.ErrorIs(t, err, ErrQueueUnderflow)
				tr.add("get", "underflow")
				continue
			}
			g.AddCallback(func(v int) (int, error) { tr.add("got", i, v); return v, nil })
			results = append(results, func() { tr.snapshot(g, "d", i) })
			cancels = append(cancels, g.Cancel)
		case "cancel":
			var k int
			require.NoError(t, json.Unmarshal(raw[1], &k))
			if len(cancels) > 0 {
				cancels[k%len(cancels)]()
			}
		case "state":
			switch c.Kind {
			case "lock":
				tr.add("locked", lock.Locked())
			case "sem":
				tr.add("tokens", sem.Tokens())
			default:
				tr.add("len", q.Len(), q.Waiting())
			}
		}
	}
	for _, r := range results {
		r()
	}
	return tr
}

// snapshotHeld records the state of an Acquire's Deferred, whose value (the
// Lock or Semaphore itself) gen.py writes as "self".
func snapshotHeld[L any](tr *trace, d *Deferred[L], i int) {
	d.mu.Lock()
	rest, err := d.atRest(), d.err
	d.mu.Unlock()
	switch {
	case !rest:
		tr.add("d", i, "none")
	case err != nil:
		tr.add("d", i, "err", vectorName(err))
	default:
		tr.add("d", i, "val", "self")
	}
}
