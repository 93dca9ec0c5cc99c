package cachestruct

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stData returns the payloads of evs as strings.
func stData(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Data)
	}
	return out
}

func TestEventLogRangeAndTail(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch)
	store := NewMemory(MemoryOptions{Now: clk.Now})
	l := NewEventLog(store, "log", EventLogConfig{Chunk: time.Minute, Chunks: 10, Now: clk.Now})
	for i := range 12 { // one event every 30s for 6 minutes
		require.NoError(t, l.Append(ctx, []byte("e"+strconv.Itoa(i))))
		clk.Advance(30 * time.Second)
	}
	tests := []struct {
		name     string
		from, to time.Duration
		want     []string
	}{
		{"all", 0, time.Hour, []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10", "e11"}},
		{"minute 2", 2 * time.Minute, 3 * time.Minute, []string{"e4", "e5"}},
		{"half-open", 30 * time.Second, 90 * time.Second, []string{"e1", "e2"}},
		{"empty", 3 * time.Minute, 3 * time.Minute, []string{}},
		{"future", time.Hour, 2 * time.Hour, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := l.Range(ctx, stEpoch.Add(tt.from), stEpoch.Add(tt.to))
			require.NoError(t, err)
			assert.Equal(t, tt.want, stData(evs))
		})
	}
	evs, err := l.Tail(ctx, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"e9", "e10", "e11"}, stData(evs))
	assert.True(t, stEpoch.Add(5*time.Minute+30*time.Second).Equal(evs[2].Time), "time stamp %v", evs[2].Time)
	evs, err = l.Tail(ctx, 100)
	require.NoError(t, err)
	assert.Len(t, evs, 12)
	evs, err = l.Tail(ctx, 0)
	require.NoError(t, err)
	assert.Empty(t, evs)
}

func TestEventLogRingExpires(t *testing.T) {
	ctx := context.Background()
	clk := newStClock(stEpoch)
	store := NewMemory(MemoryOptions{Now: clk.Now})
	const chunks = 4
	l := NewEventLog(store, "ring", EventLogConfig{Chunk: 10 * time.Second, Chunks: chunks, Now: clk.Now})
	require.NoError(t, l.Append(ctx, []byte("first")))
	// Each chunk lives (n−1)×Chunk = 30s: gone before the ring comes back.
	clk.Advance(29 * time.Second)
	evs, err := l.Tail(ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"first"}, stData(evs))
	clk.Advance(time.Second)
	evs, err = l.Tail(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, evs)
	clk.Advance(10 * time.Second) // back to the chunk index of "first"
	require.NoError(t, l.Append(ctx, []byte("second turn")))
	evs, err = l.Tail(ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"second turn"}, stData(evs), "the ring never mixes two turns")
}

func TestEventLogConfig(t *testing.T) {
	store := NewMemory(MemoryOptions{})
	for _, cfg := range []EventLogConfig{{Chunk: time.Millisecond}, {Chunks: 1}, {Chunks: -3}} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			assert.Panics(t, func() { NewEventLog(store, "l", cfg) })
		})
	}
	l := NewEventLog(store, "bad prefix", EventLogConfig{})
	require.ErrorIs(t, l.Append(context.Background(), []byte("x")), ErrInvalidKey)
	_, err := store.Set(context.Background(), "l:0", []byte{0xff}, SetOptions{})
	require.NoError(t, err)
	clk := newStClock(time.Unix(0, 0))
	_, err = NewEventLog(store, "l", EventLogConfig{Now: clk.Now}).Tail(context.Background(), 1)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestEventLogFullChunk(t *testing.T) {
	ctx := context.Background()
	store := NewMemory(MemoryOptions{MaxItemSize: 2048})
	l := NewEventLog(store, "full", EventLogConfig{})
	var err error
	for range 100 {
		if err = l.Append(ctx, make([]byte, 100)); err != nil {
			break
		}
	}
	require.Error(t, err, "a full chunk refuses appends")
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(appendRecord(appendRecord(nil, stEpoch, []byte("a")), stEpoch.Add(time.Second), nil))
	f.Add([]byte{0x05, 0x01})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := decodeRecords(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		var re []byte
		for _, e := range evs {
			re = appendRecord(re, e.Time, e.Data)
		}
		evs2, err := decodeRecords(re)
		require.NoError(t, err)
		require.Len(t, evs2, len(evs))
		for i := range evs {
			assert.True(t, evs[i].Time.Equal(evs2[i].Time))
			assert.Equal(t, string(evs[i].Data), string(evs2[i].Data))
		}
	})
}
