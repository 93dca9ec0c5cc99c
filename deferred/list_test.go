package deferred

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCallbackCanceller fires the cancelled Deferred with a success, like
// Twisted's fakeCallbackCanceller.
func fakeCallbackCanceller(d *Deferred[string]) { _ = d.Callback("Callback Result") }

func TestDeferredList(t *testing.T) {
	d1, d2, d3 := New[string](), New[string](), New[string]()
	dl := List([]*Deferred[string]{d1, d2, d3}, ListOptions{})
	var result []Outcome[string]
	dl.AddCallback(func(r []Outcome[string]) ([]Outcome[string], error) { result = r; return r, nil })
	require.NoError(t, d1.Callback("1"))
	assert.Nil(t, result)
	require.NoError(t, d2.Errback(errGeneric))
	assert.Nil(t, result)
	require.NoError(t, d3.Callback("3"))
	require.Len(t, result, 3)
	assert.Equal(t, Outcome[string]{Index: 0, Value: "1"}, result[0])
	assert.ErrorIs(t, result[1].Err, errGeneric)
	assert.Equal(t, 1, result[1].Index)
	assert.Equal(t, Outcome[string]{Index: 2, Value: "3"}, result[2])
	// Errors are consumed by default: d2 continues with no error.
	v, err := resultOf(t, d2)
	require.NoError(t, err)
	assert.Empty(t, v)
}

func TestEmptyDeferredList(t *testing.T) {
	for _, opts := range []ListOptions{{}, {KeepErrors: true}, {FireOnOneErrback: true}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			v, err := resultOf(t, List[int](nil, opts))
			require.NoError(t, err)
			assert.Empty(t, v)
		})
	}
	vs, err := resultOf(t, Gather[int](nil, ListOptions{}))
	require.NoError(t, err)
	assert.Empty(t, vs)
	for _, d := range []*Deferred[Outcome[int]]{Race[int](nil), First[int](nil, ListOptions{})} {
		_, err = resultOf(t, d)
		var re *RaceError
		require.ErrorAs(t, err, &re)
		assert.Empty(t, re.Errs)
	}
}

func TestDeferredListFireOnOneError(t *testing.T) {
	d1, d2 := New[string](), New[string]()
	dl := List([]*Deferred[string]{d1, d2}, ListOptions{FireOnOneErrback: true})
	require.NoError(t, d1.Callback("1"))
	requireNoResult(t, dl)
	require.NoError(t, d2.Errback(errGeneric))
	_, err := resultOf(t, dl)
	var fe *FirstError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 1, fe.Index)
	assert.ErrorIs(t, err, errGeneric)
}

func TestDeferredListDontConsumeErrors(t *testing.T) {
	d := New[int]()
	List([]*Deferred[int]{d}, ListOptions{KeepErrors: true})
	require.NoError(t, d.Errback(errGeneric))
	var r recorder[int]
	r.attach(d)
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], errGeneric)
}

func TestDeferredListConsumeErrors(t *testing.T) {
	d := New[int]()
	dl := List([]*Deferred[int]{d}, ListOptions{})
	require.NoError(t, d.Errback(errGeneric))
	var r recorder[int]
	r.attach(d)
	assert.Empty(t, r.errs)
	assert.Equal(t, []int{0}, r.values)
	res, err := resultOf(t, dl)
	require.NoError(t, err)
	assert.ErrorIs(t, res[0].Err, errGeneric)
}

func TestDeferredListFireOnOneErrorWithAlreadyFiredDeferreds(t *testing.T) {
	d1 := Fail[int](errGeneric)
	d2 := Succeed(2)
	dl := List([]*Deferred[int]{d1, d2}, ListOptions{FireOnOneErrback: true})
	_, err := resultOf(t, dl)
	var fe *FirstError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 0, fe.Index)
}

func TestDeferredListWithAlreadyFiredDeferreds(t *testing.T) {
	d1 := Fail[int](errGeneric)
	d2 := Succeed(2)
	res, err := resultOf(t, List([]*Deferred[int]{d1, d2}, ListOptions{}))
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.ErrorIs(t, res[0].Err, errGeneric)
	assert.Equal(t, 2, res[1].Value)
}

