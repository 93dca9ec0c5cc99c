package cachestruct

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// Op names a Store operation, for a Hook.
type Op uint8

// The operations reported to a Hook.
const (
	OpGet Op = iota + 1
	OpGetMulti
	OpSet
	OpDelete
	OpIncr
)

var opNames = [...]string{OpGet: "get", OpGetMulti: "get_multi", OpSet: "set", OpDelete: "delete", OpIncr: "incr"}

// String returns the operation's name in lower case: "get", "get_multi",
// "set", "delete" or "incr".
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "unknown"
}

// OpEvent describes one finished Store operation.
type OpEvent struct {
	Op Op
	// Key is the operation's key; for OpGetMulti the first key (Keys
	// says how many there were).
	Key string
	// Keys is the number of keys: 1, or for OpGetMulti len(keys).
	Keys int
	// Hits is the number of items read (Get and GetMulti).
	Hits int
	// Server is the memcached server that was asked ("host:port"), or ""
	// on the memory store, for an operation refused before a server was
	// chosen (an invalid key, every candidate ejected), and for a GetMulti
	// on a store of several servers.
	Server string
	// Duration is the operation's wall time, validation included.
	Duration time.Duration
	// Err is the operation's error, nil on success (a miss is a success).
	Err error
}

// Outcome classifies the event for metrics labels: "hit" or "miss" for a
// successful Get, "ok" for other successes; for failures "not_found",
// "not_stored", "cas_conflict", "not_number", "invalid_key", "too_large",
// "canceled", "timeout" (ctx's deadline), "unavailable" (ErrUnavailable)
// or "error".
func (e OpEvent) Outcome() string {
	err := e.Err
	switch {
	case err == nil && e.Op == OpGet && e.Hits == 0:
		return "miss"
	case err == nil && e.Op == OpGet:
		return "hit"
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrNotStored):
		return "not_stored"
	case errors.Is(err, ErrCASConflict):
		return "cas_conflict"
	case errors.Is(err, ErrNotNumber):
		return "not_number"
	case errors.Is(err, ErrInvalidKey):
		return "invalid_key"
	case errors.Is(err, ErrValueTooLarge):
		return "too_large"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// Hook receives an OpEvent after every operation of a store built with it
// (MemoryOptions.Hook, MemcachedOptions.Hook): for metrics, tracing or
// logs. It runs synchronously on the goroutine that called the operation,
// after the operation, so it must be quick, must not call the store, and
// must be safe for concurrent use. It may keep the event (Key included).
//
// A store without a hook pays one nil check per operation: no clock read
// and no allocation (see BenchmarkHook and
// TestHookAllocs). With a hook, an operation also reads the clock twice,
// and on the memory store copies the key (one allocation).
type Hook func(OpEvent)

// SlogHook returns a Hook that logs every operation to l: at level for
// successes, misses and the conditional failures a caller expects
// (not_found, not_stored, cas_conflict), and at slog.LevelWarn for the
// rest. The record's message is "cachestruct op" and its attributes op,
// key, server, duration and outcome (and error when there is one).
// Operations whose level l does not log cost one Enabled call.
func SlogHook(l *slog.Logger, level slog.Level) Hook {
	return func(e OpEvent) {
		out := e.Outcome()
		lv := level
		switch out {
		case "hit", "miss", "ok", "not_found", "not_stored", "cas_conflict":
		default:
			lv = slog.LevelWarn
		}
		ctx := context.Background()
		if !l.Enabled(ctx, lv) {
			return
		}
		attrs := []slog.Attr{
			slog.String("op", e.Op.String()),
			slog.String("key", e.Key),
			slog.String("server", e.Server),
			slog.Duration("duration", e.Duration),
			slog.String("outcome", out),
		}
		if e.Err != nil {
			attrs = append(attrs, slog.String("error", e.Err.Error()))
		}
		l.LogAttrs(ctx, lv, "cachestruct op", attrs...)
	}
}

// SlogServerEvents returns a MemcachedOptions.OnServer callback that logs
// ejections at slog.LevelWarn ("cachestruct server ejected", with server,
// period and error) and readmissions at slog.LevelInfo ("cachestruct server
// readmitted", with server).
func SlogServerEvents(l *slog.Logger) func(ServerEvent) {
	return func(e ServerEvent) {
		ctx := context.Background()
		if e.Ejected {
			l.LogAttrs(ctx, slog.LevelWarn, "cachestruct server ejected",
				slog.String("server", e.Server), slog.Duration("period", e.Period), slog.Any("error", e.Err))
			return
		}
		l.LogAttrs(ctx, slog.LevelInfo, "cachestruct server readmitted", slog.String("server", e.Server))
	}
}

// The hooked operations of Memory: the operation, timed and reported.
// They are not inlined, so that the operations stay small for stores
// without a hook, and they give the hook a copy of the key: the
// hook is a function the compiler cannot see into, so the key passed to
// it escapes, and without the copy every caller's key would escape, hook
// or not (a key built on the caller's stack would then be allocated).

//go:noinline
func (m *Memory) hookGet(ctx context.Context, key string, opt GetOptions) (Item, bool, error) {
	start := time.Now()
	var it Item
	found, err := m.get(ctx, key, opt, &it)
	m.hook(OpEvent{Op: OpGet, Key: strings.Clone(key), Keys: 1, Hits: b2i(found), Duration: time.Since(start), Err: err})
	return it, found, err
}

//go:noinline
func (m *Memory) hookGetMulti(ctx context.Context, keys []string) (map[string]Item, error) {
	start := time.Now()
	items, err := m.doGetMulti(ctx, keys, false)
	m.hook(OpEvent{Op: OpGetMulti, Key: strings.Clone(firstKey(keys)), Keys: len(keys), Hits: len(items), Duration: time.Since(start), Err: err})
	return items, err
}

//go:noinline
func (m *Memory) hookSet(ctx context.Context, key string, value []byte, opt SetOptions) (uint64, error) {
	start := time.Now()
	cas, err := m.doSet(ctx, key, value, opt, false)
	m.hook(OpEvent{Op: OpSet, Key: strings.Clone(key), Keys: 1, Duration: time.Since(start), Err: err})
	return cas, err
}

//go:noinline
func (m *Memory) hookDelete(ctx context.Context, key string, opt DeleteOptions) error {
	start := time.Now()
	err := m.doDelete(ctx, key, opt, false)
	m.hook(OpEvent{Op: OpDelete, Key: strings.Clone(key), Keys: 1, Duration: time.Since(start), Err: err})
	return err
}

//go:noinline
func (m *Memory) hookIncr(ctx context.Context, key string, delta int64, opt IncrOptions) (uint64, error) {
	start := time.Now()
	n, err := m.doIncr(ctx, key, delta, opt, false)
	m.hook(OpEvent{Op: OpIncr, Key: strings.Clone(key), Keys: 1, Duration: time.Since(start), Err: err})
	return n, err
}

// The hooked operations of Memcached.

//go:noinline
func (m *Memcached) hookGet(ctx context.Context, key string, opt GetOptions) (Item, bool, error) {
	start := time.Now()
	var srv string
	it, found, err := m.get(ctx, key, opt, &srv)
	m.hook(OpEvent{Op: OpGet, Key: key, Keys: 1, Hits: b2i(found), Server: srv, Duration: time.Since(start), Err: err})
	return it, found, err
}

//go:noinline
func (m *Memcached) hookGetMulti(ctx context.Context, keys []string, plain bool) (map[string]Item, error) {
	start := time.Now()
	items, err := m.getMultiKeys(ctx, keys, plain)
	var srv string
	if len(m.list) == 1 {
		srv = m.list[0].addr
	}
	m.hook(OpEvent{Op: OpGetMulti, Key: firstKey(keys), Keys: len(keys), Hits: len(items), Server: srv, Duration: time.Since(start), Err: err})
	return items, err
}

//go:noinline
func (m *Memcached) hookSet(ctx context.Context, key string, value []byte, opt SetOptions) (uint64, error) {
	start := time.Now()
	var srv string
	cas, err := m.set(ctx, key, value, opt, &srv)
	m.hook(OpEvent{Op: OpSet, Key: key, Keys: 1, Server: srv, Duration: time.Since(start), Err: err})
	return cas, err
}

//go:noinline
func (m *Memcached) hookDelete(ctx context.Context, key string, opt DeleteOptions) error {
	start := time.Now()
	var srv string
	err := m.delete(ctx, key, opt, &srv)
	m.hook(OpEvent{Op: OpDelete, Key: key, Keys: 1, Server: srv, Duration: time.Since(start), Err: err})
	return err
}

//go:noinline
func (m *Memcached) hookIncr(ctx context.Context, key string, delta int64, opt IncrOptions) (uint64, error) {
	start := time.Now()
	var srv string
	n, err := m.incr(ctx, key, delta, opt, &srv)
	m.hook(OpEvent{Op: OpIncr, Key: key, Keys: 1, Server: srv, Duration: time.Since(start), Err: err})
	return n, err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func firstKey(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}
