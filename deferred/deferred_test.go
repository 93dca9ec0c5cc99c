package deferred

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errGeneric = errors.New("generic error")

// recorder captures what the last callback or errback of a chain saw, like
// the _callback/_errback helpers of Twisted's tests.
type recorder[T any] struct {
	values []T
	errs   []error
}

func (r *recorder[T]) cb(v T) (T, error) {
	r.values = append(r.values, v)
	return v, nil
}

func (r *recorder[T]) eb(err error) (T, error) {
	var zero T
	r.errs = append(r.errs, err)
	return zero, nil
}

func (r *recorder[T]) attach(d *Deferred[T]) *Deferred[T] {
	return d.AddCallbacks(r.cb, r.eb)
}

// resultOf reads a fired Deferred's result and fails the test if it has
// none (Twisted's successResultOf / failureResultOf).
func resultOf[T any](t *testing.T, d *Deferred[T]) (T, error) {
	t.Helper()
	v, err, ok := d.Result()
	require.True(t, ok, "Deferred has no result")
	return v, err
}

func requireNoResult[T any](t *testing.T, d *Deferred[T]) {
	t.Helper()
	_, _, ok := d.Result()
	require.False(t, ok, "Deferred unexpectedly has a result")
}

func TestCallbackWithoutArgs(t *testing.T) {
	var r recorder[string]
	d := New[string]()
	r.attach(d)
	require.NoError(t, d.Callback("hello"))
	assert.Equal(t, []string{"hello"}, r.values)
	assert.Empty(t, r.errs)
}

func TestTwoCallbacks(t *testing.T) {
	var r1, r2 recorder[string]
	d := New[string]()
	r1.attach(d)
	r2.attach(d)
	require.NoError(t, d.Callback("hello"))
	assert.Equal(t, []string{"hello"}, r1.values)
	assert.Equal(t, []string{"hello"}, r2.values)
}

func TestAddCallbacksNoneErrback(t *testing.T) {
	// A nil errback passes the error through to the next pair.
	var r recorder[int]
	d := New[int]()
	d.AddCallbacks(func(v int) (int, error) { return v + 1, nil }, nil)
	r.attach(d)
	require.NoError(t, d.Errback(errGeneric))
	assert.Empty(t, r.values)
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], errGeneric)
}

func TestPathSwitching(t *testing.T) {
	tests := []struct {
		name    string
		fire    func(d *Deferred[int]) error
		want    []string
		wantErr bool
	}{
		{"callback", func(d *Deferred[int]) error { return d.Callback(1) }, []string{"cb1", "eb2", "cb3"}, false},
		{"errback", func(d *Deferred[int]) error { return d.Errback(errGeneric) }, []string{"eb1", "cb2", "cb3"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var trace []string
			d := New[int]()
			d.AddCallbacks(
				func(v int) (int, error) { trace = append(trace, "cb1"); return 0, errGeneric },
				func(err error) (int, error) { trace = append(trace, "eb1"); return 5, nil },
			)
			d.AddCallbacks(
				func(v int) (int, error) { trace = append(trace, "cb2"); return v, nil },
				func(err error) (int, error) { trace = append(trace, "eb2"); return 7, nil },
			)
			d.AddCallbacks(
				func(v int) (int, error) { trace = append(trace, "cb3"); return v, nil },
				func(err error) (int, error) { trace = append(trace, "eb3"); return 0, err },
			)
			require.NoError(t, tt.fire(d))
			assert.Equal(t, tt.want, trace)
			_, err := resultOf(t, d)
			assert.NoError(t, err)
		})
	}
}

func TestImmediateSuccess(t *testing.T) {
	var r recorder[string]
	r.attach(Succeed("success"))
	assert.Equal(t, []string{"success"}, r.values)
}

func TestSucceedMatchesManualSuccess(t *testing.T) {
	manual := New[string]()
	require.NoError(t, manual.Callback("x"))
	v1, err1 := resultOf(t, manual)
	v2, err2 := resultOf(t, Succeed("x"))
	assert.Equal(t, v1, v2)
	assert.Equal(t, err1, err2)
}

func TestImmediateFailure(t *testing.T) {
	var r recorder[string]
	r.attach(Fail[string](errGeneric))
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], errGeneric)
}

