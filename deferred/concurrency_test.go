package deferred

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentFire fires one Deferred from many goroutines at once:
// exactly one wins, every other gets ErrAlreadyCalled, and the chain runs
// once.
func TestConcurrentFire(t *testing.T) {
	const goroutines = 8
	for range 200 {
		var runs atomic.Int32
		d := New[int]()
		d.AddBoth(func(v int, err error) (int, error) { runs.Add(1); return v, err })
		start := make(chan struct{})
		errs := make([]error, goroutines)
		var wg sync.WaitGroup
		for i := range goroutines {
			wg.Go(func() {
				<-start
				if i%2 == 0 {
					errs[i] = d.Callback(i)
				} else {
					errs[i] = d.Errback(errGeneric)
				}
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for _, err := range errs {
			if err == nil {
				winners++
			} else {
				require.ErrorIs(t, err, ErrAlreadyCalled)
			}
		}
		require.Equal(t, 1, winners)
		require.Equal(t, int32(1), runs.Load())
		_, _, ok := d.Result()
		require.True(t, ok)
	}
}

// TestCancelRacingCallback races Cancel against Callback: the outcome is
// one or the other, never both, and the callbacks run once.
func TestCancelRacingCallback(t *testing.T) {
	for _, withCanceller := range []bool{false, true} {
		for range 200 {
			var cancellerRuns, runs atomic.Int32
			d := New[int]()
			if withCanceller {
				d = NewWithCanceller(func(*Deferred[int]) { cancellerRuns.Add(1) })
			}
			d.AddBoth(func(v int, err error) (int, error) { runs.Add(1); return v, err })
			start := make(chan struct{})
			var cbErr error
			var wg sync.WaitGroup
			wg.Go(func() { <-start; d.Cancel() })
			wg.Go(func() { <-start; cbErr = d.Callback(5) })
			close(start)
			wg.Wait()
			v, err, ok := d.Result()
			require.True(t, ok)
			require.Equal(t, int32(1), runs.Load())
			require.LessOrEqual(t, cancellerRuns.Load(), int32(1))
			if err == nil {
				require.Equal(t, 5, v)
				require.NoError(t, cbErr)
				continue
			}
			require.ErrorIs(t, err, ErrCancelled)
			if withCanceller {
				require.ErrorIs(t, cbErr, ErrAlreadyCalled)
			} else {
				require.NoError(t, cbErr, "the late fire after a canceller-less cancel is swallowed")
			}
		}
	}
}

// TestConcurrentAddWhileFiring adds callbacks from many goroutines while
// another fires: each runs exactly once, on the firing goroutine or inside
// its Add.
func TestConcurrentAddWhileFiring(t *testing.T) {
	const adders, perAdder = 4, 200
	d := New[int]()
	var ran atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range adders {
		wg.Go(func() {
			<-start
			for range perAdder {
				d.AddCallback(func(v int) (int, error) { ran.Add(1); return v + 1, nil })
			}
		})
	}
	wg.Go(func() { <-start; _ = d.Callback(0) })
	close(start)
	wg.Wait()
	v, err, ok := d.Result()
	require.True(t, ok)
	require.NoError(t, err)
	assert.Equal(t, adders*perAdder, v)
	assert.Equal(t, int32(adders*perAdder), ran.Load())
}

// TestCallbacksRunSynchronously checks where callbacks run: inside
// Callback before it returns, and inside Add when already fired.
func TestCallbacksRunSynchronously(t *testing.T) {
	ran := false
	d := New[int]()
	d.AddCallback(func(v int) (int, error) { ran = true; return v, nil })
	require.False(t, ran)
	require.NoError(t, d.Callback(1))
	require.True(t, ran, "ran inside Callback")
	ran = false
	d.AddCallback(func(v int) (int, error) { ran = true; return v, nil })
	require.True(t, ran, "ran inside AddCallback")
}

// TestReentrancyNoDeadlock has callbacks fire, add to and cancel other
// Deferreds, and wait for a goroutine that touches the same Deferred.
func TestReentrancyNoDeadlock(t *testing.T) {
	a, b := New[int](), New[int]()
	var trace []string
	a.AddCallback(func(v int) (int, error) {
		trace = append(trace, "a1")
		require.NoError(t, b.Callback(v+1)) // fires b's chain from a's
		return v, nil
	})
	b.AddCallback(func(v int) (int, error) {
		trace = append(trace, "b1")
		a.AddCallback(func(v int) (int, error) { trace = append(trace, "a2"); return v, nil })
		// Another goroutine may use a and b while we run: no lock is held.
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _, _ = a.Result()
			a.Cancel()
			b.Cancel()
		}()
		<-done
		return v, nil
	})
	require.NoError(t, a.Callback(1))
	assert.Equal(t, []string{"a1", "b1", "a2"}, trace)
}

// TestHappensBefore publishes plain data through the chain: the race
// detector checks the memory-model promises of the package doc.
func TestHappensBefore(t *testing.T) {
	type box struct{ x []int }
	d := New[*box]()
	var fromCallback int
	d.AddCallback(func(b *box) (*box, error) {
		fromCallback = len(b.x) // producer's write is visible
		b.x = append(b.x, 2)
		return b, nil
	})
	go func() { _ = d.Callback(&box{x: []int{1}}) }()
	b, err := d.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, b.x) // callback's write is visible
	assert.Equal(t, 1, fromCallback)
}

// goroutinesSettle waits until the number of goroutines drops to want.
func goroutinesSettle(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), want)
}

