package deferred_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twine-go/twine/deferred"
)

func Example() {
	d := deferred.New[int]()
	d.AddCallback(func(v int) (int, error) { return v * 2, nil })
	d.AddCallback(func(v int) (int, error) {
		fmt.Println("callback got", v)
		return v, nil
	})
	_ = d.Callback(21) // the callbacks run here, before Callback returns
	fmt.Println(d.Callback(1))
	// Output:
	// callback got 42
	// deferred: already called
}

func ExampleNew() {
	d := deferred.New[string]()
	go func() { _ = d.Callback("from another goroutine") }()
	v, err := d.Wait(context.Background())
	fmt.Println(v, err)
	// Output: from another goroutine <nil>
}

func ExampleDeferred_AddErrback() {
	errNotFound := errors.New("not found")
	d := deferred.New[string]()
	d.AddCallback(func(key string) (string, error) { return "", errNotFound })
	d.AddCallback(func(v string) (string, error) {
		fmt.Println("skipped: the chain is on the error path")
		return v, nil
	})
	d.AddErrback(func(err error) (string, error) {
		if errors.Is(err, errNotFound) {
			return "default", nil // recover: back on the callback path
		}
		return "", err
	})
	d.AddCallback(func(v string) (string, error) {
		fmt.Println("value:", v)
		return v, nil
	})
	_ = d.Callback("key")
	// Output: value: default
}

func ExampleDeferred_AddCallbacks() {
	d := deferred.New[int]()
	d.AddCallbacks(
		func(v int) (int, error) { return 0, fmt.Errorf("bad value %d", v) },
		func(err error) (int, error) {
			fmt.Println("not called: only one member of a pair runs")
			return 0, nil
		},
	)
	d.AddErrback(func(err error) (int, error) {
		fmt.Println("next pair got:", err)
		return 0, nil
	})
	_ = d.Callback(7)
	// Output: next pair got: bad value 7
}

func ExampleDeferred_AddCallbackDeferred() {
	fetch := func(id int) *deferred.Deferred[string] {
		inner := deferred.New[string]()
		go func() { _ = inner.Callback("user-" + strconv.Itoa(id)) }()
		return inner
	}
	d := deferred.New[string]()
	d.AddCallbackDeferred(func(id string) (*deferred.Deferred[string], error) {
		n, err := strconv.Atoi(id)
		if err != nil {
			return nil, err
		}
		return fetch(n), nil // the chain waits for this Deferred
	})
	d.AddCallback(func(name string) (string, error) { return "hello " + name, nil })
	_ = d.Callback("42")
	v, err := d.Wait(context.Background())
	fmt.Println(v, err)
	// Output: hello user-42 <nil>
}

func ExampleThen() {
	d := deferred.New[int]()
	s := deferred.Then(d, func(v int) (string, error) { return fmt.Sprintf("<%d>", v), nil })
	_ = d.Callback(5)
	v, err, ok := s.Result()
	fmt.Println(v, err, ok)
	// Output: <5> <nil> true
}

func ExampleDeferred_Chain() {
	a, b := deferred.New[string](), deferred.New[string]()
	b.AddCallback(func(v string) (string, error) {
		fmt.Println("b got", v)
		return v, nil
	})
	a.Chain(b)
	_ = a.Callback("x")
	// Output: b got x
}

func ExampleDeferred_Pause() {
	d := deferred.New[int]()
	d.AddCallback(func(v int) (int, error) {
		fmt.Println("callback", v)
		return v, nil
	})
	d.Pause()
	_ = d.Callback(1)
	fmt.Println("fired while paused")
	d.Unpause()
	// Output:
	// fired while paused
	// callback 1
}

func ExampleDeferred_Cancel() {
	d := deferred.NewWithCanceller(func(d *deferred.Deferred[int]) {
		fmt.Println("canceller: stopping the work")
	})
	d.AddErrback(func(err error) (int, error) {
		fmt.Println("errback:", err, errors.Is(err, deferred.ErrCancelled))
		return -1, nil
	})
	d.Cancel()
	fmt.Println(d.Callback(1)) // the producer learns it was too late
	// Output:
	// canceller: stopping the work
	// errback: deferred: cancelled true
	// deferred: already called
}

// manualClock is a deferred.Clock moved by hand, for a deterministic example.
type manualClock struct{ fns []func() }

type manualTimer struct{}

func (manualTimer) Stop() bool { return true }

func (c *manualClock) AfterFunc(_ time.Duration, f func()) deferred.Timer {
	c.fns = append(c.fns, f)
	return manualTimer{}
}

func (c *manualClock) fire() {
	for _, f := range c.fns {
		f()
	}
}

