package hashring

import (
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func BenchmarkGet(b *testing.B) {
	keys := testKeys(4096, 31)
	for _, bl := range builders {
		for _, n := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/nodes=%d", bl.name, n), func(b *testing.B) {
				r, err := bl.build(testNodes(n))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					_ = r.Get(keys[i&4095])
					i++
				}
			})
		}
	}
}

func BenchmarkAppendN(b *testing.B) {
	keys := testKeys(4096, 32)
	for _, bl := range builders {
		b.Run(bl.name+"/nodes=100/n=3", func(b *testing.B) {
			r, err := bl.build(testNodes(100))
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]string, 0, 3)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				dst, _ = r.AppendN(dst[:0], keys[i&4095], 3)
				i++
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, points := range []int{160, DefaultPoints} {
		b.Run(fmt.Sprintf("fast/nodes=100/points=%d", points), func(b *testing.B) {
			nodes := testNodes(100)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := New(nodes, Points(points)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("ketama/nodes=100", func(b *testing.B) {
		nodes := testNodes(100)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := NewKetama(nodes...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChange measures one membership change (Add, then Remove, of
// one node) on a ring of 100 nodes.
func BenchmarkChange(b *testing.B) {
	for _, bl := range builders {
		b.Run(bl.name+"/nodes=100", func(b *testing.B) {
			nodes := testNodes(101)
			r, err := bl.build(nodes[:100])
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Add(nodes[100]); err != nil {
					b.Fatal(err)
				}
				if err := r.Remove(nodes[100].Name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetDuringChanges measures lookups from parallel goroutines while
// another goroutine changes the membership without pause: readers never
// wait for a writer.
func BenchmarkGetDuringChanges(b *testing.B) {
	nodes := testNodes(101)
	r, err := New(nodes[:100], Points(160))
	if err != nil {
		b.Fatal(err)
	}
	keys := testKeys(4096, 35)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = r.Add(nodes[100])
			_ = r.Remove(nodes[100].Name)
		}
	}()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = r.Get(keys[i&4095])
			i++
		}
	})
	b.StopTimer()
	close(stop)
	<-done
}

func BenchmarkBounded(b *testing.B) {
	r, err := New(testNodes(100))
	if err != nil {
		b.Fatal(err)
	}
	bd, err := NewBounded(r, 1.25)
	if err != nil {
		b.Fatal(err)
	}
	keys := testKeys(4096, 33)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		node, _ := bd.Acquire(keys[i&4095])
		bd.Release(node)
		i++
	}
}

func BenchmarkJump(b *testing.B) {
	keys := testKeys(4096, 34)
	hashes := make([]uint64, len(keys))
	for i, k := range keys {
		hashes[i] = xxhash.Sum64String(k)
	}
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("buckets=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = Jump(hashes[i&4095], n)
				i++
			}
		})
	}
}
