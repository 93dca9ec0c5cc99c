package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twine-go/twine/cachestruct"
)

func openTestSink(t *testing.T) *Sink {
	t.Helper()
	sink, err := OpenSink(context.Background(), filepath.Join(t.TempDir(), "views.sqlite"))
	require.NoError(t, err)
	t.Cleanup(func() { sink.Close() })
	return sink
}

func TestSinkIdempotentPerFlushID(t *testing.T) {
	ctx := context.Background()
	sink := openTestSink(t)
	hour := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	counts := []cachestruct.StatCount{{ID: "home", Hour: hour, N: 5}, {ID: "about", Hour: hour, N: 2}}
	require.NoError(t, sink.Add(ctx, "f1", counts))
	require.NoError(t, sink.Add(ctx, "f1", counts), "a retried flush")
	require.NoError(t, sink.Add(ctx, "f2", counts[:1]))
	n, err := sink.Total(ctx, "home")
	require.NoError(t, err)
	assert.EqualValues(t, 10, n)
	n, err = sink.Total(ctx, "about")
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
}

func TestFlushIntoSQLiteLosesNothing(t *testing.T) {
	const goroutines, hits = 8, 250
	ctx := context.Background()
	sink := openTestSink(t)
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{})
	stats := cachestruct.NewStats(store, "views", cachestruct.StatsConfig{})
	done := make(chan struct{})
	var flusher sync.WaitGroup
	flusher.Go(func() { // flushes while the hits arrive
		for {
			_, err := stats.Flush(ctx, sink)
			assert.NoError(t, err)
			select {
			case <-done:
				return
			default:
			}
		}
	})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range hits {
				assert.NoError(t, stats.Incr(ctx, "home", 1))
			}
		})
	}
	wg.Wait()
	close(done)
	flusher.Wait()
	_, err := stats.Flush(ctx, sink)
	require.NoError(t, err)
	n, err := sink.Total(ctx, "home")
	require.NoError(t, err)
	assert.EqualValues(t, goroutines*hits, n)
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	sink := openTestSink(t)
	out, err := os.Create(filepath.Join(t.TempDir(), "out.txt"))
	require.NoError(t, err)
	defer out.Close()
	require.NoError(t, run(ctx, cachestruct.NewMemory(cachestruct.MemoryOptions{}), sink, 500, 5, 100, out))
	b, err := os.ReadFile(out.Name())
	require.NoError(t, err)
	assert.Contains(t, string(b), "500 hits, 5 flushes")
	assert.Contains(t, string(b), "500 views in SQLite")
}
