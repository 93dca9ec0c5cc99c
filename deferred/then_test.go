package deferred

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThen(t *testing.T) {
	t.Run("value", func(t *testing.T) {
		d := New[int]()
		s := Then(d, func(v int) (string, error) { return strconv.Itoa(v), nil })
		requireNoResult(t, s)
		require.NoError(t, d.Callback(42))
		v, err := resultOf(t, s)
		require.NoError(t, err)
		assert.Equal(t, "42", v)
		dv, err := resultOf(t, d)
		require.NoError(t, err)
		assert.Equal(t, 42, dv, "d keeps its value")
	})
	t.Run("error skips f", func(t *testing.T) {
		called := false
		s := Then(Fail[int](errGeneric), func(int) (string, error) { called = true; return "", nil })
		_, err := resultOf(t, s)
		assert.ErrorIs(t, err, errGeneric)
		assert.False(t, called)
	})
	t.Run("f fails", func(t *testing.T) {
		_, err := resultOf(t, Then(Succeed(1), func(int) (string, error) { return "", errGeneric }))
		assert.ErrorIs(t, err, errGeneric)
	})
	t.Run("f panics", func(t *testing.T) {
		_, err := resultOf(t, Then(Succeed(1), func(int) (string, error) { panic("then") }))
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "then", pe.Value)
	})
	t.Run("cancel reaches d", func(t *testing.T) {
		d := New[int]()
		s := Then(d, func(v int) (string, error) { return "", nil })
		s.Cancel()
		_, err := resultOf(t, s)
		assert.ErrorIs(t, err, ErrCancelled)
		_, err = resultOf(t, d)
		assert.NoError(t, err, "d's error was handed to the Then Deferred")
	})
}

func TestChainDeferred(t *testing.T) {
	t.Run("value", func(t *testing.T) {
		a, b := New[int](), New[int]()
		var r recorder[int]
		r.attach(b)
		assert.Same(t, a, a.Chain(b))
		require.NoError(t, a.Callback(3))
		assert.Equal(t, []int{3}, r.values)
		v, err := resultOf(t, a)
		require.NoError(t, err)
		assert.Zero(t, v, "a's result went to b")
	})
	t.Run("error", func(t *testing.T) {
		a, b := New[int](), New[int]()
		a.Chain(b)
		require.NoError(t, a.Errback(errGeneric))
		_, err := resultOf(t, b)
		assert.ErrorIs(t, err, errGeneric)
		_, err = resultOf(t, a)
		assert.NoError(t, err)
	})
	t.Run("other already fired", func(t *testing.T) {
		a, b := New[int](), Succeed(1)
		a.Chain(b)
		require.NoError(t, a.Callback(2))
		_, err := resultOf(t, a)
		assert.ErrorIs(t, err, ErrAlreadyCalled)
	})
}

func TestMaybeDeferredSync(t *testing.T) {
	v, err := resultOf(t, MaybeDeferred(func() (int, error) { return 10, nil }))
	require.NoError(t, err)
	assert.Equal(t, 10, v)
}

func TestMaybeDeferredSyncFailure(t *testing.T) {
	_, err := resultOf(t, MaybeDeferred(func() (int, error) { return 0, errGeneric }))
	assert.ErrorIs(t, err, errGeneric)
}

func TestMaybeDeferredSyncException(t *testing.T) {
	errBad := errors.New("bad")
	_, err := resultOf(t, MaybeDeferred(func() (int, error) { panic(errBad) }))
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, errBad, "Unwrap gives the panic value when it is an error")
	assert.NotEmpty(t, pe.Stack)
	assert.Panics(t, func() { MaybeDeferred[int](nil) })
}

func TestPanicErrorUnwrap(t *testing.T) {
	assert.ErrorIs(t, &PanicError{Value: errGeneric}, errGeneric)
	assert.NoError(t, (&PanicError{Value: "text"}).Unwrap())
	assert.Contains(t, (&PanicError{Value: "text", Stack: []byte("frames")}).Error(), "text")
}

func TestGo(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("result", func(t *testing.T) {
		d := Go(t.Context(), func(context.Context) (int, error) { return 5, nil })
		v, err := d.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 5, v)
	})
	t.Run("error", func(t *testing.T) {
		_, err := Go(t.Context(), func(context.Context) (int, error) { return 0, errGeneric }).Wait(t.Context())
		assert.ErrorIs(t, err, errGeneric)
	})
	t.Run("panic", func(t *testing.T) {
		_, err := Go(t.Context(), func(context.Context) (int, error) { panic("body") }).Wait(t.Context())
		var pe *PanicError
		assert.ErrorAs(t, err, &pe)
	})
	t.Run("cancel cancels the body's context", func(t *testing.T) {
		started := make(chan struct{})
		bodyErr := make(chan error, 1)
		d := Go(t.Context(), func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			bodyErr <- ctx.Err()
			return 1, nil
		})
		<-started
		d.Cancel()
		_, err := d.Wait(t.Context())
		assert.ErrorIs(t, err, ErrCancelled)
		assert.ErrorIs(t, <-bodyErr, context.Canceled)
	})
	t.Run("parent context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		d := Go(ctx, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
		cancel()
		_, err := d.Wait(t.Context())
		assert.ErrorIs(t, err, context.Canceled)
	})
	goroutinesSettle(t, before)
	assert.Panics(t, func() { Go[int](t.Context(), nil) })
}