// TestNoGoroutines runs the core type, collections and primitives and
// checks that no goroutine was started.
func TestNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := make([]*Deferred[int], 100)
	for i := range ds {
		ds[i] = New[int]()
		ds[i].AddCallback(inc).AddCallbackDeferred(func(v int) (*Deferred[int], error) { return Succeed(v), nil })
	}
	g := Gather(ds, ListOptions{KeepErrors: true})
	l := List(ds, ListOptions{})
	r := Race(ds)
	var lock Lock
	lock.Acquire()
	waiter := lock.Acquire()
	q := NewQueue[int](Unlimited, Unlimited)
	get, err := q.Get()
	require.NoError(t, err)
	// LessOrEqual: a goroutine of an earlier test may still be exiting.
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "nothing runs in the background")
	for i, d := range ds {
		require.NoError(t, d.Callback(i))
	}
	lock.Release()
	require.NoError(t, q.Put(1))
	for _, done := range []<-chan struct{}{g.Done(), l.Done(), r.Done(), waiter.Done(), get.Done()} {
		select {
		case <-done:
		default:
			t.Fatal("not fired synchronously")
		}
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

func TestWait(t *testing.T) {
	t.Run("result", func(t *testing.T) {
		d := New[int]()
		go func() { _ = d.Callback(3) }()
		v, err := d.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 3, v)
	})
	t.Run("context ends first", func(t *testing.T) {
		d := New[int]()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := d.Wait(ctx)
		assert.ErrorIs(t, err, context.Canceled)
		requireNoResult(t, d)
		require.NoError(t, d.Callback(1), "Wait does not cancel the Deferred")
	})
	t.Run("error", func(t *testing.T) {
		_, err := Fail[int](errGeneric).Wait(t.Context())
		assert.ErrorIs(t, err, errGeneric)
	})
}

func TestDone(t *testing.T) {
	isClosed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	t.Run("lazy channel", func(t *testing.T) {
		d := New[int]()
		require.NoError(t, d.Callback(1))
		assert.Nil(t, d.extra, "nobody asked: no channel")
		assert.True(t, isClosed(d.Done()))
	})
	t.Run("closes on fire", func(t *testing.T) {
		d := New[int]()
		done := d.Done()
		assert.False(t, isClosed(done))
		require.NoError(t, d.Callback(1))
		assert.True(t, isClosed(done))
	})
	t.Run("paused", func(t *testing.T) {
		d := New[int]()
		d.Pause()
		done := d.Done()
		require.NoError(t, d.Callback(1))
		assert.False(t, isClosed(done), "paused: the result is not known yet")
		d.Unpause()
		assert.True(t, isClosed(done))
	})
	t.Run("waiting on inner", func(t *testing.T) {
		d, inner := New[int](), New[int]()
		d.AddCallbackDeferred(returning(inner))
		done := d.Done()
		require.NoError(t, d.Callback(1))
		assert.False(t, isClosed(done), "waiting on the inner Deferred")
		require.NoError(t, inner.Callback(2))
		assert.True(t, isClosed(done))
		v, err, ok := d.Result()
		assert.True(t, ok)
		assert.NoError(t, err)
		assert.Equal(t, 2, v)
	})
	t.Run("later callbacks change the result", func(t *testing.T) {
		d := Succeed(1)
		<-d.Done()
		d.AddCallback(inc)
		v, _, _ := d.Result()
		assert.Equal(t, 2, v)
	})
}