func TestPausedFailure(t *testing.T) {
	var r recorder[int]
	d := Fail[int](errGeneric)
	d.Pause()
	r.attach(d)
	assert.Empty(t, r.errs)
	d.Unpause()
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], errGeneric)
}

func TestCallbackErrors(t *testing.T) {
	t.Run("panic", func(t *testing.T) {
		var r recorder[int]
		d := New[int]()
		d.AddCallback(func(v int) (int, error) {
			var s []int
			return s[v], nil // index out of range: a runtime panic
		})
		r.attach(d)
		require.NoError(t, d.Callback(1))
		require.Len(t, r.errs, 1)
		var pe *PanicError
		require.ErrorAs(t, r.errs[0], &pe)
		assert.Contains(t, string(pe.Stack), "TestCallbackErrors")
	})
	t.Run("returned error", func(t *testing.T) {
		var r recorder[int]
		d := New[int]()
		d.AddCallback(func(int) (int, error) { return 0, errGeneric })
		r.attach(d)
		require.NoError(t, d.Callback(1))
		require.Len(t, r.errs, 1)
		assert.ErrorIs(t, r.errs[0], errGeneric)
	})
}

func TestCallbackMaybeReturnsFailure(t *testing.T) {
	maybeFail := func(fail bool) func(int) (int, error) {
		return func(v int) (int, error) {
			if fail {
				return 0, errGeneric
			}
			return v + 1, nil
		}
	}
	v, err := resultOf(t, Succeed(6).AddCallback(maybeFail(false)))
	require.NoError(t, err)
	assert.Equal(t, 7, v)
	_, err = resultOf(t, Succeed(6).AddCallback(maybeFail(true)).AddCallback(maybeFail(true)))
	assert.ErrorIs(t, err, errGeneric)
}

func TestUnpauseBeforeCallback(t *testing.T) {
	var r recorder[int]
	d := New[int]()
	d.Pause()
	r.attach(d)
	d.Unpause()
	assert.Empty(t, r.values)
	require.NoError(t, d.Callback(1))
	assert.Equal(t, []int{1}, r.values)
}

func TestPauseNesting(t *testing.T) {
	var r recorder[int]
	d := New[int]()
	d.Pause()
	d.Pause()
	r.attach(d)
	require.NoError(t, d.Callback(3))
	assert.Empty(t, r.values)
	requireNoResult(t, d)
	d.Unpause()
	assert.Empty(t, r.values, "one pause is still in effect")
	d.Unpause()
	assert.Equal(t, []int{3}, r.values)
	assert.Panics(t, d.Unpause, "Unpause without Pause is a programming error")
}

func TestPauseInsideCallback(t *testing.T) {
	var trace []int
	d := New[int]()
	d.AddCallback(func(v int) (int, error) { trace = append(trace, 1); d.Pause(); return v, nil })
	d.AddCallback(func(v int) (int, error) { trace = append(trace, 2); return v, nil })
	require.NoError(t, d.Callback(0))
	assert.Equal(t, []int{1}, trace)
	d.Unpause()
	assert.Equal(t, []int{1, 2}, trace)
}

func TestReentrantRunCallbacks(t *testing.T) {
	var called []int
	d := New[int]()
	d.AddCallback(func(v int) (int, error) {
		called = append(called, 1)
		d.AddCallback(func(v int) (int, error) { called = append(called, 3); return v, nil })
		return v, nil
	})
	d.AddCallback(func(v int) (int, error) { called = append(called, 2); return v, nil })
	require.NoError(t, d.Callback(0))
	assert.Equal(t, []int{1, 2, 3}, called)
}

func TestNonReentrantCallbacks(t *testing.T) {
	var called []int
	d := New[int]()
	d.AddCallback(func(v int) (int, error) {
		called = append(called, 1)
		d.AddCallback(func(v int) (int, error) { called = append(called, 2); return v, nil })
		assert.Equal(t, []int{1}, called, "a callback added from a callback must wait for it to return")
		return v, nil
	})
	require.NoError(t, d.Callback(0))
	assert.Equal(t, []int{1, 2}, called)
}

func TestReentrantRunCallbacksWithFailure(t *testing.T) {
	d := New[int]()
	d.AddCallback(func(v int) (int, error) {
		d.AddCallback(func(int) (int, error) { return 0, errGeneric })
		return v, nil
	})
	require.NoError(t, d.Callback(0))
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, errGeneric)
}

