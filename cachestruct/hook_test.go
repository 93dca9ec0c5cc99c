package cachestruct

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// hookLog is a Hook that keeps the events.
type hookLog struct {
	mu     sync.Mutex
	events []OpEvent
}

func (l *hookLog) hook(e OpEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// summary returns "op key keys hits server outcome" per event.
func (l *hookLog) summary() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, fmt.Sprintf("%s %s %d %d %s %s", e.Op, e.Key, e.Keys, e.Hits, e.Server, e.Outcome()))
	}
	l.events = nil
	return out
}

// hookScript runs one of each operation and outcome on store.
func hookScript(t *testing.T, store Store) {
	ctx := context.Background()
	_, _, err := store.Get(ctx, "k", GetOptions{})
	require.NoError(t, err)
	_, err = store.Set(ctx, "k", []byte("v"), SetOptions{})
	require.NoError(t, err)
	_, _, err = store.Get(ctx, "k", GetOptions{})
	require.NoError(t, err)
	_, err = store.Set(ctx, "k", []byte("v"), SetOptions{Mode: ModeAdd})
	require.ErrorIs(t, err, ErrNotStored)
	_, err = store.Set(ctx, "k", []byte("v"), SetOptions{CAS: 1 << 60})
	require.ErrorIs(t, err, ErrCASConflict)
	_, err = store.GetMulti(ctx, []string{"k", "absent"})
	require.NoError(t, err)
	_, err = store.Incr(ctx, "k", 1, IncrOptions{})
	require.ErrorIs(t, err, ErrNotNumber)
	require.NoError(t, store.Delete(ctx, "k", DeleteOptions{}))
	require.ErrorIs(t, store.Delete(ctx, "k", DeleteOptions{}), ErrNotFound)
	_, err = store.Incr(ctx, "bad key", 1, IncrOptions{})
	require.ErrorIs(t, err, ErrInvalidKey)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = store.Get(cctx, "k", GetOptions{})
	require.ErrorIs(t, err, context.Canceled)
}

// hookScriptWant is what hookScript reports, with server as the server.
func hookScriptWant(server string) []string {
	return []string{
		"get k 1 0 " + server + " miss",
		"set k 1 0 " + server + " ok",
		"get k 1 1 " + server + " hit",
		"set k 1 0 " + server + " not_stored",
		"set k 1 0 " + server + " cas_conflict",
		"get_multi k 2 1 " + server + " ok",
		"incr k 1 0 " + server + " not_number",
		"delete k 1 0 " + server + " ok",
		"delete k 1 0 " + server + " not_found",
		"incr bad key 1 0  invalid_key", // refused before a server was chosen
		"get k 1 0 " + server + " canceled",
	}
}

func TestHookMemory(t *testing.T) {
	var log hookLog
	hookScript(t, NewMemory(MemoryOptions{Hook: log.hook}))
	assert.Equal(t, hookScriptWant(""), log.summary())
}

func TestHookMemcached(t *testing.T) {
	srv := memcachedtest.Start(t)
	var log hookLog
	m := newMemcachedStore(t, []string{srv.Addr()}, MemcachedOptions{Hook: log.hook})
	hookScript(t, m)
	want := hookScriptWant(srv.Addr())
	assert.Equal(t, want, log.summary())

	// A server that is down: the outcome is unavailable, the duration real.
	srv.Stop()
	_, _, err := m.Get(context.Background(), "k", GetOptions{})
	require.ErrorIs(t, err, ErrUnavailable)
	log.mu.Lock()
	e := log.events[0]
	log.mu.Unlock()
	assert.Equal(t, "unavailable", e.Outcome())
	assert.Positive(t, e.Duration)
}

// TestHookOutcome covers the outcomes the scripts do not reach.
func TestHookOutcome(t *testing.T) {
	tests := []struct {
		e    OpEvent
		want string
	}{
		{OpEvent{Op: OpSet, Err: ErrValueTooLarge}, "too_large"},
		{OpEvent{Op: OpGet, Err: fmt.Errorf("x: %w", context.DeadlineExceeded)}, "timeout"},
		{OpEvent{Op: OpGet, Err: errors.New("odd")}, "error"},
		{OpEvent{Op: OpIncr}, "ok"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.e.Outcome(), "%v", tt.e.Err)
	}
	assert.Equal(t, "unknown", Op(0).String())
	assert.Equal(t, "unknown", Op(99).String())
}

// TestHookAllocs: a store without a hook allocates nothing for it, even
// for a key built on the caller's stack (the hook's code must not make the
// key escape); with a hook the memory store copies the key, one
// allocation, and nothing else.
func TestHookAllocs(t *testing.T) {
	ctx := context.Background()
	value := []byte("value")
	id := 42
	for _, tc := range []struct {
		name string
		hook Hook
		want float64
	}{{"unset", nil, 0}, {"set", func(OpEvent) {}, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{Hook: tc.hook})
			_, err := m.Set(ctx, "k", value, SetOptions{})
			require.NoError(t, err)
			// "user:" + strconv.Itoa(id) is built on the stack unless the
			// key escapes.
			assert.Equal(t, tc.want, testing.AllocsPerRun(100, func() {
				_, _, _ = m.Get(ctx, "user:"+strconv.Itoa(id), GetOptions{})
			}), "get miss")
			assert.Equal(t, tc.want, testing.AllocsPerRun(100, func() {
				_ = m.Delete(ctx, "user:"+strconv.Itoa(id), DeleteOptions{})
			}), "delete miss")
			assert.Equal(t, tc.want, testing.AllocsPerRun(100, func() {
				_, _ = m.Incr(ctx, "user:"+strconv.Itoa(id), 1, IncrOptions{})
			}), "incr miss")
		})
	}
}

