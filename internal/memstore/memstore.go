// Package memstore is an in-memory key-value store with memcached 1.6's
// semantics: whole-second TTLs, CAS values, add/replace/append/prepend,
// leases, recache and stale items, counters, bounded by a sharded LRU on
// memory. cachestruct's NewMemory is its public face; the Store there
// documents the behaviour users see.
package memstore

import (
	"errors"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// Errors reported by the Store's methods. Each method names the ones it
// returns.
var (
	// ErrInvalidKey reports a key that memcached's key rule refuses.
	ErrInvalidKey = errors.New("memstore: invalid key")
	// ErrValueTooLarge reports an item larger than the item size or than
	// a shard's share of MaxBytes.
	ErrValueTooLarge = errors.New("memstore: value too large")
	// ErrNotFound reports a missing item where one is required.
	ErrNotFound = errors.New("memstore: not found")
	// ErrNotStored reports a write whose mode's condition failed.
	ErrNotStored = errors.New("memstore: not stored")
	// ErrCASConflict reports that the item's CAS differs from the one given.
	ErrCASConflict = errors.New("memstore: cas conflict")
	// ErrNotNumber reports Incr on a value that is not a decimal number.
	ErrNotNumber = errors.New("memstore: value is not a number")
)

// NoExpiry is the Item.TTL of an item that never expires.
const NoExpiry time.Duration = -1

// Item is an item as read: its fields mean what cachestruct.Item's do.
type Item struct {
	Value []byte
	Flags uint32
	CAS   uint64
	TTL   time.Duration
	Won   bool
	Stale bool
	Busy  bool
}

// GetOptions are Get's options: a lease TTL for a miss, and the TTL left
// under which the first reader wins the right to recompute.
type GetOptions struct {
	Lease   time.Duration
	Recache time.Duration
}

// Mode selects how Set treats an existing or missing item.
type Mode uint8

// The modes of Set, as memcached's set, add, replace, append and prepend.
const (
	ModeSet Mode = iota
	ModeAdd
	ModeReplace
	ModeAppend
	ModePrepend
)

// SetOptions are Set's options; Vivify makes append and prepend create a
// missing item.
type SetOptions struct {
	Mode   Mode
	TTL    time.Duration
	Flags  uint32
	CAS    uint64
	Vivify bool
}

// DeleteOptions are Delete's options; Invalidate marks the item stale
// instead of removing it, and TTL then replaces its TTL.
type DeleteOptions struct {
	CAS        uint64
	Invalidate bool
	TTL        time.Duration
}

// IncrOptions are Incr's options; Vivify creates a missing counter with
// value Initial and TTL TTL.
type IncrOptions struct {
	Vivify  bool
	Initial uint64
	TTL     time.Duration
}

// Options configure New. Zero fields mean the defaults: 64 MiB, memcached's
// 1 MiB item size, text keys only, time.Now.
type Options struct {
	MaxBytes    int64
	MaxItemSize int
	BinaryKeys  bool
	Now         func() time.Time
}

const (
	// defaultMaxBytes is Options.MaxBytes when zero.
	defaultMaxBytes = 64 << 20
	// entryOverhead is what an item is charged against MaxBytes on top of
	// its key and value: its entry (64 bytes), its table slot and the
	// allocation's rounding.
	entryOverhead = 128
	// maxShards is the most shards a Store uses; each has its own lock,
	// hash table and LRU list.
	maxShards = 16
)

// Store is the in-memory store. It starts no goroutines: expired items are
// dropped when they are touched or reach the cold end of the LRU. It is
// safe for concurrent use by multiple goroutines. Create it with New; the
// zero value is not usable.
type Store struct {
	// Read by every operation, written only by New.
	now         func() time.Time
	maxItemSize int
	binaryKeys  bool
	seed        maphash.Seed
	mask        uint64
	shards      []shard

	// Padding: the CAS counter, written by every write, has cache lines of
	// its own, off the line every operation reads. Kept: mixed gets and
	// sets on two cores are slower without it (BENCHMARKS.md).
	_   [64]byte
	cas atomic.Uint64
	_   [56]byte
}

// New returns an empty Store. The items are spread over up to 16 shards,
// each with its own lock and an LRU bounded by an equal share of
// MaxBytes; the number of shards is the largest power of two that still
// leaves each shard at least four times MaxItemSize. New panics if
// MaxBytes or MaxItemSize is negative.
func New(opts Options) *Store {
	if opts.MaxBytes < 0 || opts.MaxItemSize < 0 {
		panic("memstore: New with a negative MaxBytes or MaxItemSize")
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	if opts.MaxItemSize == 0 {
		opts.MaxItemSize = memcache.DefaultMaxItemSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := 1
	for n < maxShards && opts.MaxBytes/int64(2*n) >= 4*int64(opts.MaxItemSize) {
		n *= 2
	}
	s := &Store{
		now:         opts.Now,
		maxItemSize: opts.MaxItemSize,
		binaryKeys:  opts.BinaryKeys,
		seed:        maphash.MakeSeed(),
		mask:        uint64(n - 1),
		shards:      make([]shard, n),
	}
	for i := range s.shards {
		s.shards[i].init(opts.MaxBytes / int64(n))
	}
	return s
}

// CheckKey reports ErrInvalidKey for a key the store does not accept. The
// rule is the memcached client's, so that both backends accept the same
// keys.
func (s *Store) CheckKey(key string) error {
	if memcache.CheckKey(key, s.binaryKeys) != nil {
		return ErrInvalidKey
	}
	return nil
}

// CheckSet reports the error Set would report for key and value before
// looking at the stored items: ErrInvalidKey, ErrValueTooLarge or nil.
func (s *Store) CheckSet(key string, value []byte, flags uint32) error {
	if err := s.CheckKey(key); err != nil {
		return err
	}
	if !s.fits(s.shardOf(s.hash(key)), len(key), len(value), flags) {
		return ErrValueTooLarge
	}
	return nil
}

// hash returns key's hash: its low bits pick the shard, its high bits the
// slot in the shard's table.
func (s *Store) hash(key string) uint64 { return maphash.String(s.seed, key) }

// shardOf returns the shard that holds a key of hash h.
func (s *Store) shardOf(h uint64) *shard { return &s.shards[h&s.mask] }

// nextCAS returns a fresh CAS value: unique and increasing over the store.
func (s *Store) nextCAS() uint64 { return s.cas.Add(1) }

// fits reports whether an item fits both the item size and the shard.
func (s *Store) fits(sh *shard, keyLen, valueLen int, flags uint32) bool {
	return memcache.ItemSize(keyLen, valueLen, flags) <= s.maxItemSize &&
		int64(keyLen)+int64(valueLen)+entryOverhead <= sh.limit
}

// badLength reports whether key's length alone makes it invalid: Get,
// Set, Incr and Delete check that much before hashing a key, and its
// bytes only when it is not found in the store (a stored key was valid).
// Kept: checking every key's bytes first slows hits (BENCHMARKS.md).
func badLength(key string) bool {
	return len(key) == 0 || len(key) > memcache.MaxKeyLen
}
