package deferred

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingCanceller counts its calls and optionally fires the Deferred.
type countingCanceller[T any] struct {
	calls int
	fire  func(d *Deferred[T])
}

func (c *countingCanceller[T]) cancel(d *Deferred[T]) {
	c.calls++
	if c.fire != nil {
		c.fire(d)
	}
}

func TestNoCanceller(t *testing.T) {
	var r recorder[int]
	d := New[int]()
	r.attach(d)
	d.Cancel()
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], ErrCancelled)
	assert.Empty(t, r.values)
}

func TestRaisesAfterCancelAndCallback(t *testing.T) {
	var r recorder[int]
	d := New[int]()
	r.attach(d)
	d.Cancel()
	assert.NoError(t, d.Callback(1), "one late fire is swallowed")
	assert.ErrorIs(t, d.Callback(1), ErrAlreadyCalled)
	assert.ErrorIs(t, d.Errback(errGeneric), ErrAlreadyCalled)
}

func TestRaisesAfterCancelAndErrback(t *testing.T) {
	var r recorder[int]
	d := New[int]()
	r.attach(d)
	d.Cancel()
	assert.NoError(t, d.Errback(errGeneric), "one late fire is swallowed")
	assert.ErrorIs(t, d.Callback(1), ErrAlreadyCalled)
	assert.ErrorIs(t, d.Errback(errGeneric), ErrAlreadyCalled)
}

func TestNoCancellerMultipleCancelsAfterCancelAndCallback(t *testing.T) {
	var r recorder[int]
	d := New[int]()
	r.attach(d)
	d.Cancel()
	require.NoError(t, d.Callback(1))
	d.Cancel()
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], ErrCancelled)
	assert.Empty(t, r.values)
}

func TestNoCancellerMultipleCancelsAfterCancelAndErrback(t *testing.T) {
	var r recorder[int]
	d := New[int]()
	r.attach(d)
	d.Cancel()
	require.NoError(t, d.Errback(errGeneric))
	d.Cancel()
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], ErrCancelled, "still the cancellation, not the late error")
}

func TestNoCancellerMultipleCancel(t *testing.T) {
	var r recorder[int]
	d := New[int]()
	r.attach(d)
	d.Cancel()
	d.Cancel()
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], ErrCancelled)
}

func TestCancellerMultipleCancel(t *testing.T) {
	var c countingCanceller[int]
	var r recorder[int]
	d := NewWithCanceller(c.cancel)
	r.attach(d)
	d.Cancel()
	d.Cancel()
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], ErrCancelled)
	assert.Equal(t, 1, c.calls)
}

func TestSimpleCanceller(t *testing.T) {
	var c countingCanceller[int]
	var r recorder[int]
	d := NewWithCanceller(c.cancel)
	r.attach(d)
	d.Cancel()
	assert.Equal(t, 1, c.calls)
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], ErrCancelled)
	assert.ErrorIs(t, d.Callback(1), ErrAlreadyCalled, "with a canceller, late fires are not swallowed")
	assert.ErrorIs(t, d.Errback(errGeneric), ErrAlreadyCalled)
}

func TestCancellerArg(t *testing.T) {
	var got *Deferred[int]
	d := NewWithCanceller(func(x *Deferred[int]) { got = x })
	d.Cancel()
	assert.Same(t, d, got)
}

func TestCancelAfterCallback(t *testing.T) {
	c := countingCanceller[string]{fire: func(d *Deferred[string]) { _ = d.Errback(errGeneric) }}
	var r recorder[string]
	d := NewWithCanceller(c.cancel)
	r.attach(d)
	require.NoError(t, d.Callback("biff!"))
	d.Cancel()
	assert.Zero(t, c.calls)
	assert.Empty(t, r.errs)
	assert.Equal(t, []string{"biff!"}, r.values)
}

func TestCancelAfterErrback(t *testing.T) {
	c := countingCanceller[int]{fire: func(d *Deferred[int]) { _ = d.Errback(errGeneric) }}
	var r recorder[int]
	d := NewWithCanceller(c.cancel)
	r.attach(d)
	require.NoError(t, d.Errback(errGeneric))
	d.Cancel()
	assert.Zero(t, c.calls)
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], errGeneric)
	assert.NotErrorIs(t, r.errs[0], ErrCancelled)
}

func TestCancellerThatErrbacks(t *testing.T) {
	c := countingCanceller[int]{fire: func(d *Deferred[int]) { _ = d.Errback(errGeneric) }}
	var r recorder[int]
	d := NewWithCanceller(c.cancel)
	r.attach(d)
	d.Cancel()
	assert.Equal(t, 1, c.calls)
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], errGeneric)
}

func TestCancellerThatCallbacks(t *testing.T) {
	c := countingCanceller[string]{fire: func(d *Deferred[string]) { _ = d.Callback("hello!") }}
	var r recorder[string]
	d := NewWithCanceller(c.cancel)
	r.attach(d)
	d.Cancel()
	assert.Equal(t, 1, c.calls)
	assert.Equal(t, []string{"hello!"}, r.values)
	assert.Empty(t, r.errs)
}

func TestCancellerThatPanics(t *testing.T) {
	d := NewWithCanceller(func(*Deferred[int]) { panic("canceller bug") })
	d.Cancel()
	_, err := resultOf(t, d)
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "canceller bug", pe.Value)
}

func TestCancelNestedDeferred(t *testing.T) {
	var inner countingCanceller[int]
	b := NewWithCanceller(inner.cancel)
	a := NewWithCanceller(func(*Deferred[int]) { t.Error("the outer canceller must not run: it already has a result") })
	require.NoError(t, a.Callback(0))
	a.AddCallbackDeferred(returning(b))
	a.Cancel()
	var r recorder[int]
	r.attach(a)
	assert.Equal(t, 1, inner.calls)
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], ErrCancelled)
}

func TestCancelForwardedTransitively(t *testing.T) {
	// a waits on b waits on c: cancelling a cancels c, and the error flows
	// back up through b to a.
	a, b, c := New[int](), New[int](), New[int]()
	a.AddCallbackDeferred(returning(b))
	b.AddCallbackDeferred(returning(c))
	require.NoError(t, b.Callback(0))
	require.NoError(t, a.Callback(0))
	a.Cancel()
	_, err := resultOf(t, c)
	assert.NoError(t, err, "c's error was handed to b")
	_, err = resultOf(t, a)
	assert.ErrorIs(t, err, ErrCancelled)
}

func TestCancelAfterResultIsNoop(t *testing.T) {
	d := Succeed(3)
	d.Cancel()
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, 3, v)
}

func TestCancelPausedUnfired(t *testing.T) {
	// A paused Deferred is cancelled (it fires) but its callbacks wait for
	// Unpause, and Done stays open until then.
	var r recorder[int]
	d := New[int]()
	d.Pause()
	r.attach(d)
	d.Cancel()
	assert.Empty(t, r.errs)
	requireNoResult(t, d)
	d.Unpause()
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], ErrCancelled)
}
