package cachestruct

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// lockedMap is the baseline the benchmarks compare Memory with: the least
// a concurrent cache can do (one mutex, one map, a copy of the value on
// each read and write), without TTLs, CAS, LRU or key checks. Quoting
// Memory as a ratio to it keeps the figures meaningful on a noisy machine.
type lockedMap struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newLockedMap(keys []string, size int) *lockedMap {
	lm := &lockedMap{m: make(map[string][]byte, len(keys))}
	for _, k := range keys {
		lm.m[k] = make([]byte, size)
	}
	return lm
}

func (lm *lockedMap) get(key string) ([]byte, bool) {
	lm.mu.Lock()
	v, ok := lm.m[key]
	lm.mu.Unlock()
	return append([]byte(nil), v...), ok
}

func (lm *lockedMap) set(key string, value []byte) {
	v := append([]byte(nil), value...)
	lm.mu.Lock()
	lm.m[key] = v
	lm.mu.Unlock()
}

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
	value := make([]byte, size)
	for _, k := range keys {
		if _, err := m.Set(context.Background(), k, value, SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// benchAccess is an access pattern: the keys of a store and the order
// the benchmarks use them in, seq[i%len(seq)].
type benchAccess struct {
	name string
	keys []string
	seq  []int
}

// benchAccesses returns the access patterns of the get and set benchmarks:
// 10,000 keys in turn (each key's entry and value have left the CPU's
// caches by the time it comes round again), 1,000 keys in turn (all of
// them stay in the caches), and 10,000 keys drawn from a Zipf
// distribution (s = 1.1: a hot few hundred take most of the accesses),
// the usual shape of cache traffic.
func benchAccesses() []benchAccess {
	cycle := func(n int) benchAccess {
		seq := make([]int, n)
		for i := range seq {
			seq[i] = i
		}
		return benchAccess{fmt.Sprintf("cycle%dk", n/1000), benchKeys(n), seq}
	}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, 10_000-1)
	seq := make([]int, 1<<16)
	for i := range seq {
		seq[i] = int(zipf.Uint64())
	}
	return []benchAccess{cycle(10_000), cycle(1_000), {"zipf10k", benchKeys(10_000), seq}}
}

// measure runs op on acc's keys in acc's order, timed, after one untimed
// pass over all the keys and a collection. The pass faults in the memory
// the timed loop will allocate from, and the collection drops the garbage
// of the setup and of the benchmarks before: without them, the store
// measured first in a pair of 10 KB runs (each builds a 100 MB store) paid
// for the heap's growth alone, and took up to 2x as long as the second.
func measure(b *testing.B, acc benchAccess, op func(key string) error) {
	for _, k := range acc.keys {
		if err := op(k); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	b.ReportAllocs()
	cpuPerOp(b, func() int {
		i := 0
		for b.Loop() {
			if err := op(acc.keys[acc.seq[i%len(acc.seq)]]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		return i
	})
}

// errBenchMiss reports a miss where the benchmark expects a hit.
var errBenchMiss = errors.New("miss")

func BenchmarkMemoryGet(b *testing.B) {
	ctx := context.Background()
	for _, acc := range benchAccesses() {
		for _, size := range []int{100, 10_000} {
			if size > 100 && acc.name != "cycle10k" {
				continue
			}
			b.Run(fmt.Sprintf("access=%s/value=%d/store=memory", acc.name, size), func(b *testing.B) {
				m := benchMemory(b, 16, acc.keys, size)
				measure(b, acc, func(key string) error {
					_, found, err := m.Get(ctx, key, GetOptions{})
					if err == nil && !found {
						err = errBenchMiss
					}
					return err
				})
			})
			b.Run(fmt.Sprintf("access=%s/value=%d/store=lockedmap", acc.name, size), func(b *testing.B) {
				lm := newLockedMap(acc.keys, size)
				measure(b, acc, func(key string) error {
					if _, ok := lm.get(key); !ok {
						return errBenchMiss
					}
					return nil
				})
			})
		}
	}
}

func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	for _, acc := range benchAccesses() {
		for _, size := range []int{100, 10_000} {
			if size > 100 && acc.name != "cycle10k" {
				continue
			}
			value := make([]byte, size)
			b.Run(fmt.Sprintf("access=%s/value=%d/store=memory", acc.name, size), func(b *testing.B) {
				m := benchMemory(b, 16, acc.keys, size)
				measure(b, acc, func(key string) error {
					_, err := m.Set(ctx, key, value, SetOptions{})
					return err
				})
			})
			b.Run(fmt.Sprintf("access=%s/value=%d/store=lockedmap", acc.name, size), func(b *testing.B) {
				lm := newLockedMap(acc.keys, size)
				measure(b, acc, func(key string) error {
					lm.set(key, value)
					return nil
				})
			})
		}
	}
}

func BenchmarkMemoryIncr(b *testing.B) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	keys := benchKeys(1000)
	b.ReportAllocs()
	cpuPerOp(b, func() int {
		i := 0
		for b.Loop() {
			if _, err := m.Incr(ctx, keys[i%len(keys)], 1, IncrOptions{Vivify: true}); err != nil {
				b.Fatal(err)
			}
			i++
		}
		return i
	})
}

func BenchmarkMemoryGetMulti(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := benchKeys(n)
			m := benchMemory(b, 16, keys, 100)
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
// compare shards=1 (one lock) with shards=16, and both with the locked map.
func BenchmarkMemoryParallel(b *testing.B) {
	ctx := context.Background()
	keys := benchKeys(10_000)
	value := make([]byte, 100)
	mixes := []struct {
		name     string
		setEvery int // one Set per setEvery operations
	}{{"get", 0}, {"set", 1}, {"get90set10", 10}}
	run := func(b *testing.B, setEvery int, get func(string) error, set func(string) error) {
		// Warm up as measure does: one pass, then a collection.
		for _, k := range keys {
			if err := get(k); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var seq atomic.Uint64
		b.ResetTimer()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1) * 7919)
			for pb.Next() {
				k := keys[i%len(keys)]
				var err error
				if setEvery > 0 && i%setEvery == 0 {
					err = set(k)
				} else {
					err = get(k)
				}
				if err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	}
	for _, mix := range mixes {
		for _, shards := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/store=memory/shards=%d", mix.name, shards), func(b *testing.B) {
				m := benchMemory(b, shards, keys, 100)
				run(b, mix.setEvery, func(k string) error {
					_, _, err := m.Get(ctx, k, GetOptions{})
					return err
				}, func(k string) error {
					_, err := m.Set(ctx, k, value, SetOptions{})
					return err
				})
			})
		}
		b.Run(fmt.Sprintf("%s/store=lockedmap", mix.name), func(b *testing.B) {
			lm := newLockedMap(keys, 100)
			run(b, mix.setEvery, func(k string) error {
				lm.get(k)
				return nil
			}, func(k string) error {
				lm.set(k, value)
				return nil
			})
		})
	}
}

// BenchmarkMemorySetEvict writes keys that are no longer in a full store:
// each write inserts an item and evicts one.
func BenchmarkMemorySetEvict(b *testing.B) {
	ctx := context.Background()
	keys := benchKeys(100_000)
	seq := make([]int, len(keys))
	for i := range seq {
		seq[i] = i
	}
	value := make([]byte, 100)
	m := NewMemory(MemoryOptions{MaxBytes: 4 << 20, MaxItemSize: 64 << 10})
	measure(b, benchAccess{"evict", keys, seq}, func(key string) error {
		_, err := m.Set(ctx, key, value, SetOptions{})
		return err
	})
}
