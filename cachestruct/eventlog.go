package cachestruct

import (
	"context"
	"encoding/binary"
	"slices"
	"time"
)

// EventLogConfig configures an EventLog. Its zero value is usable: 60 chunks
// of one minute, the wall clock.
type EventLogConfig struct {
	// Chunk is the time span of one chunk key, a whole number of seconds.
	// Default one minute.
	Chunk time.Duration
	// Chunks is the size of the ring, at least 2. Default 60.
	Chunks int
	// Now returns the current time, the time stamp of appended events.
	// Default time.Now.
	Now func() time.Time
}

// Event is one entry of an EventLog.
type Event struct {
	// Time is when the event was appended, by the appender's clock.
	Time time.Time
	// Data is the event's payload.
	Data []byte
}

// EventLog is a log of recent events (the last hour of errors, logins,
// deploys...) kept in a ring of n self-expiring chunk keys <prefix>:<i>,
// i = (t / Chunk) mod n. Append adds one record to the current chunk in one
// round trip, by an append that creates the chunk if it is missing
// (Store.Set in ModeAppend with Vivify: append-else-add, atomic, so
// concurrent appenders never lose each other's records). A chunk is
// created with TTL (n−1)×Chunk, so it expires before the ring wraps back to
// it and the ring never mixes two turns. Range and Tail read the chunks in
// one multi-get and filter by time.
//
// A miss means that chunk had no events or was evicted (or was lost with its
// server): its events are gone, which is acceptable for a log of recent
// activity and is never an error. Events older than about n−2 chunks have
// expired. A chunk holds at most the store's item size (about 1 MiB on
// memcached): Append reports ErrValueTooLarge once it is full.
//
// EventLog is safe for concurrent use by multiple goroutines and processes.
//
// Create an EventLog with NewEventLog; the zero value is not usable.
type EventLog struct {
	slotRing // Chunks keys of Chunk each
	store    Store
	now      func() time.Time
}

// NewEventLog returns the event log under prefix in store. It panics if
// store is nil, if cfg.Chunk is not a positive whole number of seconds, or
// if cfg.Chunks is 1 or negative.
func NewEventLog(store Store, prefix string, cfg EventLogConfig) *EventLog {
	if store == nil {
		panic("cachestruct: NewEventLog with a nil Store")
	}
	if cfg.Chunks == 0 {
		cfg.Chunks = 60
	}
	if cfg.Chunks < 2 {
		panic("cachestruct: NewEventLog with fewer than 2 Chunks")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &EventLog{
		slotRing: newSlotRing(prefix, cfg.Chunk, cfg.Chunks, "NewEventLog with a Chunk"),
		store:    store, now: cfg.Now,
	}
}

// Append adds an event with data, time-stamped now, to the log. Errors are
// the store's (ErrInvalidKey for a bad prefix, ErrValueTooLarge when the
// chunk is full, ErrUnavailable, ctx errors).
func (l *EventLog) Append(ctx context.Context, data []byte) error {
	now := l.now()
	_, err := l.store.Set(ctx, l.slotKey(l.slot(now)), appendRecord(nil, now, data),
		SetOptions{Mode: ModeAppend, Vivify: true, TTL: time.Duration(l.n-1) * l.period})
	return err
}

// Range returns the events with from <= Time < to that are still in the
// log, oldest first (events of one time stamp in append order). Chunks
// older than the ring are not read.
func (l *EventLog) Range(ctx context.Context, from, to time.Time) ([]Event, error) {
	now := l.now()
	cur := l.slot(now)
	first, last := max(l.slot(from), cur-int64(l.n)+1), min(l.slot(to), cur)
	if !from.Before(to) || first > last {
		return nil, nil
	}
	keys := make([]string, 0, last-first+1)
	slots := make(map[string]int64, cap(keys))
	for s := first; s <= last; s++ {
		k := l.slotKey(s)
		keys = append(keys, k)
		slots[k] = s
	}
	items, err := getMultiValues(ctx, l.store, keys)
	if err != nil {
		return nil, err
	}
	var out []Event
	for _, k := range keys {
		it, ok := items[k]
		if !ok {
			continue
		}
		evs, err := decodeRecords(it.Value)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			// Keep the events of this turn of the ring and of the range.
			if l.slot(e.Time) == slots[k] && !e.Time.Before(from) && e.Time.Before(to) {
				out = append(out, e)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Tail returns the last n events still in the log (fewer if there are
// fewer), oldest first. It reads the whole ring in one multi-get.
func (l *EventLog) Tail(ctx context.Context, n int) ([]Event, error) {
	if n <= 0 {
		return nil, nil
	}
	now := l.now()
	evs, err := l.Range(ctx, now.Add(-time.Duration(l.n)*l.period), now.Add(time.Nanosecond))
	if err != nil || len(evs) <= n {
		return evs, err
	}
	return evs[len(evs)-n:], nil
}

// appendRecord appends one framed record to b: uvarint length of the body,
// then the body: varint Unix nanoseconds and the data.
func appendRecord(b []byte, t time.Time, data []byte) []byte {
	var ts [binary.MaxVarintLen64]byte
	n := binary.PutVarint(ts[:], t.UnixNano())
	b = binary.AppendUvarint(b, uint64(n+len(data)))
	b = append(b, ts[:n]...)
	return append(b, data...)
}

// decodeRecords parses a chunk of records written by appendRecord. It
// reports ErrCorrupt for anything else and never panics.
func decodeRecords(b []byte) ([]Event, error) {
	var out []Event
	for f := (frame{b: b}); f.more(); {
		body := frame{b: f.field()}
		ts := body.varint()
		if body.bad {
			return nil, ErrCorrupt
		}
		out = append(out, Event{Time: time.Unix(0, ts), Data: body.b})
	}
	return out, nil
}