func ExampleDeferred_AddTimeout() {
	clock := &manualClock{}
	d := deferred.New[string]().AddTimeout(2*time.Second, clock)
	clock.fire() // two seconds later, no result yet
	_, err, _ := d.Result()
	fmt.Println(err, errors.Is(err, deferred.ErrTimeout))
	// Output: deferred: timed out after 2s true
}

// ExampleDeferred_AddTimeoutFunc turns a timeout into a fallback value
// (Twisted's onTimeoutCancel).
func ExampleDeferred_AddTimeoutFunc() {
	clock := &manualClock{}
	d := deferred.New[string]().AddTimeoutFunc(2*time.Second, clock, func(_ string, err error, timeout time.Duration) (string, error) {
		return fmt.Sprintf("stale copy (no answer in %v)", timeout), nil
	})
	clock.fire()
	v, err, _ := d.Result()
	fmt.Println(v, err)
	// Output: stale copy (no answer in 2s) <nil>
}

func ExampleList() {
	d1, d2 := deferred.New[int](), deferred.New[int]()
	l := deferred.List([]*deferred.Deferred[int]{d1, d2}, deferred.ListOptions{})
	_ = d2.Errback(errors.New("boom"))
	_ = d1.Callback(1)
	outcomes, _, _ := l.Result()
	for _, o := range outcomes {
		fmt.Println(o.Index, o.Value, o.Err)
	}
	// Output:
	// 0 1 <nil>
	// 1 0 boom
}

func ExampleGather() {
	ds := []*deferred.Deferred[int]{deferred.New[int](), deferred.Succeed(2), deferred.New[int]()}
	g := deferred.Gather(ds, deferred.ListOptions{})
	_ = ds[2].Callback(3)
	_ = ds[0].Callback(1)
	vs, err, _ := g.Result()
	fmt.Println(vs, err)
	// Output: [1 2 3] <nil>
}

// ExampleGather_cancelOnError shows the first failure cancelling the other
// inputs, as errgroup.WithContext does; the input's error, reported by the
// Gather, is consumed (the default).
func ExampleGather_cancelOnError() {
	slow := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { fmt.Println("slow cancelled") })
	failing := deferred.New[int]()
	g := deferred.Gather([]*deferred.Deferred[int]{slow, failing}, deferred.ListOptions{CancelOnError: true})
	_ = failing.Errback(errors.New("boom"))
	_, err, _ := g.Result()
	fmt.Println(err)
	// Output:
	// slow cancelled
	// deferred: first error at index 1: boom
}

func ExampleFirst() {
	d1, d2, d3 := deferred.New[string](), deferred.New[string](), deferred.New[string]()
	f := deferred.First([]*deferred.Deferred[string]{d1, d2, d3}, deferred.ListOptions{})
	_ = d1.Errback(errors.New("no route"))
	_ = d3.Callback("replica 3")
	_ = d2.Callback("replica 2") // too late, and not cancelled either
	o, err, _ := f.Result()
	fmt.Println(o.Index, o.Value, err)
	// Output: 2 replica 3 <nil>
}

func ExampleRace() {
	slow := deferred.NewWithCanceller(func(*deferred.Deferred[string]) { fmt.Println("slow cancelled") })
	fast := deferred.New[string]()
	r := deferred.Race([]*deferred.Deferred[string]{slow, fast})
	_ = fast.Callback("fast wins")
	o, err, _ := r.Result()
	fmt.Println(o.Index, o.Value, err)
	// Output:
	// slow cancelled
	// 1 fast wins <nil>
}

func ExampleGo() {
	d := deferred.Go(context.Background(), func(ctx context.Context) (int, error) {
		return 6 * 7, nil // runs on its own goroutine
	})
	v, err := d.Wait(context.Background())
	fmt.Println(v, err)
	// Output: 42 <nil>
}

func ExampleGo_cancel() {
	d := deferred.Go(context.Background(), func(ctx context.Context) (int, error) {
		<-ctx.Done() // cancelled by d.Cancel
		return 0, ctx.Err()
	})
	d.Cancel()
	_, err := d.Wait(context.Background())
	fmt.Println(err)
	// Output: deferred: cancelled
}

func ExampleMaybeDeferred() {
	d := deferred.MaybeDeferred(func() (int, error) { panic("bug") })
	_, err, _ := d.Result()
	var pe *deferred.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value)
	// Output: true bug
}

func ExampleLock() {
	var lock deferred.Lock
	first := lock.Acquire()
	second := lock.Acquire()
	second.AddCallback(func(l *deferred.Lock) (*deferred.Lock, error) {
		fmt.Println("second holder")
		l.Release()
		return l, nil
	})
	_, _, ok := first.Result()
	fmt.Println("first acquired:", ok)
	lock.Release() // hands the lock to the second
	fmt.Println("locked:", lock.Locked())
	// Output:
	// first acquired: true
	// second holder
	// locked: false
}

