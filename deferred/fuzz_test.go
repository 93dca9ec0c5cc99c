package deferred

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// chainModel is a plain sequential model of a Deferred's chain, the way
// Twisted's _runCallbacks works without chaining: a list of pairs consumed in
// order while fired and not paused.
type chainModel struct {
	pairs  []modelPair
	fired  bool
	paused int
	v      int
	err    error
	trace  []string
}

type modelPair struct {
	name   string
	cb, eb func(v int, err error) (int, error) // nil passes through
}

func (m *chainModel) run() {
	for m.fired && m.paused == 0 && len(m.pairs) > 0 {
		p := m.pairs[0]
		m.pairs = m.pairs[1:]
		f := p.cb
		if m.err != nil {
			f = p.eb
		}
		if f == nil {
			continue
		}
		m.trace = append(m.trace, p.name)
		m.v, m.err = f(m.v, m.err)
		if m.err != nil {
			m.v = 0
		}
	}
}

var errFuzz = errors.New("fuzz failure")

// FuzzChain drives a Deferred and the model with the same random sequence
// of Add, Pause, Unpause and fire operations and checks that they agree on
// which functions ran, in what order, and on the final result: path
// switching, pair semantics, pass-through and pause nesting.
func FuzzChain(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{7, 0, 0, 1, 1, 2, 3})
	f.Add([]byte{4, 0, 7, 1, 5, 3, 2, 8, 9, 10})
	f.Add([]byte{15, 3, 11, 4, 4, 7, 5, 5, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var trace []string
		record := func(name string, fn func(int, error) (int, error)) func(int, error) (int, error) {
			return func(v int, err error) (int, error) {
				trace = append(trace, name)
				return fn(v, err)
			}
		}
		d := New[int]()
		m := &chainModel{}
		for i, op := range ops {
			name := fmt.Sprintf("%d:%d", i, op)
			fail := op&8 != 0
			inc := func(v int, _ error) (int, error) {
				if fail {
					return 0, errFuzz
				}
				return v + 1, nil
			}
			recoverTo := func(_ int, err error) (int, error) {
				if fail {
					return 0, err
				}
				return 100 + i, nil
			}
			switch op % 8 {
			case 0: // callback
				r := record(name, inc)
				d.AddCallback(func(v int) (int, error) { return r(v, nil) })
				m.pairs = append(m.pairs, modelPair{name: name, cb: inc})
			case 1: // errback
				r := record(name, recoverTo)
				d.AddErrback(func(err error) (int, error) { return r(0, err) })
				m.pairs = append(m.pairs, modelPair{name: name, eb: recoverTo})
			case 2: // both
				both := func(v int, err error) (int, error) {
					if err != nil {
						return recoverTo(v, err)
					}
					return inc(v, err)
				}
				r := record(name, both)
				d.AddBoth(r)
				m.pairs = append(m.pairs, modelPair{name: name, cb: both, eb: both})
			case 3: // pair: only one member runs
				rc, re := record(name, inc), record(name, recoverTo)
				d.AddCallbacks(func(v int) (int, error) { return rc(v, nil) }, func(err error) (int, error) { return re(0, err) })
				m.pairs = append(m.pairs, modelPair{name: name, cb: inc, eb: recoverTo})
			case 4:
				d.Pause()
				m.paused++
			case 5:
				if m.paused > 0 {
					d.Unpause()
					m.paused--
				}
			case 6, 7: // fire (later fires must be refused)
				var err error
				if op%8 == 6 {
					err = d.Callback(i)
				} else {
					err = d.Errback(errFuzz)
				}
				if m.fired {
					require.ErrorIs(t, err, ErrAlreadyCalled)
					continue
				}
				require.NoError(t, err)
				m.fired = true
				if op%8 == 6 {
					m.v = i
				} else {
					m.err = errFuzz
				}
			}
			m.run()
			require.Equal(t, m.trace, trace, "after op %d", i)
		}
		for m.paused > 0 {
			d.Unpause()
			m.paused--
		}
		m.run()
		require.Equal(t, m.trace, trace)
		v, err, ok := d.Result()
		require.Equal(t, m.fired, ok)
		if ok {
			require.Equal(t, m.v, v)
			require.ErrorIs(t, err, m.err)
			if m.err == nil {
				require.NoError(t, err)
			}
		}
	})
}
