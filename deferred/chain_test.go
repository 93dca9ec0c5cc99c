package deferred

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// returning makes a callback that ignores its input and returns inner.
func returning[T any](inner *Deferred[T]) func(T) (*Deferred[T], error) {
	return func(T) (*Deferred[T], error) { return inner, nil }
}

func TestCallbackReturnsDeferred(t *testing.T) {
	var r recorder[int]
	d1, d2 := New[int](), New[int]()
	d2.Pause()
	d1.AddCallbackDeferred(returning(d2))
	r.attach(d1)
	require.NoError(t, d1.Callback(1))
	assert.Empty(t, r.values, "should not have been called yet")
	require.NoError(t, d2.Callback(2))
	assert.Empty(t, r.values, "still should not have been called yet")
	d2.Unpause()
	assert.Equal(t, []int{2}, r.values, "result should come from the second Deferred")
}

func TestErrbackReturnsDeferred(t *testing.T) {
	var r recorder[string]
	d, d2 := New[string](), New[string]()
	d.AddErrbackDeferred(func(error) (*Deferred[string], error) { return d2, nil })
	r.attach(d)
	require.NoError(t, d.Errback(errGeneric))
	requireNoResult(t, d)
	assert.Empty(t, r.values)
	require.NoError(t, d2.Callback("result"))
	assert.Equal(t, []string{"result"}, r.values)
}

func TestBothReturnsDeferred(t *testing.T) {
	d, inner := New[int](), New[int]()
	var seen error
	d.AddBothDeferred(func(v int, err error) (*Deferred[int], error) { seen = err; return inner, nil })
	require.NoError(t, d.Errback(errGeneric))
	assert.ErrorIs(t, seen, errGeneric)
	require.NoError(t, inner.Callback(4))
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, 4, v)
}

func TestChainedPausedDeferredWithResult(t *testing.T) {
	paused := New[int]()
	require.NoError(t, paused.Callback(42))
	paused.Pause()
	chained := New[int]()
	chained.AddCallbackDeferred(returning(paused))
	require.NoError(t, chained.Callback(0))
	var r recorder[int]
	r.attach(chained)
	assert.Empty(t, r.values)
	paused.Unpause()
	assert.Equal(t, []int{42}, r.values)
}

func TestPausedDeferredChained(t *testing.T) {
	first, second := New[int](), New[int]()
	first.AddCallbackDeferred(returning(second))
	require.NoError(t, first.Callback(0))
	first.Pause()
	require.NoError(t, second.Callback(5))
	var r recorder[int]
	r.attach(second)
	assert.Equal(t, []int{0}, r.values, "second's result went to first and became zero")
}

func TestSynchronousImplicitChain(t *testing.T) {
	d := Succeed(0).AddCallbackDeferred(func(int) (*Deferred[int], error) { return Succeed(1), nil })
	v, err := resultOf(t, d)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
}

func TestAsynchronousImplicitChain(t *testing.T) {
	first, second := New[int](), New[int]()
	first.AddCallbackDeferred(returning(second))
	var r recorder[int]
	r.attach(first)
	require.NoError(t, first.Callback(0))
	assert.Empty(t, r.values)
	require.NoError(t, second.Callback(7))
	assert.Equal(t, []int{7}, r.values)
}

func TestSynchronousImplicitErrorChain(t *testing.T) {
	d := Succeed(0).AddCallbackDeferred(func(int) (*Deferred[int], error) { return Fail[int](errGeneric), nil })
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, errGeneric)
}

func TestAsynchronousImplicitErrorChain(t *testing.T) {
	first, second := New[int](), New[int]()
	first.AddCallbackDeferred(returning(second))
	var r recorder[int]
	r.attach(first)
	require.NoError(t, first.Callback(0))
	require.NoError(t, second.Errback(errGeneric))
	require.Len(t, r.errs, 1)
	assert.ErrorIs(t, r.errs[0], errGeneric)
	v, err := resultOf(t, second)
	assert.NoError(t, err, "the inner error was handed over")
	assert.Zero(t, v)
}

