package benchpeers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	promise "github.com/fanliao/go-promise"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"

	"github.com/twine-go/twine/deferred"
)

// The Deferred benchmarks compare twine's deferred with a one-shot channel
// (the Go baseline: make + send/close + receive), errgroup (for fan-in and
// bounded fan-out), sourcegraph/conc's pool (bounded fan-out) and
// fanliao/go-promise. chebyrash/promise is not served by the Go module proxy
// (403), so it cannot be measured here.

func incr(v int) (int, error) { return v + 1, nil }

// cpuNanos is the CPU time (user + system, all threads) this process used.
// On a shared, overloaded machine wall-clock ns/op mostly measures waiting
// for a core; cpu-ns/op measures the work, GC and scheduling included.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// loopCPU runs body under b.Loop and reports cpu-ns/op beside ns/op.
func loopCPU(b *testing.B, body func()) {
	b.ReportAllocs()
	start := cpuNanos()
	for b.Loop() {
		body()
	}
	b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDeferredCreateFire is create + one callback + fire + read.
func BenchmarkDeferredCreateFire(b *testing.B) {
	b.Run("lib=twine", func(b *testing.B) {
		loopCPU(b, func() {
			d := deferred.New[int]()
			d.AddCallback(incr)
			_ = d.Callback(1)
			if v, _, _ := d.Result(); v != 2 {
				b.Fatal(v)
			}
		})
	})
	b.Run("lib=chan", func(b *testing.B) {
		loopCPU(b, func() {
			c := make(chan int, 1)
			c <- 1
			close(c)
			if v := <-c; v != 1 {
				b.Fatal(v)
			}
		})
	})
	b.Run("lib=fanliao", func(b *testing.B) {
		loopCPU(b, func() {
			// fanliao may run the callback after Resolve and Get return
			// (the weakness noted in BENCHMARKS.md), so it is not checked.
			p := promise.NewPromise()
			var got atomic.Int64
			p.OnSuccess(func(v any) { got.Store(int64(v.(int) + 1)) })
			_ = p.Resolve(1)
			if _, err := p.Get(); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkDeferredChain adds n callbacks, fires and reads. fanliao has no
// synchronous transforming chain (Pipe starts goroutines), so it runs n
// OnSuccess callbacks.
func BenchmarkDeferredChain(b *testing.B) {
	for _, n := range []int{10} {
		b.Run(fmt.Sprintf("callbacks=%d/lib=twine", n), func(b *testing.B) {
			loopCPU(b, func() {
				d := deferred.New[int]()
				for range n {
					d.AddCallback(incr)
				}
				_ = d.Callback(0)
				if v, _, _ := d.Result(); v != n {
					b.Fatal(v)
				}
			})
		})
		b.Run(fmt.Sprintf("callbacks=%d/lib=fanliao", n), func(b *testing.B) {
			loopCPU(b, func() {
				p := promise.NewPromise()
				var got atomic.Int32
				for range n {
					p.OnSuccess(func(any) { got.Add(1) })
				}
				_ = p.Resolve(0)
				if _, err := p.Get(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDeferredGather joins n results that arrive after the join was
// set up: twine Gathers n Deferreds fired afterwards (no goroutine);
// errgroup runs n goroutines; fanliao WhenAll joins n promises resolved
// afterwards.
func BenchmarkDeferredGather(b *testing.B) {
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("n=%d/lib=twine", n), func(b *testing.B) {
			ds := make([]*deferred.Deferred[int], n)
			loopCPU(b, func() {
				for i := range ds {
					ds[i] = deferred.New[int]()
				}
				g := deferred.Gather(ds, deferred.ListOptions{})
				for i, d := range ds {
					_ = d.Callback(i)
				}
				if vs, err, _ := g.Result(); err != nil || len(vs) != n {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("n=%d/lib=errgroup", n), func(b *testing.B) {
			vs := make([]int, n)
			loopCPU(b, func() {
				var g errgroup.Group
				for i := range n {
					g.Go(func() error { vs[i] = i; return nil })
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("n=%d/lib=fanliao", n), func(b *testing.B) {
			ps := make([]*promise.Promise, n)
			fs := make([]any, n)
			loopCPU(b, func() {
				for i := range ps {
					ps[i] = promise.NewPromise()
					fs[i] = ps[i].Future
				}
				all := promise.WhenAll(fs...)
				for i, p := range ps {
					_ = p.Resolve(i)
				}
				if v, err := all.Get(); err != nil || len(v.([]any)) != n {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDeferredManyCallbacks adds a million callbacks to one Deferred
// and fires it (Twisted: 285 s, quadratic).
func BenchmarkDeferredManyCallbacks(b *testing.B) {
	const n = 1000000
	b.Run("n=1000000/lib=twine", func(b *testing.B) {
		loopCPU(b, func() {
			d := deferred.New[int]()
			for range n {
				d.AddCallback(incr)
			}
			_ = d.Callback(0)
			if v, _, _ := d.Result(); v != n {
				b.Fatal(v)
			}
		})
	})
}

// BenchmarkDeferredDeepChain builds a million Deferreds, each waiting on the
// next through implicit chaining, and fires the last one: the whole
// chain resolves with a bounded stack.
func BenchmarkDeferredDeepChain(b *testing.B) {
	const n = 1000000
	b.Run("depth=1000000/lib=twine", func(b *testing.B) {
		loopCPU(b, func() {
			top := deferred.New[int]()
			inners := make([]*deferred.Deferred[int], n+1)
			for i := range inners {
				inners[i] = deferred.New[int]()
			}
			top.AddCallbackDeferred(func(int) (*deferred.Deferred[int], error) { return inners[0], nil })
			for i := range n {
				next := inners[i+1]
				inners[i].AddCallbackDeferred(func(int) (*deferred.Deferred[int], error) { return next, nil })
			}
			_ = top.Callback(0)
			for _, d := range inners[:n] {
				_ = d.Callback(0)
			}
			_ = inners[n].Callback(7)
			if v, err, ok := top.Result(); !ok || err != nil || v != 7 {
				b.Fatal(v, err, ok)
			}
		})
	})
}

// The fan-out benchmarks run a cheap function over 1,000 inputs with at
// most 8 calls at once, the results gathered in input order and the first
// error cancelling the rest: twine's deferred.Map against errgroup
// (WithContext + SetLimit, one goroutine per input) and sourcegraph/conc's
// pool (WithContext, WithCancelOnError, WithFirstError, WithMaxGoroutines),
// both writing into an indexed slice.
const (
	fanoutN     = 1000
	fanoutLimit = 8
)

func double(_ context.Context, v int) (int, error) { return 2 * v, nil }

// hashWork is a call that does some work, a SHA-256 of 256 bytes, so that
// the fan-out's own cost is not all there is.
func hashWork(_ context.Context, v int) (int, error) {
	var buf [256]byte
	buf[0] = byte(v)
	sum := sha256.Sum256(buf[:])
	runtime.KeepAlive(sum)
	return 2 * v, nil
}

func fanoutInputs() []int {
	in := make([]int, fanoutN)
	for i := range in {
		in[i] = i
	}
	return in
}

type fanoutFunc = func(context.Context, int) (int, error)

func fanoutTwine(ctx context.Context, in []int, f fanoutFunc) ([]int, error) {
	return deferred.Map(ctx, fanoutLimit, in, f).Wait(ctx)
}

func fanoutErrgroup(ctx context.Context, in []int, f fanoutFunc) ([]int, error) {
	out := make([]int, len(in))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanoutLimit)
	for i, v := range in {
		g.Go(func() error {
			r, err := f(gctx, v)
			out[i] = r
			return err
		})
	}
	return out, g.Wait()
}

func fanoutConc(ctx context.Context, in []int, f fanoutFunc) ([]int, error) {
	out := make([]int, len(in))
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(fanoutLimit)
	for i, v := range in {
		p.Go(func(ctx context.Context) error {
			r, err := f(ctx, v)
			out[i] = r
			return err
		})
	}
	return out, p.Wait()
}

var fanoutLibs = []struct {
	name string
	run  func(context.Context, []int, fanoutFunc) ([]int, error)
}{
	{"twine", fanoutTwine}, {"errgroup", fanoutErrgroup}, {"conc", fanoutConc},
}

var fanoutWork = []struct {
	name string
	f    fanoutFunc
}{{"none", double}, {"sha256", hashWork}}

// checkFanout fails b unless out is double the inputs.
func checkFanout(b *testing.B, out []int, err error) {
	if err != nil || len(out) != fanoutN || out[fanoutN-1] != 2*(fanoutN-1) {
		b.Fatal(len(out), err)
	}
}

// BenchmarkDeferredFanout measures each library on its own (allocations
// per fan-out, cpu-ns/op).
func BenchmarkDeferredFanout(b *testing.B) {
	in := fanoutInputs()
	ctx := context.Background()
	for _, w := range fanoutWork {
		for _, lib := range fanoutLibs {
			b.Run(fmt.Sprintf("n=%d/limit=%d/work=%s/lib=%s", fanoutN, fanoutLimit, w.name, lib.name), func(b *testing.B) {
				loopCPU(b, func() {
					out, err := lib.run(ctx, in, w.f)
					checkFanout(b, out, err)
				})
			})
		}
	}
}

// BenchmarkDeferredFanoutPaired runs the three libraries alternately in
// every iteration, so that each sees the same load on a shared machine, and
// reports each one's mean wall time per fan-out (<lib>-ns) and the ratios
// errgroup/twine and conc/twine (above 1: twine is faster).
func BenchmarkDeferredFanoutPaired(b *testing.B) {
	in := fanoutInputs()
	ctx := context.Background()
	for _, w := range fanoutWork {
		b.Run(fmt.Sprintf("n=%d/limit=%d/work=%s", fanoutN, fanoutLimit, w.name), func(b *testing.B) {
			total := make([]time.Duration, len(fanoutLibs))
			round := 0
			for b.Loop() {
				// Rotate the order so that no library always runs first.
				for k := range fanoutLibs {
					j := (k + round) % len(fanoutLibs)
					start := time.Now()
					out, err := fanoutLibs[j].run(ctx, in, w.f)
					total[j] += time.Since(start)
					checkFanout(b, out, err)
				}
				round++
			}
			for j, lib := range fanoutLibs {
				b.ReportMetric(float64(total[j].Nanoseconds())/float64(b.N), lib.name+"-ns")
			}
			b.ReportMetric(float64(total[1])/float64(total[0]), "errgroup/twine")
			b.ReportMetric(float64(total[2])/float64(total[0]), "conc/twine")
		})
	}
}
