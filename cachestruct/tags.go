package cachestruct

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"
)

// TagsConfig configures a Tags cache. Its zero value is usable: tag keys
// under "tag:", no local version cache, the wall clock.
type TagsConfig struct {
	// Prefix is prepended to a tag's name to make its key. Default "tag:".
	Prefix string
	// LocalTTL, when positive, keeps the versions of tags read from the
	// store in a per-process cache for that long, so that a Get whose tags
	// are all cached costs a single get of the entry. The price: an
	// invalidation made by another process is seen up to LocalTTL late
	// (this process's own invalidations are seen at once).
	LocalTTL time.Duration
	// Now returns the current time: the seed of new tag versions and the
	// clock of the local cache. Default time.Now.
	Now func() time.Time
	// Observer, when not nil, receives LetterHit or LetterMiss for every
	// Get and LetterWritten for every Set.
	Observer Observer
}

// TagVersions are the versions of some tags at one moment, as Tags.Versions
// returns them; an entry stored with them is valid while every tag still
// has that version.
type TagVersions map[string]uint64

// Tags is a tagged cache: each entry depends on a set of tags, and
// invalidating a tag makes every entry that depends on it miss, without
// knowing which entries those are. It is safe for concurrent use by
// multiple goroutines and processes sharing the store.
//
// Each tag has a version stored under its own key. An entry is stored with
// the versions its tags had when its value was computed, and Get returns it
// only if every tag still has that version; Invalidate bumps a tag's
// version by one (Store.Incr). A missing tag is created with the current
// time in nanoseconds as its version, so versions never repeat after a tag
// key is evicted or deleted: a counter restarting at 1 would make entries
// stored long ago valid again. (It holds as long as a tag is invalidated
// fewer times than nanoseconds elapse between its two lives.)
//
// Misses: Get misses when the entry is missing or expired, when one of its
// tags was invalidated, and when one of its tags is missing (evicted or
// deleted): an evicted tag invalidates its entries, it never resurrects
// them. A miss is not an error.
//
// Cost: Get fetches the entry and the versions of the tags it is given in
// one Store.GetMulti (one round trip per server); tags stored with the
// entry but not given cost a second GetMulti. TagsConfig.LocalTTL saves the
// tag lookups altogether for a while.
//
// Create a Tags with NewTags; the zero value is not usable.
type Tags struct {
	store Store
	cfg   TagsConfig

	mu    sync.Mutex
	local map[string]localVersion
}

// localVersionsMax bounds the local version cache of a Tags.
const localVersionsMax = 1 << 16

// localVersion is a tag version cached by this process until exp.
type localVersion struct {
	v   uint64
	exp time.Time
}