// BenchmarkHook is the paired benchmark of the hook's cost: the same
// memory store operations called without the hook's code at all
// ("baseline": the unexported operation the exported one wraps), with the
// hook unset, and with it set to a function that does nothing; the three
// run in turn, twice.
func BenchmarkHook(b *testing.B) {
	ctx := context.Background()
	value := []byte("value")
	type variant struct {
		name string
		hook Hook
		get  func(m *Memory) error
		set  func(m *Memory) error
	}
	viaStore := func(m *Memory) error { _, _, err := m.Get(ctx, "k", GetOptions{}); return err }
	setViaStore := func(m *Memory) error { _, err := m.Set(ctx, "k", value, SetOptions{}); return err }
	variants := []variant{
		{"baseline", nil,
			func(m *Memory) error { var it Item; _, err := m.get(ctx, "k", GetOptions{}, &it); return err },
			func(m *Memory) error { _, err := m.doSet(ctx, "k", value, SetOptions{}, false); return err }},
		{"hook=unset", nil, viaStore, setViaStore},
		{"hook=set", func(OpEvent) {}, viaStore, setViaStore},
	}
	for range 2 {
		for _, op := range []string{"get", "set"} {
			for _, v := range variants {
				m := NewMemory(MemoryOptions{Hook: v.hook})
				if _, err := m.Set(ctx, "k", value, SetOptions{}); err != nil {
					b.Fatal(err)
				}
				f := v.get
				if op == "set" {
					f = v.set
				}
				b.Run(op+"/"+v.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if err := f(m); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// TestServerEvents: OnServer hears one ejection when a real server stops
// answering (after EjectAfter failures), nothing for the failed probes,
// and one readmission when a probe succeeds after the restart.
func TestServerEvents(t *testing.T) {
	srv := memcachedtest.Start(t)
	clock := newFakeClock()
	var mu sync.Mutex
	var events []ServerEvent
	m := newMemcachedStore(t, []string{srv.Addr()}, MemcachedOptions{
		EjectAfter: 2, RetryAfter: time.Second, Now: clock.Now, Timeout: time.Second,
		OnServer: func(e ServerEvent) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		},
	})
	ctx := context.Background()
	get := func() error { _, _, err := m.Get(ctx, "k", GetOptions{}); return err }
	require.NoError(t, get())
	srv.Stop()
	require.ErrorIs(t, get(), ErrUnavailable)
	require.ErrorIs(t, get(), ErrUnavailable) // second failure: ejected
	require.Equal(t, []string{srv.Addr()}, m.Ejected())
	require.ErrorIs(t, get(), ErrUnavailable, "ejected: refused at once")
	clock.Advance(time.Second)
	require.ErrorIs(t, get(), ErrUnavailable) // a failed probe
	mu.Lock()
	require.Len(t, events, 1)
	assert.Equal(t, ServerEvent{Server: srv.Addr(), Ejected: true, Period: time.Second, Err: events[0].Err}, events[0])
	assert.ErrorIs(t, events[0].Err, ErrUnavailable)
	mu.Unlock()

	srv.Restart()
	clock.Advance(2 * time.Second)
	require.NoError(t, get()) // the probe succeeds
	require.Empty(t, m.Ejected())
	require.NoError(t, get())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 2)
	assert.Equal(t, ServerEvent{Server: srv.Addr()}, events[1])
}

func TestSlogAdapters(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hook := SlogHook(l, slog.LevelDebug)
	hook(OpEvent{Op: OpGet, Key: "k", Keys: 1, Hits: 1, Server: "s:1", Duration: time.Millisecond})
	hook(OpEvent{Op: OpSet, Key: "k", Keys: 1, Server: "s:1", Err: ErrUnavailable})
	on := SlogServerEvents(l)
	on(ServerEvent{Server: "s:1", Ejected: true, Period: time.Second, Err: ErrUnavailable})
	on(ServerEvent{Server: "s:1"})

	var recs []map[string]any
	for line := range strings.Lines(buf.String()) {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		delete(r, "time")
		recs = append(recs, r)
	}
	require.Len(t, recs, 4)
	assert.Equal(t, map[string]any{"level": "DEBUG", "msg": "cachestruct op", "op": "get", "key": "k", "server": "s:1", "duration": 1e6, "outcome": "hit"}, recs[0])
	assert.Equal(t, map[string]any{"level": "WARN", "msg": "cachestruct op", "op": "set", "key": "k", "server": "s:1", "duration": 0.0, "outcome": "unavailable", "error": ErrUnavailable.Error()}, recs[1])
	assert.Equal(t, map[string]any{"level": "WARN", "msg": "cachestruct server ejected", "server": "s:1", "period": 1e9, "error": ErrUnavailable.Error()}, recs[2])
	assert.Equal(t, map[string]any{"level": "INFO", "msg": "cachestruct server readmitted", "server": "s:1"}, recs[3])

	// A level the logger does not log costs nothing but the check.
	buf.Reset()
	SlogHook(slog.New(slog.NewJSONHandler(&buf, nil)), slog.LevelDebug)(OpEvent{Op: OpGet})
	assert.Empty(t, buf.String())
}