// TestDeferredListFireOnOneCallback is Twisted's test of the same name:
// First reports the value with its index, (result, index) in Twisted.
func TestDeferredListFireOnOneCallback(t *testing.T) {
	d1, d2, d3 := New[int](), New[int](), New[int]()
	dl := First([]*Deferred[int]{d1, d2, d3}, ListOptions{})
	require.NoError(t, d1.Errback(errGeneric))
	requireNoResult(t, dl)
	require.NoError(t, d2.Callback(5))
	res, err := resultOf(t, dl)
	require.NoError(t, err)
	assert.Equal(t, Outcome[int]{Index: 1, Value: 5}, res)
	requireNoResult(t, d3) // First, unlike Race, leaves the others alone
	require.NoError(t, d3.Callback(6))
	res, err = resultOf(t, dl)
	require.NoError(t, err)
	assert.Equal(t, Outcome[int]{Index: 1, Value: 5}, res, "a later success changes nothing")
}

func TestDeferredListFireOnOneCallbackAllFail(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	dl := First([]*Deferred[int]{d1, d2}, ListOptions{})
	require.NoError(t, d1.Errback(errGeneric))
	require.NoError(t, d2.Errback(ErrCancelled))
	_, err := resultOf(t, dl)
	var re *RaceError
	require.ErrorAs(t, err, &re, "with no success, every error is reported")
	require.Len(t, re.Errs, 2)
	assert.ErrorIs(t, re.Errs[0], errGeneric)
	assert.ErrorIs(t, re.Errs[1], ErrCancelled)
}

func TestFirstFireOnOneErrback(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	dl := First([]*Deferred[int]{d1, d2}, ListOptions{FireOnOneErrback: true})
	require.NoError(t, d2.Errback(errGeneric))
	_, err := resultOf(t, dl)
	var fe *FirstError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 1, fe.Index)
	require.NoError(t, d1.Callback(1))
}

func TestCancelDeferredList(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	dl := List([]*Deferred[int]{d1, d2}, ListOptions{KeepErrors: true})
	dl.Cancel()
	for _, d := range []*Deferred[int]{d1, d2} {
		_, err := resultOf(t, d)
		assert.ErrorIs(t, err, ErrCancelled)
	}
}

func TestCancelDeferredListCallback(t *testing.T) {
	d1 := NewWithCanceller(fakeCallbackCanceller)
	d2 := New[string]()
	dl := List([]*Deferred[string]{d1, d2}, ListOptions{KeepErrors: true})
	dl.Cancel()
	_, err := resultOf(t, d2)
	assert.ErrorIs(t, err, ErrCancelled)
	res, err := resultOf(t, dl)
	require.NoError(t, err, "the List fires with the outcomes, not with ErrCancelled")
	assert.Equal(t, "Callback Result", res[0].Value)
	assert.NoError(t, res[0].Err)
	assert.ErrorIs(t, res[1].Err, ErrCancelled)
}

func TestCancelDeferredListWithFireOnOneCallback(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	dl := First([]*Deferred[int]{d1, d2}, ListOptions{KeepErrors: true})
	dl.Cancel()
	for _, d := range []*Deferred[int]{d1, d2} {
		_, err := resultOf(t, d)
		assert.ErrorIs(t, err, ErrCancelled)
	}
}

func TestCancelDeferredListWithFireOnOneCallbackAndDeferredCallback(t *testing.T) {
	d1 := NewWithCanceller(fakeCallbackCanceller)
	d2 := New[string]()
	dl := First([]*Deferred[string]{d1, d2}, ListOptions{KeepErrors: true})
	dl.Cancel()
	_, err := resultOf(t, d2)
	assert.ErrorIs(t, err, ErrCancelled)
	res, err := resultOf(t, dl)
	require.NoError(t, err)
	assert.Equal(t, Outcome[string]{Index: 0, Value: "Callback Result"}, res)
}

func TestCancelDeferredListWithFireOnOneErrback(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	dl := List([]*Deferred[int]{d1, d2}, ListOptions{FireOnOneErrback: true})
	dl.Cancel()
	_, err := resultOf(t, dl)
	var fe *FirstError
	require.ErrorAs(t, err, &fe)
	assert.ErrorIs(t, fe, ErrCancelled)
}

func TestCancelDeferredListWithFireOnOneErrbackAllDeferredsCallback(t *testing.T) {
	d1 := NewWithCanceller(fakeCallbackCanceller)
	d2 := NewWithCanceller(fakeCallbackCanceller)
	dl := List([]*Deferred[string]{d1, d2}, ListOptions{FireOnOneErrback: true})
	dl.Cancel()
	res, err := resultOf(t, dl)
	require.NoError(t, err)
	assert.Equal(t, "Callback Result", res[0].Value)
	assert.Equal(t, "Callback Result", res[1].Value)
}