// TestImplicitChainRacingInnerFire fires the inner Deferred on another
// goroutine while the outer chain is linking to it, exercising the hand-over
// of the result before the outer runner has finished setting up the wait.
func TestImplicitChainRacingInnerFire(t *testing.T) {
	for i := range 500 {
		outer, inner := New[int](), New[int]()
		start := make(chan struct{})
		outer.AddCallbackDeferred(func(int) (*Deferred[int], error) {
			close(start)
			return inner, nil
		})
		outer.AddCallback(inc)
		var wg sync.WaitGroup
		wg.Go(func() { <-start; _ = inner.Callback(i) })
		require.NoError(t, outer.Callback(0))
		wg.Wait()
		v, err := outer.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, i+1, v)
	}
}

// TestUnpauseRacingCallback races Unpause against Callback.
func TestUnpauseRacingCallback(t *testing.T) {
	for range 300 {
		var runs atomic.Int32
		d := New[int]()
		d.Pause()
		d.AddCallback(func(v int) (int, error) { runs.Add(1); return v, nil })
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; d.Unpause() })
		wg.Go(func() { <-start; _ = d.Callback(1) })
		close(start)
		wg.Wait()
		v, err := d.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, v)
		require.Equal(t, int32(1), runs.Load())
	}
}

// TestStressChainsAcrossGoroutines builds many two-level implicit chains
// whose outer and inner Deferreds are fired, extended and cancelled from
// different goroutines at once, and checks that every chain comes to rest
// with a result it could legitimately have and that every callback ran
// exactly once.
func TestStressChainsAcrossGoroutines(t *testing.T) {
	const chains = 300
	type chain struct {
		outer, inner *Deferred[int]
		runs         atomic.Int32
	}
	cs := make([]*chain, chains)
	for i := range cs {
		c := &chain{outer: New[int](), inner: New[int]()}
		c.outer.AddCallbackDeferred(func(int) (*Deferred[int], error) { return c.inner, nil })
		cs[i] = c
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range cs {
		wg.Go(func() { <-start; _ = c.outer.Callback(i) })
		wg.Go(func() { <-start; _ = c.inner.Callback(i * 10) })
		wg.Go(func() {
			<-start
			c.outer.AddBoth(func(v int, err error) (int, error) { c.runs.Add(1); return v, err })
		})
		if i%3 == 0 {
			wg.Go(func() { <-start; c.outer.Cancel() })
		}
	}
	close(start)
	wg.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i, c := range cs {
		v, err := c.outer.Wait(ctx)
		require.NotErrorIs(t, err, context.DeadlineExceeded, "chain %d never came to rest", i)
		require.Equal(t, int32(1), c.runs.Load(), "chain %d", i)
		if err != nil {
			require.ErrorIs(t, err, ErrCancelled, "chain %d", i)
			continue
		}
		require.Equal(t, i*10, v, "chain %d", i)
	}
}

// goid returns the current goroutine's id, parsed from its stack header
// ("goroutine 7 [running]:"), for tests only.
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	fields := strings.Fields(string(buf))
	return fields[1]
}

// TestCallbacksRunOnFiringGoroutine checks which goroutine runs callbacks:
// the one that fires, the one that adds to a fired Deferred, and the one
// that fires the inner Deferred of an implicit chain.
func TestCallbacksRunOnFiringGoroutine(t *testing.T) {
	ran := make(chan string, 3)
	d := New[int]()
	d.AddCallback(func(v int) (int, error) { ran <- goid(); return v, nil })
	firer := make(chan string, 1)
	go func() { firer <- goid(); _ = d.Callback(1) }()
	assert.Equal(t, <-firer, <-ran, "runs on the goroutine that fired")
	// Until the chain is at rest the firing goroutine still holds it and
	// would run a callback added now itself.
	<-d.Done()

	d.AddCallback(func(v int) (int, error) { ran <- goid(); return v, nil })
	assert.Equal(t, goid(), <-ran, "runs on the goroutine that added to a fired Deferred")

	inner := New[int]()
	d.AddCallbackDeferred(func(int) (*Deferred[int], error) { return inner, nil })
	d.AddCallback(func(v int) (int, error) { ran <- goid(); return v, nil })
	go func() { firer <- goid(); _ = inner.Callback(2) }()
	assert.Equal(t, <-firer, <-ran, "runs on the goroutine that fired the inner Deferred")
}