func TestDoubleAsynchronousImplicitChaining(t *testing.T) {
	first, second, third := New[int](), New[int](), New[int]()
	second.AddCallbackDeferred(returning(first))
	third.AddCallbackDeferred(returning(second))
	var r recorder[int]
	r.attach(third)
	require.NoError(t, second.Callback(0))
	require.NoError(t, third.Callback(0))
	assert.Empty(t, r.values)
	require.NoError(t, first.Callback(11))
	assert.Equal(t, []int{11}, r.values)
}

func TestNestedAsynchronousChainedDeferreds(t *testing.T) {
	var results []string
	inner := New[string]()
	cb := func(result string) (*Deferred[string], error) {
		results = append(results, "start-of-cb "+result)
		d := Succeed("inner")
		d.AddCallbackDeferred(func(string) (*Deferred[string], error) {
			results = append(results, "firstCallback inner")
			return inner, nil
		})
		d.AddCallback(func(r string) (string, error) {
			results = append(results, "secondCallback "+r)
			return r + r, nil
		})
		return d, nil
	}
	outer := Succeed("outer").AddCallbackDeferred(cb).AddCallback(func(r string) (string, error) {
		results = append(results, r)
		return r, nil
	})
	assert.Equal(t, []string{"start-of-cb outer", "firstCallback inner"}, results)
	require.NoError(t, inner.Callback("orange"))
	assert.Equal(t, []string{"start-of-cb outer", "firstCallback inner", "secondCallback orange", "orangeorange"}, results)
	_, err := resultOf(t, outer)
	assert.NoError(t, err)
}

func TestNestedAsynchronousChainedDeferredsWithExtraCallbacks(t *testing.T) {
	var results []string
	inner := New[string]()
	cb := func(result string) (*Deferred[string], error) {
		results = append(results, "start-of-cb "+result)
		d := Succeed("inner")
		d.AddCallbackDeferred(func(r string) (*Deferred[string], error) {
			results = append(results, "firstCallback "+r)
			return inner.AddCallback(func(r string) (string, error) { return "[" + r + "]", nil }), nil
		})
		d.AddCallback(func(r string) (string, error) {
			results = append(results, "secondCallback "+r)
			return r + r, nil
		})
		return d, nil
	}
	outer := Succeed("outer").AddCallbackDeferred(cb)
	outer.AddCallback(func(r string) (string, error) { results = append(results, r); return r, nil })
	assert.Equal(t, []string{"start-of-cb outer", "firstCallback inner"}, results)
	require.NoError(t, inner.Callback("withers"))
	assert.Equal(t, []string{"start-of-cb outer", "firstCallback inner", "secondCallback [withers]", "[withers][withers]"}, results)
}

func TestInnerCallbacksPreserved(t *testing.T) {
	var results []string
	inner := New[string]()
	outer := Succeed("outer")
	outer.AddCallbackDeferred(func(r string) (*Deferred[string], error) {
		results = append(results, "start-of-cb "+r)
		d := Succeed("inner")
		d.AddCallbackDeferred(func(string) (*Deferred[string], error) {
			results = append(results, "firstCallback")
			return inner, nil
		})
		d.AddCallback(func(r string) (string, error) {
			results = append(results, "secondCallback "+r)
			return r + r, nil
		})
		return d, nil
	})
	require.NoError(t, inner.Callback("orange"))
	outer.AddCallback(func(r string) (string, error) { results = append(results, r); return r, nil })
	assert.Equal(t, []string{"start-of-cb outer", "firstCallback", "secondCallback orange", "orangeorange"}, results)
}

func TestContinueCallbackNotFirst(t *testing.T) {
	var results []string
	a := New[string]()
	Succeed("outer").AddCallbackDeferred(func(r string) (*Deferred[string], error) {
		results = append(results, "cb "+r)
		d := New[string]()
		d.AddCallbackDeferred(func(string) (*Deferred[string], error) {
			results = append(results, "firstCallback")
			return Then(Gather([]*Deferred[string]{a}, ListOptions{KeepErrors: true}), func(vs []string) (string, error) { return vs[0], nil }), nil
		})
		d.AddCallback(func(r string) (string, error) { results = append(results, "secondCallback "+r); return r, nil })
		require.NoError(t, d.Callback(""))
		return d, nil
	})
	assert.Equal(t, []string{"cb outer", "firstCallback"}, results)
	require.NoError(t, a.Callback("withers"))
	assert.Equal(t, []string{"cb outer", "firstCallback", "secondCallback withers"}, results)
}

