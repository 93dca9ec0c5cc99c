package deferred

import (
	"context"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestAllocations asserts the allocation targets of the issue: timing is
// left to the benchmarks, allocation counts are deterministic.
func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	tests := []struct {
		name string
		max  float64
		run  func()
	}{
		{"create+fire+1 callback", 2, func() {
			d := New[int]()
			d.AddCallback(inc)
			_ = d.Callback(1)
			_, _, _ = d.Result()
		}},
		{"chain of 10 callbacks", 6, func() {
			d := New[int]()
			for range 10 {
				d.AddCallback(inc)
			}
			_ = d.Callback(0)
			_, _, _ = d.Result()
		}},
		{"Succeed+callback", 1, func() {
			Succeed(1).AddCallback(inc)
		}},
		// Issue 17: fewer allocations than errgroup's 2,005, and not
		// growing with the number of inputs.
		{"Map of 1000, limit 8", 20, func() {
			_, _ = Map(context.Background(), 8, mapInputs, func(_ context.Context, v int) (int, error) { return v, nil }).Wait(context.Background())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, tt.run)
			assert.LessOrEqual(t, allocs, tt.max)
		})
	}
}

var mapInputs = make([]int, 1000)

// TestDeferredSize keeps a Deferred of int, with its two inline links,
// within the 128-byte size class: create + fire + callback costs that one
// allocation, and a chain of ten one more of 128 bytes for the spill.
func TestDeferredSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	assert.Equal(t, uintptr(128), unsafe.Sizeof(Deferred[int]{}))
	assert.Equal(t, uintptr(16*minSpill), unsafe.Sizeof([minSpill]link[int]{}))
}

// TestGatherStartsNoGoroutine gathers 1000 Deferreds fired later, the shape
// of BenchmarkGather, and checks that no goroutine was involved.
func TestGatherStartsNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := make([]*Deferred[int], 1000)
	for i := range ds {
		ds[i] = New[int]()
	}
	g := Gather(ds, ListOptions{})
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
	for i, d := range ds {
		_ = d.Callback(i)
	}
	vs, err, ok := g.Result()
	assert.True(t, ok)
	assert.NoError(t, err)
	assert.Len(t, vs, 1000)
	assert.Equal(t, 999, vs[999])
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}
