package cachestruct

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twine-go/twine/internal/fnv"
)

// StatsConfig configures a Stats buffer. Its zero value is usable: the
// defaults are given per field.
type StatsConfig struct {
	// TTL is the life of a counter key and of the dirty lists; flush more
	// often than that or counts expire unflushed. Default 48 hours.
	TTL time.Duration
	// DirtyLists is the number of dirty-list keys, over which the ids are
	// spread by hash: more lists hold more distinct (id, hour) pairs
	// between two flushes (each list is one item, about 1 MiB on
	// memcached, some 40,000 pairs of short ids) and spread the appends
	// over the servers. Default 8.
	DirtyLists int
	// FlushTimeout is the TTL of the lock that keeps two Flush calls from
	// running at once; a Flush must finish within it. Default one minute.
	FlushTimeout time.Duration
	// Now returns the current time, which picks the hour of an increment.
	// Default time.Now.
	Now func() time.Time
}

// StatCount is a count of one id in one hour, moved by Stats.Flush.
type StatCount struct {
	// ID is what was counted (the id given to Stats.Incr).
	ID string
	// Hour is the start of the hour of the count, in UTC.
	Hour time.Time
	// N is the count to add to the durable total of (ID, Hour).
	N uint64
}

// Sink receives the counts a Stats buffer flushes, typically to add them to
// rows of a database table. Add must be idempotent per flushID: Flush
// retries a batch whose delivery or aftermath failed with the same flushID
// and the same counts, and a second Add of a flushID already applied must
// change nothing and return nil (store the applied flushIDs in the same
// transaction as the counts).
type Sink interface {
	Add(ctx context.Context, flushID string, counts []StatCount) error
}

// SinkFunc adapts a function to the Sink interface.
type SinkFunc func(ctx context.Context, flushID string, counts []StatCount) error

// Add calls f.
func (f SinkFunc) Add(ctx context.Context, flushID string, counts []StatCount) error {
	return f(ctx, flushID, counts)
}

// Stats buffers hit counts (per id and hour: views of an article, calls of
// an API key) in the store, so that each hit costs a memcached increment
// instead of a database write, and Flush moves the accumulated counts into
// a durable Sink in one batch. It is safe for concurrent use by multiple
// goroutines and processes; Flush calls exclude one another through a Lock.
//
// Keys: <prefix>:<id>:<YYYYMMDDHH> counters, dirty lists
// <prefix>:dirty:<i> of the counters that have something to flush,
// <prefix>:pending for the batch being flushed, and the lock
// <prefix>:flush. Incr costs one round trip, two when the counter was zero
// (it is then appended to its id's dirty list).
//
// Flush never loses an increment that arrives while it runs: it subtracts
// exactly the count it delivered (a decrement, not a delete, for the current
// hour), so increments made meanwhile stay for the next flush. It records
// the batch under <prefix>:pending before delivering it, so a Flush that
// failed or crashed is completed by the next one with the same flush id,
// which the Sink recognises; a per-counter marker keeps a counter from
// being subtracted twice. The one window left: a crash between a counter's
// marker and its decrement counts that counter's batch twice.
//
// A miss means the count was lost: a counter or a dirty list evicted, or
// their server lost, before a flush. Counts are data one would rather not
// lose, not data that must not be lost: flush often, give the store room.
//
// Create a Stats with NewStats; the zero value is not usable.
type Stats struct {
	store  Store
	prefix string
	cfg    StatsConfig
	lock   *Lock
}