func TestCallbackOrderPreserved(t *testing.T) {
	var results []string
	a := New[string]()
	outer := New[string]()
	outer.AddCallbackDeferred(func(r string) (*Deferred[string], error) {
		results = append(results, "cb "+r)
		d := New[string]()
		d.AddCallbackDeferred(func(string) (*Deferred[string], error) {
			results = append(results, "firstCallback")
			return a, nil
		})
		d.AddCallback(func(r string) (string, error) { results = append(results, "secondCallback "+r); return r, nil })
		require.NoError(t, d.Callback(""))
		return d, nil
	})
	outer.AddCallback(func(r string) (string, error) { results = append(results, "final"); return r, nil })
	require.NoError(t, outer.Callback("outer"))
	assert.Equal(t, []string{"cb outer", "firstCallback"}, results)
	require.NoError(t, a.Callback("withers"))
	assert.Equal(t, []string{"cb outer", "firstCallback", "secondCallback withers", "final"}, results)
}

func TestResultOfDeferredResultOfDeferredOfFiredDeferredCalled(t *testing.T) {
	first, second, third := New[int](), New[int](), New[int]()
	first.AddCallbackDeferred(returning(second))
	second.AddCallbackDeferred(returning(third))
	require.NoError(t, second.Callback(0))
	require.NoError(t, first.Callback(0))
	require.NoError(t, third.Callback(0))
	var r recorder[int]
	r.attach(second)
	assert.Equal(t, []int{0}, r.values)
}

func TestCallbacksAfterContinuationSeeZero(t *testing.T) {
	// The inner Deferred's result becomes the zero value once handed over;
	// callbacks added to it afterwards see that.
	outer, inner := New[string](), New[string]()
	outer.AddCallbackDeferred(returning(inner))
	require.NoError(t, outer.Callback(""))
	require.NoError(t, inner.Callback("value"))
	v, err := resultOf(t, outer)
	require.NoError(t, err)
	assert.Equal(t, "value", v)
	v, err = resultOf(t, inner)
	require.NoError(t, err)
	assert.Empty(t, v)
}

func TestCircularChainException(t *testing.T) {
	d := New[string]()
	d.AddCallbackDeferred(func(string) (*Deferred[string], error) { return d, nil })
	require.NoError(t, d.Callback("foo"))
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, ErrCircularChain)
}

func TestNilDeferredReturned(t *testing.T) {
	d := Succeed(1).AddCallbackDeferred(func(int) (*Deferred[int], error) { return nil, nil })
	_, err := resultOf(t, d)
	assert.ErrorIs(t, err, ErrNilDeferred)
	d = Succeed(1).AddCallbackDeferred(func(int) (*Deferred[int], error) { return New[int](), errGeneric })
	_, err = resultOf(t, d)
	assert.ErrorIs(t, err, errGeneric, "the error wins over the returned Deferred")
}

// stackDepthAt returns the stack depth at which the final callback of a
// chain of howMany Deferreds ran (Twisted's test_boundedStackDepth).
func stackDepthAt(t *testing.T, howMany int) int {
	top := New[int]()
	inners := make([]*Deferred[int], howMany)
	for i := range inners {
		inners[i] = New[int]()
	}
	last := New[int]()
	depth := -1
	top.AddCallbackDeferred(returning(inners[0]))
	top.AddCallback(func(v int) (int, error) {
		depth = runtime.Callers(0, make([]uintptr, 1024))
		return v, nil
	})
	for i := range howMany - 1 {
		inners[i].AddCallbackDeferred(returning(inners[i+1]))
	}
	inners[howMany-1].AddCallbackDeferred(returning(last))
	require.NoError(t, top.Callback(0))
	for _, d := range inners {
		require.NoError(t, d.Callback(0))
	}
	require.Equal(t, -1, depth, "the recording callback must not have run yet")
	require.NoError(t, last.Callback(0))
	return depth
}

