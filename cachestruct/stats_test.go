package cachestruct

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stSink is an idempotent Sink over a map, as a SQL table with a table of
// applied flush ids would be. failBefore fails the next Add before applying
// it; failAfter applies it and then reports an error (a lost commit reply).
type stSink struct {
	mu         sync.Mutex
	applied    map[string]bool
	totals     map[string]uint64
	calls      int
	failBefore bool
	failAfter  bool
	during     func() // runs inside Add, as concurrent increments would
}

func newStSink() *stSink {
	return &stSink{applied: map[string]bool{}, totals: map[string]uint64{}}
}

func (s *stSink) Add(_ context.Context, flushID string, counts []StatCount) error {
	s.mu.Lock()
	during := s.during
	s.calls++
	if s.failBefore {
		s.failBefore = false
		s.mu.Unlock()
		return errors.New("sink down")
	}
	if !s.applied[flushID] {
		s.applied[flushID] = true
		for _, c := range counts {
			s.totals[c.ID+"@"+c.Hour.Format("15")] += c.N
		}
	}
	fail := s.failAfter
	s.failAfter = false
	s.mu.Unlock()
	if during != nil {
		during()
	}
	if fail {
		return errors.New("reply lost after commit")
	}
	return nil
}

func (s *stSink) total(key string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totals[key]
}

func TestStatsFlush(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch.Add(15 * time.Minute)) // 10:15
	store := NewMemory(MemoryOptions{Now: clk.Now})
	st := NewStats(store, "st", StatsConfig{Now: clk.Now})
	for _, id := range []string{"a", "a", "b", "a"} {
		require.NoError(t, st.Incr(ctx, id, 1))
	}
	require.NoError(t, st.Incr(ctx, "b", 0))
	sink := newStSink()
	n, err := st.Flush(ctx, sink)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.EqualValues(t, 3, sink.total("a@10"))
	assert.EqualValues(t, 1, sink.total("b@10"))

	n, err = st.Flush(ctx, sink)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing new to flush")

	require.NoError(t, st.Incr(ctx, "a", 2))
	n, err = st.Flush(ctx, sink)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.EqualValues(t, 5, sink.total("a@10"))
}

func TestStatsDirtyLists(t *testing.T) {
	for _, lists := range []int{1, 3, 16} {
		t.Run(fmt.Sprintf("lists=%d", lists), func(t *testing.T) {
			ctx := context.Background()
			clk := newStClock(stEpoch)
			store := NewMemory(MemoryOptions{Now: clk.Now})
			st := NewStats(store, "st", StatsConfig{DirtyLists: lists, Now: clk.Now})
			for i := range 100 {
				require.NoError(t, st.Incr(ctx, fmt.Sprint("id", i), uint64(i+1)))
			}
			used := 0
			for i := range lists {
				if _, found, _ := store.Get(ctx, st.dirtyKey(i), GetOptions{}); found {
					used++
				}
			}
			assert.Equal(t, lists, used, "the ids are spread over every list")
			sink := newStSink()
			n, err := st.Flush(ctx, sink)
			require.NoError(t, err)
			assert.Equal(t, 100, n)
			for i := range 100 {
				assert.EqualValues(t, i+1, sink.total(fmt.Sprint("id", i, "@10")))
			}
			assert.Equal(t, lists, len(sink.applied), "one batch per list")
		})
	}
	assert.Panics(t, func() { NewStats(NewMemory(MemoryOptions{}), "st", StatsConfig{DirtyLists: -1}) })
}

func TestStatsIncrementsDuringFlushSurvive(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch.Add(15 * time.Minute))
	store := NewMemory(MemoryOptions{Now: clk.Now})
	st := NewStats(store, "st", StatsConfig{Now: clk.Now})
	require.NoError(t, st.Incr(ctx, "a", 3))
	sink := newStSink()
	sink.during = func() { assert.NoError(t, st.Incr(ctx, "a", 5)) } // arrives mid-flush
	_, err := st.Flush(ctx, sink)
	require.NoError(t, err)
	assert.EqualValues(t, 3, sink.total("a@10"))
	sink.during = nil
	_, err = st.Flush(ctx, sink)
	require.NoError(t, err)
	assert.EqualValues(t, 8, sink.total("a@10"), "the increment made during the flush was kept")
}