func TestCancelDeferredListWithOriginalDeferreds(t *testing.T) {
	d1, d2, d3 := New[int](), New[int](), New[int]()
	args := []*Deferred[int]{d1, d2}
	dl := List(args, ListOptions{KeepErrors: true})
	_ = append(args, d3) // List copied the slice
	dl.Cancel()
	_, err := resultOf(t, d1)
	assert.ErrorIs(t, err, ErrCancelled)
	requireNoResult(t, d3)
}

func TestCancelDeferredListWithException(t *testing.T) {
	d1 := NewWithCanceller(func(*Deferred[int]) { panic("test") })
	d2 := New[int]()
	dl := List([]*Deferred[int]{d1, d2}, ListOptions{KeepErrors: true})
	dl.Cancel()
	_, err := resultOf(t, d2)
	assert.ErrorIs(t, err, ErrCancelled, "every input is cancelled despite the panicking canceller")
	res, err := resultOf(t, dl)
	require.NoError(t, err)
	var pe *PanicError
	assert.ErrorAs(t, res[0].Err, &pe)
}

func TestCancelFiredOnOneCallbackDeferredList(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	dl := First([]*Deferred[int]{d1, d2}, ListOptions{KeepErrors: true})
	require.NoError(t, d1.Callback(0))
	dl.Cancel()
	requireNoResult(t, d2)
}

func TestCancelFiredOnOneErrbackDeferredList(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	dl := List([]*Deferred[int]{d1, d2}, ListOptions{FireOnOneErrback: true, KeepErrors: true})
	require.NoError(t, d1.Errback(errGeneric))
	dl.Cancel()
	requireNoResult(t, d2)
	_, err := resultOf(t, d1)
	assert.ErrorIs(t, err, errGeneric)
	_, err = resultOf(t, dl)
	var fe *FirstError
	assert.ErrorAs(t, err, &fe)
}

func TestGatherResults(t *testing.T) {
	vs, err := resultOf(t, Gather([]*Deferred[int]{Succeed(1), Succeed(2)}, ListOptions{}))
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, vs)

	_, err = resultOf(t, Gather([]*Deferred[int]{Succeed(1), Fail[int](errGeneric)}, ListOptions{}))
	var fe *FirstError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 1, fe.Index)
	assert.ErrorIs(t, err, errGeneric)
}

func TestGatherResultsOrder(t *testing.T) {
	ds := []*Deferred[int]{New[int](), New[int](), New[int]()}
	g := Gather(ds, ListOptions{KeepErrors: true})
	for _, i := range []int{2, 0, 1} {
		require.NoError(t, ds[i].Callback(i*10))
	}
	vs, err := resultOf(t, g)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 10, 20}, vs)
}

func TestGatherResultsWithConsumeErrors(t *testing.T) {
	dgood := Succeed(1)
	dbad := Fail[int](errGeneric)
	g := Gather([]*Deferred[int]{dgood, dbad}, ListOptions{})
	var r recorder[int]
	r.attach(dbad)
	assert.Empty(t, r.errs, "the error was consumed")
	_, err := resultOf(t, g)
	assert.ErrorIs(t, err, errGeneric)
}

func TestCancelGatherResults(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	g := Gather([]*Deferred[int]{d1, d2}, ListOptions{KeepErrors: true})
	g.Cancel()
	_, err := resultOf(t, g)
	var fe *FirstError
	require.ErrorAs(t, err, &fe)
	assert.ErrorIs(t, err, ErrCancelled)
	_, err = resultOf(t, d2)
	assert.ErrorIs(t, err, ErrCancelled)
}

func TestCancelGatherResultsWithAllDeferredsCallback(t *testing.T) {
	d1 := NewWithCanceller(fakeCallbackCanceller)
	d2 := NewWithCanceller(fakeCallbackCanceller)
	g := Gather([]*Deferred[string]{d1, d2}, ListOptions{KeepErrors: true})
	g.Cancel()
	vs, err := resultOf(t, g)
	require.NoError(t, err)
	assert.Equal(t, []string{"Callback Result", "Callback Result"}, vs)
}

