package deferred

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func inc(v int) (int, error) { return v + 1, nil }

// BenchmarkCreateFireCallback is create + one callback + fire + read, the
// unit cost of a Deferred (compare BenchmarkOneShotChannel).
func BenchmarkCreateFireCallback(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := New[int]()
		d.AddCallback(inc)
		_ = d.Callback(1)
		if v, _, _ := d.Result(); v != 2 {
			b.Fatal(v)
		}
	}
}

// BenchmarkAddTimeout is create + AddTimeout (a real timer) + fire + read:
// the result comes first, so the timer is stopped.
func BenchmarkAddTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d := New[int]().AddTimeout(time.Hour, nil)
		_ = d.Callback(1)
		if v, _, _ := d.Result(); v != 1 {
			b.Fatal(v)
		}
	}
}

// BenchmarkBind is create + Bind to a cancellable context + fire + read.
func BenchmarkBind(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		d := New[int]().Bind(ctx)
		_ = d.Callback(1)
		if v, _, _ := d.Result(); v != 1 {
			b.Fatal(v)
		}
	}
}

// BenchmarkOneShotChannel is the Go baseline: make + close + receive.
func BenchmarkOneShotChannel(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		c := make(chan int, 1)
		c <- 1
		close(c)
		if v := <-c; v != 1 {
			b.Fatal(v)
		}
	}
}

// BenchmarkChain adds n callbacks to a Deferred, fires it and reads the
// result.
func BenchmarkChain(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("callbacks=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := New[int]()
				for range n {
					d.AddCallback(inc)
				}
				_ = d.Callback(0)
				if v, _, _ := d.Result(); v != n {
					b.Fatal(v)
				}
			}
		})
	}
}

// BenchmarkGather gathers n Deferreds that fire after Gather was called.
func BenchmarkGather(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			ds := make([]*Deferred[int], n)
			for b.Loop() {
				for i := range ds {
					ds[i] = New[int]()
				}
				g := Gather(ds, ListOptions{})
				for i, d := range ds {
					_ = d.Callback(i)
				}
				if vs, err, _ := g.Result(); err != nil || len(vs) != n {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMap fans a trivial function out over n inputs with at most
// limit calls at once (the peer comparison with errgroup and conc is in
// internal/benchpeers).
func BenchmarkMap(b *testing.B) {
	for _, tc := range []struct{ n, limit int }{{10, 8}, {1000, 8}, {1000, 1}} {
		b.Run(fmt.Sprintf("n=%d/limit=%d", tc.n, tc.limit), func(b *testing.B) {
			b.ReportAllocs()
			in := make([]int, tc.n)
			ctx := context.Background()
			f := func(_ context.Context, v int) (int, error) { return v + 1, nil }
			for b.Loop() {
				if vs, err := Map(ctx, tc.limit, in, f).Wait(ctx); err != nil || len(vs) != tc.n {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkManyCallbacks adds n callbacks to one Deferred and fires it:
// linear in n (Twisted's pop(0) makes it quadratic).
func BenchmarkManyCallbacks(b *testing.B) {
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := New[int]()
				for range n {
					d.AddCallback(inc)
				}
				_ = d.Callback(0)
				if v, _, _ := d.Result(); v != n {
					b.Fatal(v)
				}
			}
		})
	}
}

// BenchmarkDeepChain builds a chain of n Deferreds, each waiting on the
// next through AddCallbackDeferred (Twisted's test_boundedStackDepth
// shape), then fires the last one.
func BenchmarkDeepChain(b *testing.B) {
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("depth=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				top, last := buildDeepChain(n)
				_ = last.Callback(1)
				if v, err, ok := top.Result(); !ok || err != nil || v != 1 {
					b.Fatal(v, err, ok)
				}
			}
		})
	}
}