// NewTags returns a tagged cache over store. It panics if store is nil or
// cfg.LocalTTL is negative.
func NewTags(store Store, cfg TagsConfig) *Tags {
	if store == nil {
		panic("cachestruct: NewTags with a nil Store")
	}
	if cfg.LocalTTL < 0 {
		panic("cachestruct: NewTags with a negative LocalTTL")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tag:"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Tags{store: store, cfg: cfg, local: make(map[string]localVersion)}
}

// tagKey returns the key of tag.
func (t *Tags) tagKey(tag string) string { return t.cfg.Prefix + tag }

// cached returns the locally cached version of tag.
func (t *Tags) cached(tag string, now time.Time) (uint64, bool) {
	if t.cfg.LocalTTL == 0 {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	lv, ok := t.local[tag]
	if !ok || !now.Before(lv.exp) {
		return 0, false
	}
	return lv.v, true
}

// remember caches the version of tag.
func (t *Tags) remember(tag string, v uint64, now time.Time) {
	if t.cfg.LocalTTL == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.local) >= localVersionsMax { // bound the map: drop what expired
		for k, lv := range t.local {
			if !now.Before(lv.exp) {
				delete(t.local, k)
			}
		}
		if len(t.local) >= localVersionsMax {
			clear(t.local) // all fresh: start over rather than grow
		}
	}
	t.local[tag] = localVersion{v: v, exp: now.Add(t.cfg.LocalTTL)}
}

// Versions returns the current versions of tags, creating missing tags
// (with the current time in nanoseconds, by an add of which one concurrent
// caller wins). Take the versions before computing a value and store it
// with SetVersions: an invalidation that happens while the value is being
// computed then makes the new entry miss, as it should.
func (t *Tags) Versions(ctx context.Context, tags ...string) (TagVersions, error) {
	now := t.cfg.Now()
	vs := make(TagVersions, len(tags))
	var keys []string
	for _, tag := range tags {
		if v, ok := t.cached(tag, now); ok {
			vs[tag] = v
		} else {
			keys = append(keys, t.tagKey(tag))
		}
	}
	if len(keys) == 0 {
		return vs, nil
	}
	items, err := getMultiValues(ctx, t.store, keys)
	if err != nil {
		return nil, err
	}
	for _, tag := range tags {
		if _, ok := vs[tag]; ok {
			continue
		}
		it, ok := items[t.tagKey(tag)]
		var v uint64
		if ok {
			if v, err = parseVersion(it.Value); err != nil {
				return nil, err
			}
		} else if v, err = t.seed(ctx, tag, now); err != nil {
			return nil, err
		}
		vs[tag] = v
		t.remember(tag, v, now)
	}
	return vs, nil
}

// seed creates the missing tag with the time as its version, or reads the
// version another caller created first.
func (t *Tags) seed(ctx context.Context, tag string, now time.Time) (uint64, error) {
	key := t.tagKey(tag)
	missing := true // Versions found it so: the first turn adds at once
	get := func() (uint64, bool, error) {
		if missing {
			missing = false
			return 0, false, nil
		}
		it, found, err := t.store.Get(ctx, key, GetOptions{})
		if err != nil || !found {
			return 0, false, err
		}
		v, err := parseVersion(it.Value)
		return v, true, err
	}
	return seedCounter(ctx, t.store, key, 0, "tag", get, func() (uint64, error) {
		return uint64(now.UnixNano()), nil
	})
}

// parseVersion parses a stored tag version.
func parseVersion(b []byte) (uint64, error) {
	v, err := parseCounter(b)
	if err != nil {
		return 0, ErrCorrupt
	}
	return v, nil
}

// Set stores value under key for ttl, depending on tags at their current
// versions. It is Versions followed by SetVersions; prefer those two when
// the value is computed from data a concurrent invalidation may change.
func (t *Tags) Set(ctx context.Context, key string, value []byte, ttl time.Duration, tags ...string) error {
	vs, err := t.Versions(ctx, tags...)
	if err != nil {
		return err
	}
	return t.SetVersions(ctx, key, value, ttl, vs)
}

// SetVersions stores value under key for ttl, depending on the tags of vs
// at the versions vs gives. Errors are the store's (ErrInvalidKey,
// ErrValueTooLarge, ErrUnavailable, ctx errors).
func (t *Tags) SetVersions(ctx context.Context, key string, value []byte, ttl time.Duration, vs TagVersions) error {
	if _, err := t.store.Set(ctx, key, encodeTagged(value, vs), SetOptions{TTL: ttl}); err != nil {
		return err
	}
	observe(t.cfg.Observer, key, LetterWritten)
	return nil
}

// Get returns the value under key if it is present and none of its tags
// changed since it was stored; found is false otherwise (see Tags for what
// a miss means). tags are the tags the caller expects the entry to have:
// their versions are fetched in the same round trip as the entry. Tags of
// the entry not in tags are fetched in a second round trip; tags not in
// the entry are ignored. A value not written by Tags reports ErrCorrupt.
func (t *Tags) Get(ctx context.Context, key string, tags ...string) (value []byte, found bool, err error) {
	now := t.cfg.Now()
	keys := []string{key}
	for _, tag := range tags {
		if _, ok := t.cached(tag, now); !ok {
			keys = append(keys, t.tagKey(tag))
		}
	}
	items, err := getMultiValues(ctx, t.store, keys)
	if err != nil {
		return nil, false, err
	}
	it, ok := items[key]
	if !ok {
		observe(t.cfg.Observer, key, LetterMiss)
		return nil, false, nil
	}
	value, stored, err := decodeTagged(it.Value)
	if err != nil {
		return nil, false, err
	}
	// Live versions: local cache, then this round trip, then a second one.
	live := make(TagVersions, len(stored))
	// learn takes the version of tag from items, if they have it.
	learn := func(tag string, items map[string]Item) (bool, error) {
		it, ok := items[t.tagKey(tag)]
		if !ok {
			return false, nil
		}
		v, err := parseVersion(it.Value)
		if err != nil {
			return false, err
		}
		live[tag] = v
		t.remember(tag, v, now)
		return true, nil
	}
	var more []string
	for tag := range stored {
		if v, ok := t.cached(tag, now); ok {
			live[tag] = v
			continue
		}
		found, err := learn(tag, items)
		if err != nil {
			return nil, false, err
		}
		if !found && !slices.Contains(tags, tag) {
			more = append(more, t.tagKey(tag))
		}
	}
	if len(more) > 0 {
		items, err := getMultiValues(ctx, t.store, more)
		if err != nil {
			return nil, false, err
		}
		for tag := range stored {
			if _, err := learn(tag, items); err != nil {
				return nil, false, err
			}
		}
	}
	for tag, v := range stored {
		if lv, ok := live[tag]; !ok || lv != v {
			observe(t.cfg.Observer, key, LetterMiss)
			return nil, false, nil
		}
	}
	observe(t.cfg.Observer, key, LetterHit)
	return value, true, nil
}

// Invalidate bumps the versions of tags, so that every entry stored with
// an older version misses from now on (for processes with a local version
// cache: once their cached version expires). A missing tag is left missing:
// its entries miss already, and its next use seeds a fresh version.
func (t *Tags) Invalidate(ctx context.Context, tags ...string) error {
	for _, tag := range tags {
		if t.cfg.LocalTTL > 0 {
			t.mu.Lock()
			delete(t.local, tag)
			t.mu.Unlock()
		}
		_, err := t.store.Incr(ctx, t.tagKey(tag), 1, IncrOptions{})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// tagMagic is the first byte of an entry written by Tags.
const tagMagic = 0xA7

// encodeTagged returns value prefixed with its tag versions:
// tagMagic, uvarint count, then per tag uvarint length, name, uvarint
// version; then the value.
func encodeTagged(value []byte, vs TagVersions) []byte {
	names := make([]string, 0, len(vs))
	size := 1 + binary.MaxVarintLen64 + len(value)
	for tag := range vs {
		names = append(names, tag)
		size += 2*binary.MaxVarintLen64 + len(tag)
	}
	slices.Sort(names) // deterministic bytes for equal inputs
	b := make([]byte, 0, size)
	b = append(b, tagMagic)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, tag := range names {
		b = appendField(b, tag)
		b = binary.AppendUvarint(b, vs[tag])
	}
	return append(b, value...)
}

// decodeTagged splits an entry written by encodeTagged. It reports
// ErrCorrupt for anything else, never panics.
func decodeTagged(b []byte) ([]byte, TagVersions, error) {
	f := openFrame(b, tagMagic)
	n := f.count()
	vs := make(TagVersions, n)
	for range n {
		tag := string(f.field())
		vs[tag] = f.uvarint()
	}
	if f.bad {
		return nil, nil, ErrCorrupt
	}
	return f.b, vs, nil
}