func TestStatsPastHourIsDeleted(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch.Add(59 * time.Minute))
	store := NewMemory(MemoryOptions{Now: clk.Now})
	st := NewStats(store, "st", StatsConfig{Now: clk.Now})
	require.NoError(t, st.Incr(ctx, "a", 4))
	clk.Advance(2 * time.Minute) // 11:01
	require.NoError(t, st.Incr(ctx, "a", 1))
	sink := newStSink()
	n, err := st.Flush(ctx, sink)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.EqualValues(t, 4, sink.total("a@10"))
	assert.EqualValues(t, 1, sink.total("a@11"))
	_, found, err := store.Get(ctx, "st:a:2026112310", GetOptions{})
	require.NoError(t, err)
	assert.False(t, found, "the finished hour's counter is removed")
	it, found, err := store.Get(ctx, "st:a:2026112311", GetOptions{})
	require.NoError(t, err)
	require.True(t, found, "the current hour's counter is decremented, not removed")
	assert.Equal(t, "0", string(it.Value))
}

func TestStatsFlushIdempotent(t *testing.T) {
	tests := []struct {
		name                  string
		failBefore, failAfter bool
	}{
		{"sink fails before applying", true, false},
		{"reply lost after applying", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newStClock(stEpoch.Add(15 * time.Minute))
			store := NewMemory(MemoryOptions{Now: clk.Now})
			st := NewStats(store, "st", StatsConfig{Now: clk.Now})
			require.NoError(t, st.Incr(ctx, "a", 7))
			sink := newStSink()
			sink.failBefore, sink.failAfter = tt.failBefore, tt.failAfter
			_, err := st.Flush(ctx, sink)
			require.Error(t, err)
			require.NoError(t, st.Incr(ctx, "a", 1)) // between the failed and the next flush

			for range 3 {
				_, err = st.Flush(ctx, sink)
				require.NoError(t, err)
			}
			assert.EqualValues(t, 8, sink.total("a@10"), "counted once despite the retry")
			assert.Len(t, sink.applied, 2, "the retry reused the failed batch's flush id")
		})
	}
}

func TestStatsBadInput(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{})
	st := NewStats(store, "st", StatsConfig{})
	require.ErrorIs(t, st.Incr(ctx, "bad id", 1), ErrInvalidKey)
	assert.Panics(t, func() { _, _ = st.Flush(ctx, nil) })
	assert.Panics(t, func() { NewStats(nil, "st", StatsConfig{}) })
	assert.Panics(t, func() { NewStats(store, "st", StatsConfig{TTL: -1}) })
	_, err := store.Set(ctx, "st:pending", []byte("junk"), SetOptions{})
	require.NoError(t, err)
	_, err = st.Flush(ctx, newStSink())
	require.ErrorIs(t, err, ErrCorrupt)
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch("id-1", []StatCount{{ID: "a", Hour: stEpoch, N: 3}, {ID: "b", Hour: stEpoch.Add(-time.Hour), N: 1 << 40}}))
	f.Add(encodeBatch("", nil))
	f.Add([]byte{batchMagic, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, counts, err := decodeBatch(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		id2, counts2, err := decodeBatch(encodeBatch(id, counts))
		require.NoError(t, err)
		assert.Equal(t, id, id2)
		assert.Equal(t, counts, counts2)
	})
}

func FuzzDecodeDirty(f *testing.F) {
	f.Add([]byte{1, 'a', 2, 1, 'a', 2, 2, 'b', 'c', 0x80, 0x01})
	f.Add([]byte{5, 'a'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := decodeDirty(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		seen := map[statKey]bool{}
		for _, k := range list {
			require.False(t, seen[k], "duplicate %v", k)
			seen[k] = true
		}
	})
}