func ExampleSemaphore() {
	sem := deferred.NewSemaphore(2)
	for i := range 3 {
		sem.Acquire().AddCallback(func(s *deferred.Semaphore) (*deferred.Semaphore, error) {
			fmt.Println("worker", i, "running")
			return s, nil
		})
	}
	fmt.Println("free tokens:", sem.Tokens())
	sem.Release() // worker 0 done: worker 2 starts
	// Output:
	// worker 0 running
	// worker 1 running
	// free tokens: 0
	// worker 2 running
}

func ExampleQueue() {
	q := deferred.NewQueue[string](1, deferred.Unlimited)
	get, _ := q.Get() // nothing pending yet: waits
	get.AddCallback(func(v string) (string, error) {
		fmt.Println("got", v)
		return v, nil
	})
	_ = q.Put("a") // hands "a" to the waiting Get
	_ = q.Put("b") // pending
	fmt.Println(q.Put("c"))
	// Output:
	// got a
	// deferred: queue overflow
}

func ExampleSetUnhandledErrorHandler() {
	prev := deferred.SetUnhandledErrorHandler(func(u deferred.UnhandledError) {
		// Called after garbage collection for errors nobody handled.
		fmt.Println("unhandled:", u.Err)
	})
	defer func() { deferred.SetUnhandledErrorHandler(prev) }()
	fmt.Println("installed")
	// Output: installed
}

func ExampleSucceed() {
	d := deferred.Succeed(3)
	d.AddCallback(func(v int) (int, error) {
		fmt.Println("runs inside AddCallback:", v)
		return v, nil
	})
	// Output: runs inside AddCallback: 3
}

func ExampleFail() {
	d := deferred.Fail[int](errors.New("no backend"))
	d.AddErrback(func(err error) (int, error) {
		fmt.Println("errback:", err)
		return 0, nil
	})
	// Output: errback: no backend
}

func ExampleDeferred_AddBoth() {
	for _, fire := range []func(*deferred.Deferred[int]) error{
		func(d *deferred.Deferred[int]) error { return d.Callback(1) },
		func(d *deferred.Deferred[int]) error { return d.Errback(errors.New("e")) },
	} {
		d := deferred.New[int]()
		d.AddBoth(func(v int, err error) (int, error) {
			fmt.Println("finally:", v, err) // runs on both paths
			return v, err
		})
		_ = fire(d)
		_, _, _ = d.Result()
	}
	// Output:
	// finally: 1 <nil>
	// finally: 0 e
}

func ExampleDeferred_Done() {
	d := deferred.New[int]()
	done := d.Done()
	go func() { _ = d.Callback(1) }()
	<-done
	v, err, ok := d.Result()
	fmt.Println(v, err, ok)
	// Output: 1 <nil> true
}

func ExampleDeferred_Result() {
	d := deferred.New[int]()
	_, _, ok := d.Result()
	fmt.Println("before:", ok)
	_ = d.Callback(8)
	v, err, ok := d.Result()
	fmt.Println("after:", v, err, ok)
	// Output:
	// before: false
	// after: 8 <nil> true
}

func ExampleSetDebug() {
	deferred.SetDebug(true)
	defer deferred.SetDebug(false)
	d := deferred.New[int]()
	_ = d.Callback(1)
	err := d.Callback(2)
	fmt.Println(errors.Is(err, deferred.ErrAlreadyCalled), strings.Contains(err.Error(), "first fired at"))
	// Output: true true
}

func ExampleNewWithCanceller() {
	// A request that can be abandoned: the canceller stops the work and
	// reports why.
	stop := make(chan struct{})
	d := deferred.NewWithCanceller(func(d *deferred.Deferred[string]) {
		close(stop)
		_ = d.Errback(errors.New("request abandoned"))
	})
	d.Cancel()
	<-stop
	_, err, _ := d.Result()
	fmt.Println(err)
	// Output: request abandoned
}

func ExampleDeferred_Wait() {
	d := deferred.New[int]()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := d.Wait(ctx) // nobody fires d: Wait gives up, d is untouched
	fmt.Println(err)
	_ = d.Callback(1)
	v, err := d.Wait(context.Background())
	fmt.Println(v, err)
	// Output:
	// context deadline exceeded
	// 1 <nil>
}

func ExampleDeferred_AddErrbackDeferred() {
	primary := deferred.Fail[string](errors.New("primary down"))
	primary.AddErrbackDeferred(func(err error) (*deferred.Deferred[string], error) {
		fmt.Println("falling back after:", err)
		return deferred.Succeed("from replica"), nil
	})
	v, err, _ := primary.Result()
	fmt.Println(v, err)
	// Output:
	// falling back after: primary down
	// from replica <nil>
}

