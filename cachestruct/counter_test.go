package cachestruct

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCounter(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	var rec Recorder
	c := NewCounter(store, CounterConfig{Observer: &rec})

	n, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Zero(t, n, "a missing counter reads as zero")

	steps := []struct {
		name  string
		op    func() (uint64, error)
		want  uint64
		store bool
	}{
		{"incr creates", func() (uint64, error) { return c.Incr(ctx, "k", 5) }, 5, true},
		{"incr", func() (uint64, error) { return c.Incr(ctx, "k", 3) }, 8, true},
		{"decr", func() (uint64, error) { return c.Decr(ctx, "k", 2) }, 6, true},
		{"decr floors at zero", func() (uint64, error) { return c.Decr(ctx, "k", 100) }, 0, true},
		{"decr creates at zero", func() (uint64, error) { return c.Decr(ctx, "d", 3) }, 0, true},
		{"get", func() (uint64, error) { return c.Get(ctx, "k") }, 0, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := s.op()
			require.NoError(t, err)
			assert.Equal(t, s.want, got)
		})
	}
	assert.Equal(t, "MH", rec.Story("k"))

	_, err = store.Set(ctx, "text", []byte("abc"), SetOptions{})
	require.NoError(t, err)
	_, err = c.Incr(ctx, "text", 1)
	require.ErrorIs(t, err, ErrNotNumber)
	_, err = c.Get(ctx, "text")
	require.ErrorIs(t, err, ErrNotNumber)
	_, err = c.Incr(ctx, "bad key", 1)
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = c.Incr(ctx, "k", 1<<63)
	require.ErrorIs(t, err, ErrDeltaTooLarge)
	_, err = c.Decr(ctx, "k", 1<<63)
	require.ErrorIs(t, err, ErrDeltaTooLarge)
	require.ErrorIs(t, NewStats(store, "st", StatsConfig{}).Incr(ctx, "a", 1<<63), ErrDeltaTooLarge)
	assert.Panics(t, func() { NewCounter(nil, CounterConfig{}) })
}

func TestCounterLoader(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	loads := 0
	db := map[string]uint64{"a": 100}
	c := NewCounter(store, CounterConfig{TTL: time.Minute, Load: func(_ context.Context, key string) (uint64, error) {
		loads++
		if key == "broken" {
			return 0, errors.New("db down")
		}
		return db[key], nil
	}})
	n, err := c.Get(ctx, "a")
	require.NoError(t, err)
	assert.EqualValues(t, 100, n, "Get seeds from Load")
	n, err = c.Incr(ctx, "a", 1)
	require.NoError(t, err)
	assert.EqualValues(t, 101, n)
	assert.Equal(t, 1, loads)

	n, err = c.Decr(ctx, "b", 1)
	require.NoError(t, err)
	assert.Zero(t, n)

	require.NoError(t, store.Delete(ctx, "a", DeleteOptions{}))
	n, err = c.Incr(ctx, "a", 10)
	require.NoError(t, err)
	assert.EqualValues(t, 110, n, "an evicted counter is reseeded, delta applied")

	_, err = c.Incr(ctx, "broken", 1)
	require.Error(t, err)
	_, err = c.Get(ctx, "broken")
	require.Error(t, err)

	it, found, err := store.Get(ctx, "a", GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, time.Minute, it.TTL, "seeded with the configured TTL")
}

func TestApplyDelta(t *testing.T) {
	tests := []struct {
		v    uint64
		d    int64
		want uint64
	}{{5, 3, 8}, {5, -3, 2}, {5, -9, 0}, {1<<64 - 1, 2, 1}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d%+d", tt.v, tt.d), func(t *testing.T) {
			assert.Equal(t, tt.want, applyDelta(tt.v, tt.d))
		})
	}
}

func BenchmarkCounterIncr(b *testing.B) {
	for _, keys := range []int{1, 1000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			ctx := context.Background()
			c := NewCounter(NewMemory(MemoryOptions{}), CounterConfig{})
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprintf("views:%d", i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Incr(ctx, names[i%keys], 1); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
