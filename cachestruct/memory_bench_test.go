package cachestruct

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
)

// benchKeys returns n distinct keys shaped like real cache keys.
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i) + ":profile"
	}
	return keys
}

// benchMemory returns a store with the given number of shards (1 or 16)
// filled with keys holding a value of size bytes.
func benchMemory(b *testing.B, shards int, keys []string, size int) *Memory {
	opts := MemoryOptions{MaxBytes: 256 << 20}
	if shards == 1 {
		opts.MaxItemSize = 64 << 20 // 256 MiB / 64 MiB: a single shard
	}
	m := NewMemory(opts)
	if len(m.shards) != shards {
		b.Fatalf("got %d shards, want %d", len(m.shards), shards)
	}
	value := make([]byte, size)
	for _, k := range keys {
		if _, err := m.Set(context.Background(), k, value, SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

func BenchmarkMemoryGet(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			keys := benchKeys(10_000)
			m := benchMemory(b, memMaxShards, keys, size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, err := m.Get(ctx, keys[i%len(keys)], GetOptions{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			keys := benchKeys(10_000)
			m := benchMemory(b, memMaxShards, keys, size)
			value := make([]byte, size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := m.Set(ctx, keys[i%len(keys)], value, SetOptions{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkMemoryIncr(b *testing.B) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	keys := benchKeys(1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Incr(ctx, keys[i%len(keys)], 1, IncrOptions{Vivify: true}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMemoryGetMulti(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := benchKeys(n)
			m := benchMemory(b, memMaxShards, keys, 100)
			b.ReportAllocs()
			for b.Loop() {
				items, err := m.GetMulti(ctx, keys)
				if err != nil || len(items) != n {
					b.Fatal(err, len(items))
				}
			}
		})
	}
}

// BenchmarkMemoryParallel measures scaling: run it with -cpu=1,2,... and
// compare shards=1 (one lock) with shards=16.
func BenchmarkMemoryParallel(b *testing.B) {
	ctx := context.Background()
	for _, shards := range []int{1, memMaxShards} {
		for _, mix := range []struct {
			name     string
			setEvery int // one Set per setEvery operations
		}{{"get", 0}, {"set", 1}, {"get90set10", 10}} {
			b.Run(fmt.Sprintf("shards=%d/%s", shards, mix.name), func(b *testing.B) {
				keys := benchKeys(10_000)
				m := benchMemory(b, shards, keys, 100)
				value := make([]byte, 100)
				var seq atomic.Uint64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := int(seq.Add(1) * 7919)
					for pb.Next() {
						k := keys[i%len(keys)]
						var err error
						if mix.setEvery > 0 && i%mix.setEvery == 0 {
							_, err = m.Set(ctx, k, value, SetOptions{})
						} else {
							_, _, err = m.Get(ctx, k, GetOptions{})
						}
						if err != nil {
							b.Error(err)
							return
						}
						i++
					}
				})
			})
		}
	}
}
