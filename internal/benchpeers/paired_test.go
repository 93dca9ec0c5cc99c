package benchpeers

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// pairedClient is a client of runPaired; parallel: it may be used by many
// goroutines.
type pairedClient[C any] struct {
	name     string
	c        C
	parallel bool
}

// pairedOp is an operation of runPaired: do(c, i) performs its i-th
// operation on c. A turn from one goroutine is serial operations (0: one);
// a turn from more goroutines is batch operations shared among them.
type pairedOp[C any] struct {
	name   string
	serial int
	batch  int
	do     func(c C, i int) error
}

// pairing is what runPaired measures: ops on clients, from each number of
// goroutines, reporting for each pair {a, b} of ratios a's median time
// divided by b's as the metric "a/b".
type pairing[C any] struct {
	clients    []pairedClient[C]
	ops        []pairedOp[C]
	goroutines []int
	ratios     [][2]string
}

// runPaired runs each operation from each number of goroutines as a
// sub-benchmark in which every iteration gives each client one turn, in a
// rotating order, and times it: from one goroutine a turn is op.serial
// operations in a row, from g goroutines op.batch operations split evenly
// among g goroutines started for the turn, timed as a whole (clients that
// are not parallel sit those out). Every client's n-th turn performs the
// same operations i. It reports each client's median time per operation
// ("<name>-ns"), from one goroutine also its allocations per operation
// ("<name>-allocs", by testing.AllocsPerRun before the timed loop), and the
// ratios of p.ratios whose clients are present; ns/op is one iteration.
func runPaired[C any](b *testing.B, p pairing[C]) {
	for _, g := range p.goroutines {
		for _, op := range p.ops {
			b.Run(fmt.Sprintf("op=%s/goroutines=%d", op.name, g), func(b *testing.B) {
				n := max(op.serial, 1)
				if g > 1 {
					n = op.batch
				}
				// The turn-th turn of c: operations turn×n to turn×n + n − 1.
				turn := func(c C, turn int) (time.Duration, error) {
					base := turn * n
					start := time.Now()
					if g == 1 {
						for j := range n {
							if err := op.do(c, base+j); err != nil {
								return 0, err
							}
						}
						return time.Since(start) / time.Duration(n), nil
					}
					errs := make([]error, g)
					var wg sync.WaitGroup
					for k := range g {
						wg.Go(func() {
							for j := k; j < n && errs[k] == nil; j += g {
								errs[k] = op.do(c, base+j)
							}
						})
					}
					wg.Wait()
					return time.Since(start) / time.Duration(n), errors.Join(errs...)
				}
				var cs []pairedClient[C]
				for _, c := range p.clients {
					if g == 1 || c.parallel {
						cs = append(cs, c)
					}
				}
				for _, c := range cs { // connections dialled, code warm
					if _, err := turn(c.c, 0); err != nil {
						b.Fatal(err)
					}
				}
				allocs := make([]float64, len(cs))
				for k, c := range cs {
					if g > 1 {
						break
					}
					var err error
					i := 0
					allocs[k] = testing.AllocsPerRun(100, func() {
						if e := op.do(c.c, i); e != nil && err == nil {
							err = e
						}
						i++
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				lat := make([][]time.Duration, len(cs))
				i := 0
				for b.Loop() {
					for j := range cs {
						k := (i + j) % len(cs)
						d, err := turn(cs[k].c, i)
						if err != nil {
							b.Fatal(err)
						}
						lat[k] = append(lat[k], d)
					}
					i++
				}
				med := map[string]float64{}
				for k, l := range lat {
					slices.Sort(l)
					med[cs[k].name] = float64(l[len(l)/2])
					b.ReportMetric(med[cs[k].name], cs[k].name+"-ns")
					if g == 1 { // after b.Loop, which drops earlier metrics
						b.ReportMetric(allocs[k], cs[k].name+"-allocs")
					}
				}
				for _, r := range p.ratios {
					if med[r[0]] > 0 && med[r[1]] > 0 {
						b.ReportMetric(med[r[0]]/med[r[1]], r[0]+"/"+r[1])
					}
				}
			})
		}
	}
}