// NewStats returns a stats buffer under prefix in store. It panics if store
// is nil or a duration or DirtyLists in cfg is negative.
func NewStats(store Store, prefix string, cfg StatsConfig) *Stats {
	if store == nil {
		panic("cachestruct: NewStats with a nil Store")
	}
	if cfg.TTL < 0 || cfg.FlushTimeout < 0 || cfg.DirtyLists < 0 {
		panic("cachestruct: NewStats with a negative duration or DirtyLists")
	}
	if cfg.DirtyLists == 0 {
		cfg.DirtyLists = 8
	}
	if cfg.TTL == 0 {
		cfg.TTL = 48 * time.Hour
	}
	if cfg.FlushTimeout == 0 {
		cfg.FlushTimeout = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Stats{store: store, prefix: prefix, cfg: cfg,
		lock: NewLock(store, prefix+":flush", LockConfig{TTL: cfg.FlushTimeout})}
}

// statHour is a time's hour number since the Unix epoch.
func statHour(t time.Time) int64 { return t.Unix() / 3600 }

// hourStart returns the start of hour number h, in UTC.
func hourStart(h int64) time.Time { return time.Unix(h*3600, 0).UTC() }

// readHour reads the varint hour number of a dirty list or batch; an hour
// whose start in seconds overflows an int64 makes f bad.
func readHour(f *frame) int64 {
	h := f.varint()
	if h > math.MaxInt64/3600 || h < math.MinInt64/3600 {
		f.fail()
	}
	return h
}

// counterKey returns the key of id's counter for hour number h.
func (s *Stats) counterKey(id string, h int64) string {
	return s.prefix + ":" + id + ":" + hourStart(h).Format("2006010215")
}

// Incr adds delta to id's count for the current hour. Errors are
// ErrDeltaTooLarge for a delta of 2^63 or more, and the store's
// (ErrInvalidKey for an id that does not make a valid key, ErrUnavailable,
// ctx errors). An error from the second round trip (the dirty list full or
// unreachable) comes after the count was made: that counter may then stay
// unflushed until it expires.
func (s *Stats) Incr(ctx context.Context, id string, delta uint64) error {
	if delta == 0 {
		return nil
	}
	if delta > math.MaxInt64 {
		return ErrDeltaTooLarge
	}
	h := statHour(s.cfg.Now())
	n, err := s.store.Incr(ctx, s.counterKey(id, h), int64(delta), IncrOptions{Vivify: true, Initial: delta, TTL: s.cfg.TTL})
	if err != nil || n != delta {
		return err
	}
	// The counter was zero or missing: nobody has it in the dirty list.
	return s.markDirty(ctx, id, h)
}

// dirtyKey returns the key of dirty list i.
func (s *Stats) dirtyKey(i int) string { return s.prefix + ":dirty:" + strconv.Itoa(i) }

// dirtyList returns the dirty list of id: FNV-1a of id modulo DirtyLists.
func (s *Stats) dirtyList(id string) int {
	return int(fnv.Sum32a(id) % uint32(s.cfg.DirtyLists))
}

// markDirty appends (id, h) to id's dirty list, creating it if missing.
func (s *Stats) markDirty(ctx context.Context, id string, h int64) error {
	b := binary.AppendVarint(appendField(nil, id), h)
	_, err := s.store.Set(ctx, s.dirtyKey(s.dirtyList(id)), b, SetOptions{Mode: ModeAppend, Vivify: true, TTL: s.cfg.TTL})
	return err
}

// flushSnapshotTries bounds the snapshot loop of Flush against a dirty list
// that keeps changing.
const flushSnapshotTries = 16

// Flush moves every buffered count into sink and returns how many counts it
// delivered (including those of a previous, unfinished flush). Concurrent
// Flush calls wait for one another. It panics if sink is nil. Errors: the
// sink's (the batch stays pending and the next Flush retries it), the
// store's, ErrCorrupt, and ctx's.
func (s *Stats) Flush(ctx context.Context, sink Sink) (int, error) {
	if sink == nil {
		panic("cachestruct: Stats.Flush with a nil Sink")
	}
	held, err := s.lock.Lock(ctx)
	if err != nil {
		return 0, err
	}
	// An unlock that fails leaves the lock to expire after FlushTimeout.
	defer func() { _ = held.Unlock(context.WithoutCancel(ctx)) }()

	moved := 0
	// 1. Finish a batch left pending by a failed or crashed flush.
	it, found, err := s.store.Get(ctx, s.prefix+":pending", GetOptions{})
	if err != nil {
		return 0, err
	}
	if found {
		id, counts, err := decodeBatch(it.Value)
		if err != nil {
			return 0, err
		}
		if err := s.finish(ctx, sink, id, counts); err != nil {
			return 0, err
		}
		moved += len(counts)
	}
	// 2. Each dirty list in turn, one pending batch at a time.
	for i := range s.cfg.DirtyLists {
		n, err := s.flushList(ctx, sink, s.dirtyKey(i))
		moved += n
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// flushList flushes the counters of one dirty list: it snapshots the list
// and the counts, records the batch as pending, removes the list (CAS:
// retry if it grew meanwhile), then delivers and subtracts the batch.
func (s *Stats) flushList(ctx context.Context, sink Sink, key string) (int, error) {
	for range flushSnapshotTries {
		dl, found, err := s.store.Get(ctx, key, GetOptions{})
		if err != nil || !found {
			return 0, err
		}
		counts, err := s.readCounts(ctx, dl.Value)
		if err != nil {
			return 0, err
		}
		id := strconv.FormatInt(s.cfg.Now().UnixNano(), 36) + "-" + strconv.FormatUint(rand.Uint64(), 36)
		if len(counts) > 0 {
			if _, err := s.store.Set(ctx, s.prefix+":pending", encodeBatch(id, counts), SetOptions{TTL: s.cfg.TTL}); err != nil {
				return 0, err
			}
		}
		err = s.store.Delete(ctx, key, DeleteOptions{CAS: dl.CAS})
		if errors.Is(err, ErrCASConflict) || errors.Is(err, ErrNotFound) {
			if len(counts) > 0 {
				if err := s.store.Delete(ctx, s.prefix+":pending", DeleteOptions{}); err != nil {
					return 0, err
				}
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		if len(counts) == 0 {
			return 0, nil
		}
		if err := s.finish(ctx, sink, id, counts); err != nil {
			return 0, err
		}
		return len(counts), nil
	}
	return 0, fmt.Errorf("cachestruct: stats dirty list %s kept changing during %d snapshots: %w", key, flushSnapshotTries, ErrCASConflict)
}

// statKey is a counter of a Stats: an id and an hour number.
type statKey struct {
	id string
	h  int64
}

// decodeDirty decodes a dirty list (records of uvarint length, id, varint
// hour number), without duplicates. It reports ErrCorrupt for anything
// else and never panics.
func decodeDirty(b []byte) ([]statKey, error) {
	seen := make(map[statKey]bool)
	var list []statKey
	for f := (frame{b: b}); f.more(); {
		id := string(f.field())
		k := statKey{id: id, h: readHour(&f)}
		if f.bad {
			return nil, ErrCorrupt
		}
		if !seen[k] {
			seen[k] = true
			list = append(list, k)
		}
	}
	return list, nil
}

// readCounts decodes a dirty list and reads its counters in one multi-get;
// duplicates, missing and zero counters are left out.
func (s *Stats) readCounts(ctx context.Context, dirty []byte) ([]StatCount, error) {
	list, err := decodeDirty(dirty)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	keys := make([]string, len(list))
	for i, k := range list {
		keys[i] = s.counterKey(k.id, k.h)
	}
	items, err := getMultiValues(ctx, s.store, keys)
	if err != nil {
		return nil, err
	}
	var counts []StatCount
	for i, k := range list {
		it, ok := items[keys[i]]
		if !ok {
			continue
		}
		n, err := parseCounter(it.Value)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			counts = append(counts, StatCount{ID: k.id, Hour: hourStart(k.h), N: n})
		}
	}
	return counts, nil
}

// finish delivers the batch id to the sink, subtracts each delivered count
// from its counter once (guarded by a marker per counter and batch), and
// drops the pending record.
func (s *Stats) finish(ctx context.Context, sink Sink, id string, counts []StatCount) error {
	if err := sink.Add(ctx, id, counts); err != nil {
		return err
	}
	cur := statHour(s.cfg.Now())
	for i, c := range counts {
		marker := s.prefix + ":done:" + id + ":" + strconv.Itoa(i)
		_, err := s.store.Set(ctx, marker, []byte{'1'}, SetOptions{Mode: ModeAdd, TTL: s.cfg.TTL})
		if errors.Is(err, ErrNotStored) {
			continue // subtracted by an earlier attempt
		}
		if err != nil {
			return err
		}
		h := statHour(c.Hour)
		key := s.counterKey(c.ID, h)
		if h >= cur {
			// Current hour: keep it listed before subtracting, so that a
			// crash in between cannot strand the increments made meanwhile.
			if err := s.markDirty(ctx, c.ID, h); err != nil {
				return err
			}
		}
		r, err := s.store.Incr(ctx, key, -int64(c.N), IncrOptions{})
		if errors.Is(err, ErrNotFound) {
			continue // evicted since: nothing left to subtract from
		}
		if err != nil {
			return err
		}
		switch {
		case h < cur && r == 0:
			s.dropIfZero(ctx, key)
		case h < cur:
			if err := s.markDirty(ctx, c.ID, h); err != nil {
				return err
			}
		}
	}
	err := s.store.Delete(ctx, s.prefix+":pending", DeleteOptions{})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// dropIfZero removes the counter of a finished hour if it is still zero:
// a late increment changed it otherwise, and its incrementer listed it
// again. Errors are ignored: the counter then expires with its TTL.
func (s *Stats) dropIfZero(ctx context.Context, key string) {
	it, ok, err := s.store.Get(ctx, key, GetOptions{})
	if err != nil || !ok {
		return
	}
	if v, err := parseCounter(it.Value); err == nil && v == 0 {
		_ = s.store.Delete(ctx, key, DeleteOptions{CAS: it.CAS})
	}
}

// batchMagic is the first byte of a pending batch.
const batchMagic = 0xB5

// encodeBatch encodes a pending batch: batchMagic, uvarint length and the
// flush id, uvarint count, then per count uvarint length and id, varint
// hour number and uvarint n.
func encodeBatch(id string, counts []StatCount) []byte {
	b := appendField([]byte{batchMagic}, id)
	b = binary.AppendUvarint(b, uint64(len(counts)))
	for _, c := range counts {
		b = appendField(b, c.ID)
		b = binary.AppendVarint(b, statHour(c.Hour))
		b = binary.AppendUvarint(b, c.N)
	}
	return b
}

// decodeBatch decodes what encodeBatch wrote; it reports ErrCorrupt for
// anything else and never panics.
func decodeBatch(b []byte) (string, []StatCount, error) {
	f := openFrame(b, batchMagic)
	id := string(f.field())
	n := f.count()
	counts := make([]StatCount, 0, n)
	for range n {
		c := StatCount{ID: string(f.field())}
		c.Hour = hourStart(readHour(&f))
		c.N = f.uvarint()
		counts = append(counts, c)
	}
	if f.bad || len(f.b) != 0 {
		return "", nil, ErrCorrupt
	}
	return id, counts, nil
}