func TestAddBoth(t *testing.T) {
	seen := map[string]error{}
	for name, fire := range map[string]func(*Deferred[int]) error{
		"value": func(d *Deferred[int]) error { return d.Callback(1) },
		"error": func(d *Deferred[int]) error { return d.Errback(errGeneric) },
	} {
		d := New[int]()
		d.AddBoth(func(v int, err error) (int, error) { seen[name] = err; return 9, nil })
		require.NoError(t, fire(d))
		v, err := resultOf(t, d)
		require.NoError(t, err)
		assert.Equal(t, 9, v)
	}
	assert.NoError(t, seen["value"])
	assert.ErrorIs(t, seen["error"], errGeneric)
}

func TestNilFunctionsPanic(t *testing.T) {
	d := New[int]()
	assert.PanicsWithValue(t, "deferred: AddCallback with a nil callback", func() { d.AddCallback(nil) })
	assert.Panics(t, func() { d.AddErrback(nil) })
	assert.Panics(t, func() { d.AddBoth(nil) })
	assert.Panics(t, func() { d.AddCallbackDeferred(nil) })
	assert.Panics(t, func() { d.AddErrbackDeferred(nil) })
	assert.Panics(t, func() { d.AddBothDeferred(nil) })
	assert.Panics(t, func() { Then[int, int](d, nil) })
	assert.NotPanics(t, func() { d.AddCallbacks(nil, nil) })
}

func TestErrbackWithNoArgs(t *testing.T) {
	// Twisted's errback() without a failure uses the current exception; in
	// Go a nil error is a mistake that must not pass for success.
	d := New[int]()
	err := d.Errback(nil)
	assert.ErrorIs(t, err, ErrNilError)
	_, err = resultOf(t, d)
	assert.ErrorIs(t, err, ErrNilError)
	assert.ErrorIs(t, Fail[int](nil).AddErrback(func(err error) (int, error) { return 0, err }).dropResult(t), ErrNilError)
}

// dropResult returns the error of a fired Deferred.
func (d *Deferred[T]) dropResult(t *testing.T) error {
	_, err := resultOf(t, d)
	return err
}

func TestErrbackRecovery(t *testing.T) {
	d := Fail[string](errGeneric).AddErrback(func(err error) (string, error) {
		if errors.Is(err, errGeneric) {
			return "recovered", nil
		}
		return "", err
	})
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, "recovered", v)
}

func TestErrorAsT(t *testing.T) {
	// T = error must still tell callbacks from errbacks.
	var r recorder[error]
	d := New[error]()
	r.attach(d)
	require.NoError(t, d.Errback(errGeneric))
	assert.Empty(t, r.values)
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], errGeneric)
}

func TestRepr(t *testing.T) {
	d := New[string]()
	assert.Equal(t, fmt.Sprintf("<Deferred at %p>", d), d.String())
}

func TestReprWithResult(t *testing.T) {
	d := New[string]()
	require.NoError(t, d.Callback("orange"))
	assert.Equal(t, fmt.Sprintf("<Deferred at %p current result: \"orange\">", d), d.String())
	e := Fail[string](errGeneric)
	assert.Equal(t, fmt.Sprintf("<Deferred at %p current error: generic error>", e), e.String())
	e.Pause()
	assert.Contains(t, e.String(), " paused>")
}

func TestReprWithChaining(t *testing.T) {
	a, b := New[int](), New[int]()
	a.AddCallbackDeferred(func(int) (*Deferred[int], error) { return b, nil })
	require.NoError(t, a.Callback(0))
	assert.Equal(t, fmt.Sprintf("<Deferred at %p waiting on Deferred at %p>", a, b), a.String())
}

// TestCancellerReleasedOnFire checks that firing drops the canceller (and
// whatever it captured), as Twisted's test_canceller_circular_reference_*
// check for the callback and errback paths.
func TestCancellerReleasedOnFire(t *testing.T) {
	for name, fire := range map[string]func(*Deferred[int]) error{
		"callback": func(d *Deferred[int]) error { return d.Callback(1) },
		"errback":  func(d *Deferred[int]) error { return d.Errback(errGeneric) },
	} {
		t.Run(name, func(t *testing.T) {
			d := NewWithCanceller(func(*Deferred[int]) {})
			require.NoError(t, fire(d))
			assert.Nil(t, d.canceller)
		})
	}
}
