package deferred

import (
	"errors"
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