// raceInputs returns n Deferreds whose cancellations are counted.
func raceInputs(n int) ([]*Deferred[int], []int) {
	cancelled := make([]int, n)
	ds := make([]*Deferred[int], n)
	for i := range ds {
		ds[i] = NewWithCanceller(func(*Deferred[int]) { cancelled[i]++ })
	}
	return ds, cancelled
}

func TestRaceSuccess(t *testing.T) {
	for before := range 4 {
		for after := range 4 {
			t.Run(fmt.Sprintf("before=%d,after=%d", before, after), func(t *testing.T) {
				ds, cancelled := raceInputs(before + 1 + after)
				r := Race(ds)
				require.NoError(t, ds[before].Callback(42))
				o, err := resultOf(t, r)
				require.NoError(t, err)
				assert.Equal(t, Outcome[int]{Index: before, Value: 42}, o)
				want := make([]int, len(ds))
				for i := range want {
					want[i] = 1
				}
				want[before] = 0
				assert.Equal(t, want, cancelled)
			})
		}
	}
}

func TestRaceFailure(t *testing.T) {
	for n := 1; n <= 4; n++ {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			ds, cancelled := raceInputs(n)
			r := Race(ds)
			errs := make([]error, n)
			for i, d := range ds {
				errs[i] = fmt.Errorf("failure %d", i)
				require.NoError(t, d.Errback(errs[i]))
			}
			_, err := resultOf(t, r)
			var re *RaceError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, errs, re.Errs)
			for _, e := range errs {
				assert.ErrorIs(t, err, e)
			}
			assert.Equal(t, make([]int, n), cancelled)
		})
	}
}

func TestRaceResultAfterCancel(t *testing.T) {
	c := captureUnhandled(t)
	errLoser := errors.New("loser cancelled")
	ds := []*Deferred[int]{
		New[int](),
		New[int](),
		NewWithCanceller(func(d *Deferred[int]) { _ = d.Errback(errLoser) }),
	}
	r := Race(ds)
	require.NoError(t, ds[0].Callback(1))
	assert.NoError(t, ds[1].Callback(2), "the late fire after a canceller-less cancel is swallowed")
	_, err := resultOf(t, r)
	require.NoError(t, err)
	_, err = resultOf(t, ds[1])
	assert.NoError(t, err, "losers' cancellation errors are consumed")
	// ds[2] is not read: only the collector can tell whether its error
	// was left unhandled.
	ds, r = nil, nil
	c.settle(t)
	assert.Empty(t, c.matching(errLoser))
}

func TestRaceResultFromCancel(t *testing.T) {
	winner := New[int]()
	ds := []*Deferred[int]{winner, NewWithCanceller(func(d *Deferred[int]) { _ = d.Callback(99) })}
	r := Race(ds)
	require.NoError(t, winner.Callback(7))
	o, err := resultOf(t, r)
	require.NoError(t, err)
	assert.Equal(t, Outcome[int]{Index: 0, Value: 7}, o)
}

func TestRaceCancel(t *testing.T) {
	for n := 1; n <= 3; n++ {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			ds, cancelled := raceInputs(n)
			r := Race(ds)
			r.Cancel()
			want := make([]int, n)
			for i := range want {
				want[i] = 1
			}
			assert.Equal(t, want, cancelled)
			_, err := resultOf(t, r)
			var re *RaceError
			require.ErrorAs(t, err, &re)
			assert.ErrorIs(t, err, ErrCancelled)
		})
	}
}

func TestFirstErrorUnwrap(t *testing.T) {
	fe := &FirstError{Index: 3, Err: errGeneric}
	assert.ErrorIs(t, fe, errGeneric)
	assert.Contains(t, fe.Error(), "3")
	assert.Contains(t, fe.Error(), errGeneric.Error())
	var target *FirstError
	assert.True(t, errors.As(fmt.Errorf("wrapped: %w", fe), &target))
	assert.Equal(t, 3, target.Index)
}

// TestFirstErrorComparison is Twisted's FirstErrorTests.test_comparison
// and test_str: two FirstErrors are equal exactly when their index and
// error are, and the message names both.
func TestFirstErrorComparison(t *testing.T) {
	errBar := errors.New("bar")
	one := &FirstError{Index: 13, Err: errGeneric}
	assert.Equal(t, one, &FirstError{Index: 13, Err: errGeneric})
	assert.Equal(t, *one, FirstError{Index: 13, Err: errGeneric})
	assert.NotEqual(t, one, &FirstError{Index: 9, Err: errBar})
	assert.NotEqual(t, one, &FirstError{Index: 13, Err: errBar})
	assert.NotEqual(t, one, &FirstError{Index: 9, Err: errGeneric})
	assert.Equal(t, "deferred: first error at index 5: bar", (&FirstError{Index: 5, Err: errBar}).Error())
}