func TestBoundedStackDepth(t *testing.T) {
	d1 := stackDepthAt(t, 1)
	assert.Positive(t, d1)
	assert.Equal(t, d1, stackDepthAt(t, 2))
	assert.Equal(t, d1, stackDepthAt(t, 1000))
}

// deepChainEnv makes the test binary, re-executed by
// TestDeepChainBoundedStack, build a chain that deep.
const deepChainEnv = "DEFERRED_DEEP_CHAIN_CHILD"

// TestDeepChainBoundedStack runs a chain of a million Deferreds in a child
// process whose stack is capped at 16 MiB: recursion would need far more
// (and crash the child), the iterative runner needs a few frames.
func TestDeepChainBoundedStack(t *testing.T) {
	if n := os.Getenv(deepChainEnv); n != "" {
		depth, err := strconv.Atoi(n)
		require.NoError(t, err)
		debug.SetMaxStack(16 << 20)
		top, last := buildDeepChain(depth)
		require.NoError(t, last.Callback(7))
		v, err, ok := top.Result()
		require.True(t, ok)
		require.NoError(t, err)
		require.Equal(t, 7, v)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestDeepChainBoundedStack$", "-test.count=1")
	depth := 1000000
	if raceEnabled {
		// Still far deeper than a recursive runner could go in 16 MiB.
		depth = 100000
	}
	cmd.Env = append(os.Environ(), deepChainEnv+"="+strconv.Itoa(depth))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child failed:\n%s", out)
	assert.Contains(t, string(out), "PASS")
}

// buildDeepChain returns top, waiting (through n inner Deferreds, each
// waiting on the next) on last, which has not fired.
func buildDeepChain(n int) (top, last *Deferred[int]) {
	top = New[int]()
	last = New[int]()
	inners := make([]*Deferred[int], n)
	for i := range inners {
		inners[i] = New[int]()
	}
	top.AddCallbackDeferred(returning(inners[0]))
	for i := range n - 1 {
		inners[i].AddCallbackDeferred(returning(inners[i+1]))
	}
	inners[n-1].AddCallbackDeferred(returning(last))
	_ = top.Callback(0)
	for _, d := range inners {
		_ = d.Callback(0)
	}
	return top, last
}

// TestReturnRunningDeferred: a callback that returns a Deferred whose chain
// is running (here: a callback of b fires a, and a's callback returns b)
// waits until b's chain reaches the point where b was returned, so a gets
// b's result after b's pending callbacks. Twisted takes b's intermediate
// result instead (a gets 1 and b goes on from None to 20), which the
// package documentation lists as a departure.
func TestReturnRunningDeferred(t *testing.T) {
	a, b := New[int](), New[int]()
	b.AddCallback(func(v int) (int, error) { require.NoError(t, a.Callback(v)); return v + 1, nil })
	b.AddCallback(func(v int) (int, error) { return v * 10, nil })
	a.AddCallbackDeferred(func(int) (*Deferred[int], error) { return b, nil })
	require.NoError(t, b.Callback(1))
	v, err := resultOf(t, a)
	require.NoError(t, err)
	assert.Equal(t, 20, v)
	v, err = resultOf(t, b)
	require.NoError(t, err)
	assert.Zero(t, v, "b's result went to a")
}

// TestHandOverToPausedChainee: a Deferred that hands its result to a
// waiting Deferred that was paused still runs its own callbacks added after
// the hand-over (with the zero value); the paused one takes the result on
// Unpause. Twisted leaves those callbacks pending, even after the unpause.
func TestHandOverToPausedChainee(t *testing.T) {
	outer, inner := New[int](), New[int]()
	outer.AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
	require.NoError(t, outer.Callback(0))
	outer.Pause()
	var after []int
	inner.AddCallback(func(v int) (int, error) { after = append(after, v); return v, nil })
	require.NoError(t, inner.Callback(5))
	assert.Equal(t, []int{0}, after)
	requireNoResult(t, outer)
	outer.Unpause()
	v, err := resultOf(t, outer)
	require.NoError(t, err)
	assert.Equal(t, 5, v)
}