func ExampleDeferred_String() {
	a, b := deferred.New[int](), deferred.New[int]()
	a.AddCallbackDeferred(func(int) (*deferred.Deferred[int], error) { return b, nil })
	_ = a.Callback(0)
	fmt.Println(strings.Contains(a.String(), "waiting on Deferred"))
	_ = b.Callback(3)
	fmt.Println(strings.HasSuffix(a.String(), "current result: 3>"))
	// Output:
	// true
	// true
}

func ExampleRun() {
	sem := deferred.NewSemaphore(1)
	work := func(name string) func() (*deferred.Deferred[string], error) {
		return func() (*deferred.Deferred[string], error) {
			fmt.Println("running", name, "- free tokens:", sem.Tokens())
			return deferred.Succeed(name + " done"), nil
		}
	}
	a := deferred.Run(sem, work("a"))
	b := deferred.Run(sem, work("b"))
	for _, d := range []*deferred.Deferred[string]{a, b} {
		v, _, _ := d.Result()
		fmt.Println(v)
	}
	// Output:
	// running a - free tokens: 0
	// running b - free tokens: 0
	// a done
	// b done
}

func ExampleDeferred_CancelCause() {
	errShutdown := errors.New("shutting down")
	d := deferred.New[int]()
	d.CancelCause(errShutdown)
	_, err, _ := d.Result()
	fmt.Println(err)
	fmt.Println(errors.Is(err, deferred.ErrCancelled), errors.Is(err, errShutdown))
	// Output:
	// deferred: cancelled: shutting down
	// true true
}

func ExampleCancelCauseOf() {
	d := deferred.NewWithCanceller(func(d *deferred.Deferred[int]) {
		fmt.Println("canceller sees:", deferred.CancelCauseOf(d))
	})
	d.CancelCause(errors.New("client went away"))
	// Output: canceller sees: client went away
}

func ExampleDeferred_Bind() {
	errShutdown := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	d := deferred.New[int]().Bind(ctx)
	cancel(errShutdown)
	_, err := d.Wait(context.Background())
	fmt.Println(errors.Is(err, deferred.ErrCancelled), errors.Is(err, context.Canceled), errors.Is(err, errShutdown))
	fmt.Println(context.Cause(ctx) == errShutdown)
	// Output:
	// true true true
	// true
}

// ExampleAwait is Twisted's inlineCallbacks in Go: the body awaits another
// Deferred, and when the wait is cancelled (here by the context; Cancel on
// the Deferred Go returned does the same while the body awaits) the awaited
// Deferred is cancelled and the body turns the cancellation into a value.
func ExampleAwait() {
	ctx, cancel := context.WithCancel(context.Background())
	lookup := deferred.NewWithCanceller(func(*deferred.Deferred[string]) { fmt.Println("lookup cancelled") })
	d := deferred.Go(ctx, func(ctx context.Context) (string, error) {
		v, err := deferred.Await(ctx, lookup)
		if errors.Is(err, deferred.ErrCancelled) {
			return "default", nil
		}
		return v, err
	})
	cancel()
	v, err := d.Wait(context.Background())
	fmt.Println(v, err)
	// Output:
	// lookup cancelled
	// default <nil>
}

// ExampleMap fetches with at most two calls at once and gathers the results
// in input order.
func ExampleMap() {
	sizes := map[string]int{"a.txt": 1, "b.txt": 20, "c.txt": 300}
	names := []string{"a.txt", "b.txt", "c.txt"}
	d := deferred.Map(context.Background(), 2, names, func(ctx context.Context, name string) (int, error) {
		return sizes[name], nil
	})
	vs, err := d.Wait(context.Background())
	fmt.Println(vs, err)
	// Output: [1 20 300] <nil>
}

// ExampleMap_firstError shows the first error stopping the fan-out.
func ExampleMap_firstError() {
	d := deferred.Map(context.Background(), 1, []int{1, 2, 3}, func(ctx context.Context, v int) (int, error) {
		if v == 2 {
			return 0, errors.New("bad input")
		}
		return v, nil
	})
	_, err := d.Wait(context.Background())
	fmt.Println(err)
	// Output: deferred: first error at index 1: bad input
}

func ExampleMapEach() {
	ds := deferred.MapEach(context.Background(), 2, []int{1, 2, 3}, func(ctx context.Context, v int) (string, error) {
		return strconv.Itoa(v * 10), nil
	})
	for _, d := range ds {
		v, err := d.Wait(context.Background())
		fmt.Println(v, err)
	}
	// Output:
	// 10 <nil>
	// 20 <nil>
	// 30 <nil>
}