// TestCancelListWithPausedInput is issue 12, item 2: cancelling a List one
// of whose inputs is paused cancels the inputs but never fails the List
// itself (Twisted's DeferredList.cancel); the List fires with the outcomes
// once the paused input resumes.
func TestCancelListWithPausedInput(t *testing.T) {
	d1, d2 := New[int](), New[int]()
	d1.Pause()
	dl := List([]*Deferred[int]{d1, d2}, ListOptions{})
	dl.Cancel()
	requireNoResult(t, dl)
	dl.Cancel() // a second Cancel changes nothing either
	requireNoResult(t, dl)
	d1.Unpause()
	res, err := resultOf(t, dl)
	require.NoError(t, err, "the List fires with the outcomes, not with ErrCancelled")
	require.Len(t, res, 2)
	assert.ErrorIs(t, res[0].Err, ErrCancelled)
	assert.ErrorIs(t, res[1].Err, ErrCancelled)
}

// TestCancelGatherWithPausedInput: the same for Gather, which fails with
// the paused input's *FirstError once it resumes, not with a bare
// ErrCancelled of its own.
func TestCancelGatherWithPausedInput(t *testing.T) {
	d1 := NewWithCanceller(func(d *Deferred[int]) { _ = d.Callback(7) })
	d1.Pause()
	d2 := NewWithCanceller(func(d *Deferred[int]) { _ = d.Callback(8) })
	g := Gather([]*Deferred[int]{d1, d2}, ListOptions{KeepErrors: true})
	g.Cancel()
	requireNoResult(t, g)
	d1.Unpause()
	vs, err := resultOf(t, g)
	require.NoError(t, err)
	assert.Equal(t, []int{7, 8}, vs)
}

// TestCancelOnError: the first failure cancels the other inputs (issue 17,
// item 1, errgroup.WithContext's behaviour) in List, Gather and First, and
// only with CancelOnError.
func TestCancelOnError(t *testing.T) {
	collectors := map[string]func(ds []*Deferred[int], opts ListOptions) func() error{
		"List": func(ds []*Deferred[int], opts ListOptions) func() error {
			l := List(ds, opts)
			return func() error { _, err, _ := l.Result(); return err }
		},
		"Gather": func(ds []*Deferred[int], opts ListOptions) func() error {
			g := Gather(ds, opts)
			return func() error { _, err, _ := g.Result(); return err }
		},
		"First": func(ds []*Deferred[int], opts ListOptions) func() error {
			f := First(ds, opts)
			return func() error { _, err, _ := f.Result(); return err }
		},
	}
	for name, collect := range collectors {
		for _, cancelOnError := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/CancelOnError=%v", name, cancelOnError), func(t *testing.T) {
				ds, cancels := raceInputs(3)
				collect(ds, ListOptions{CancelOnError: cancelOnError, KeepErrors: true})
				require.NoError(t, ds[1].Errback(errGeneric))
				if !cancelOnError {
					assert.Equal(t, []int{0, 0, 0}, cancels)
					return
				}
				assert.Equal(t, []int{1, 0, 1}, cancels, "every other input is cancelled once")
				_, err := resultOf(t, ds[0])
				assert.ErrorIs(t, err, ErrCancelled)
			})
		}
	}
}

// TestCancelOnErrorFiresAfterCancelling: Gather's *FirstError names the
// input that failed first, not the inputs it cancelled.
func TestCancelOnErrorFiresAfterCancelling(t *testing.T) {
	ds := []*Deferred[int]{New[int](), New[int](), New[int]()}
	g := Gather(ds, ListOptions{CancelOnError: true})
	require.NoError(t, ds[2].Errback(errGeneric))
	_, err := resultOf(t, g)
	var fe *FirstError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 2, fe.Index)
	assert.ErrorIs(t, err, errGeneric)
	for _, d := range ds {
		v, err := resultOf(t, d)
		require.NoError(t, err, "errors are consumed by default")
		assert.Zero(t, v)
	}
}
