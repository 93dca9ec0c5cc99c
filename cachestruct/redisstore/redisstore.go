// Package redisstore is a cachestruct.Store on Redis, with memcached's
// semantics exactly: every cachestruct structure runs on it unchanged, on
// one redis-server, on go-redis's Ring, or on a Redis Cluster.
//
// Every Store operation is one round trip: one Lua script (EVALSHA, loaded
// once per server; EVAL when the server answers NOSCRIPT, after SCRIPT
// FLUSH or a failover to a replica that never saw it) that reads and
// writes one key atomically, so that on a Cluster it runs in that key's
// slot. GetMulti pipelines one script call per distinct key; go-redis
// splits the pipeline by server or slot.
//
// Build a Store with New on your client (a Client, a Ring, a
// ClusterClient or a failover client) and Options. Besides the Store
// methods it has AllowRate, which makes it a cachestruct.RateStore: a
// cachestruct.RateLimiter then decides in one script call per decision.
// The package starts no goroutine and returns no channel; the client's
// own goroutines (its pools, a Ring's health checks) are go-redis's.
package redisstore

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twine-go/twine/cachestruct"
	"github.com/twine-go/twine/internal/memcache"
)

// script is the Lua source of every operation; scriptSHA its SHA-1, the
// name EVALSHA calls it by.
//
//go:embed script.lua
var script string

var scriptSHA = redis.NewScript(script).Hash()

// shaArg and scriptArg are scriptSHA and script as the interface values
// the commands take, boxed once rather than on every call.
var shaArg, scriptArg any = scriptSHA, script

// The item layout the script writes: a 2-byte magic, a state byte, the
// flags and the CAS, then the value.
const (
	headerLen   = 15
	stateWon    = 1
	stateStale  = 2
	thirtyDays  = 30 * 24 * 60 * 60
	defaultSize = memcache.DefaultMaxItemSize
)

// The script's outcomes other than success.
const (
	codeCorrupt     = -1
	codeNotFound    = -2
	codeNotStored   = -3
	codeCASConflict = -4
	codeNotNumber   = -5
)

// Options configures a Store. The zero value is usable: every zero field
// means the documented default.
type Options struct {
	// BinaryKeys accepts any non-empty key of at most 186 bytes, as
	// cachestruct.MemcachedOptions.BinaryKeys does, in addition to ordinary
	// text keys (see cachestruct.Store). Keys are stored as they are.
	BinaryKeys bool
	// MaxItemSize is the largest item, counted as memcached counts it (key,
	// value, 59 bytes, 4 more for non-zero flags); larger values report
	// cachestruct.ErrValueTooLarge without being sent. Zero means 1 MiB,
	// memcached's default.
	MaxItemSize int
	// Now is the clock that turns TTLs over 30 days into absolute Unix
	// times, as memcached clients do. Nil means time.Now.
	Now func() time.Time
}

// Store is a cachestruct.Store on a go-redis client. It is safe for
// concurrent use by multiple goroutines; it holds no connection of its own
// and starts no goroutine, so it needs no Close (close the client).
//
// Items are strings under the keys themselves: a 15-byte header (state,
// client flags, CAS) and the value, with the key's TTL as the item's. A
// key that some other client wrote (a plain SET, a hash) reads as
// cachestruct.ErrCorrupt; a plain Set or Delete replaces or removes it.
//
// A new item's CAS is the server's clock in microseconds, and each later
// version of it (a write, an increment, an invalidation) has one more: CAS
// values are unique and increasing per key, and an item re-created under a
// key does not get an earlier item's CAS unless the server's clock went
// back, or the earlier item was written more than once per microsecond on
// average.
//
// Every method honours ctx before it sends anything; to bound a call that
// is waiting for a server, build the client with ContextTimeoutEnabled
// (then ctx's deadline bounds each read), or rely on its ReadTimeout. A
// cancel does not end a wait: go-redis bounds a read only by the socket's
// deadline, so a call whose ctx is cancelled (with no deadline) while it
// waits returns at the reply or at ReadTimeout, not at the cancel. A call
// that fails to reach the server reports an error wrapping
// cachestruct.ErrUnavailable and the client's error (and ctx's error, if
// ctx ended). Build a Client or Ring with MaxRetries: -1: go-redis retries
// a command whose connection dropped, which may have run already, and an
// Incr or append would then be applied twice. A ClusterClient follows MOVED
// and ASK itself; give it a short ClusterStateReloadInterval so that it
// notices a replica promoted after a master died (it does not reload the
// slots on dial errors).
type Store struct {
	client  redis.UniversalClient
	binary  bool
	maxItem int
	now     func() time.Time
}

var (
	_ cachestruct.Store     = (*Store)(nil)
	_ cachestruct.RateStore = (*Store)(nil)
)

// New returns a Store on client: a *redis.Client, a *redis.ClusterClient,
// a *redis.Ring, or a failover client. New panics if client is nil or
// opts.MaxItemSize is negative.
func New(client redis.UniversalClient, opts Options) *Store {
	if client == nil {
		panic("redisstore: New with a nil client")
	}
	if opts.MaxItemSize < 0 {
		panic("redisstore: New with a negative MaxItemSize")
	}
	if opts.MaxItemSize == 0 {
		opts.MaxItemSize = defaultSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{client: client, binary: opts.BinaryKeys, maxItem: opts.MaxItemSize, now: opts.Now}
}

// checkKey reports cachestruct.ErrInvalidKey for a key the store does not
// accept (memcached's rule, so that every store accepts the same keys).
func (s *Store) checkKey(key string) error {
	if memcache.CheckKey(key, s.binary) != nil {
		return cachestruct.ErrInvalidKey
	}
	return nil
}

// room is the largest value with zero flags that fits in an item under key.
func (s *Store) room(key string) int {
	return s.maxItem - memcache.ItemOverhead - len(key)
}

// run runs the script with args, which start with "evalsha", shaArg,
// "1" and the key; when the server does not have the script it sends the
// same call as EVAL, which loads it there.
func (s *Store) run(ctx context.Context, args []any) *redis.Cmd {
	cmd := redis.NewCmd(ctx, args...)
	_ = s.client.Process(ctx, cmd)
	if isNoScript(cmd.Err()) {
		args[0], args[1] = "eval", scriptArg
		cmd = redis.NewCmd(ctx, args...)
		_ = s.client.Process(ctx, cmd)
	}
	return cmd
}

// digits are the small numbers the script's arguments take, as strings
// (an interface holding a string constant costs no allocation).
var digits = [...]string{"0", "1", "2", "3", "4"}

func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

// Get implements cachestruct.Store.Get with one script call. It reports
// cachestruct.ErrInvalidKey, cachestruct.ErrCorrupt for a key this package
// did not write, an error wrapping cachestruct.ErrUnavailable, or ctx's
// error if ctx is already done.
func (s *Store) Get(ctx context.Context, key string, opt cachestruct.GetOptions) (cachestruct.Item, bool, error) {
	if err := s.checkKey(key); err != nil {
		return cachestruct.Item{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return cachestruct.Item{}, false, err
	}
	cmd := s.run(ctx, []any{"evalsha", shaArg, "1", key, "g", seconds(opt.Lease), seconds(opt.Recache)})
	it, found, err := decodeGet(cmd.Val(), cmd.Err())
	if err != nil {
		return cachestruct.Item{}, false, mapErr(ctx, err)
	}
	return it, found, nil
}

// GetMulti implements cachestruct.Store.GetMulti: one pipeline of script
// calls, one per distinct key, each read as Get with zero options reads
// it. When some calls fail, the items read by the others are returned
// with the first error (wrapping cachestruct.ErrUnavailable, or
// cachestruct.ErrCorrupt).
func (s *Store) GetMulti(ctx context.Context, keys []string) (map[string]cachestruct.Item, error) {
	for _, k := range keys {
		if err := s.checkKey(k); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	items := make(map[string]cachestruct.Item, len(keys))
	if len(keys) == 0 {
		return items, nil
	}
	cmds := make(map[string]*redis.Cmd, len(keys))
	pipe := s.client.Pipeline()
	for _, k := range keys {
		if _, dup := cmds[k]; !dup {
			cmd := redis.NewCmd(ctx, "evalsha", shaArg, "1", k, "g", 0, 0)
			cmds[k] = cmd
			_ = pipe.Process(ctx, cmd)
		}
	}
	_, _ = pipe.Exec(ctx)
	// A server without the script answers NOSCRIPT to its calls (and only
	// it: EVAL loads the script there): those run again with EVAL.
	retry := s.client.Pipeline()
	for k, cmd := range cmds {
		if isNoScript(cmd.Err()) {
			cmd = redis.NewCmd(ctx, "eval", scriptArg, "1", k, "g", 0, 0)
			cmds[k] = cmd
			_ = retry.Process(ctx, cmd)
		}
	}
	if retry.Len() > 0 {
		_, _ = retry.Exec(ctx)
	}
	var first error
	for k, cmd := range cmds {
		it, found, err := decodeGet(cmd.Val(), cmd.Err())
		switch {
		case err != nil:
			if first == nil {
				first = mapErr(ctx, err)
			}
		case found:
			items[k] = it
		}
	}
	return items, first
}

// decodeGet converts the script's answer to a get.
func decodeGet(val any, err error) (cachestruct.Item, bool, error) {
	if errors.Is(err, redis.Nil) {
		return cachestruct.Item{}, false, nil
	}
	if err != nil {
		return cachestruct.Item{}, false, err
	}
	if code, ok := val.(int64); ok {
		return cachestruct.Item{}, false, codeErr(code)
	}
	reply, ok := val.([]any)
	if !ok || len(reply) != 3 {
		return cachestruct.Item{}, false, fmt.Errorf("redisstore: unexpected reply %T", val)
	}
	v, _ := reply[0].(string)
	pttl, _ := reply[1].(int64)
	win, _ := reply[2].(int64)
	if len(v) < headerLen {
		return cachestruct.Item{}, false, fmt.Errorf("redisstore: unexpected reply %q", v)
	}
	state := v[2]
	it := cachestruct.Item{
		Value: []byte(v[headerLen:]),
		Flags: binary.BigEndian.Uint32([]byte(v[3:7])),
		CAS:   binary.BigEndian.Uint64([]byte(v[7:15])),
		TTL:   cachestruct.NoExpiry,
		Stale: state&stateStale != 0,
		Won:   win == 1,
		Busy:  win == 0 && state&stateWon != 0,
	}
	if pttl >= 0 {
		it.TTL = (time.Duration(pttl)*time.Millisecond + time.Second - 1) / time.Second * time.Second
	}
	return it, true, nil
}

// Set implements cachestruct.Store.Set with one script call, with the
// outcomes of cachestruct.Memory.Set (memcached 1.6.18's). It reports
// cachestruct.ErrInvalidKey, cachestruct.ErrValueTooLarge,
// cachestruct.ErrNotStored, cachestruct.ErrNotFound,
// cachestruct.ErrCASConflict, cachestruct.ErrCorrupt (an append, prepend
// or CAS write to a key this package did not write), an error wrapping
// cachestruct.ErrUnavailable, or ctx's error if ctx is already done. It
// panics if opt.Mode is not one of the SetMode constants.
func (s *Store) Set(ctx context.Context, key string, value []byte, opt cachestruct.SetOptions) (uint64, error) {
	if opt.Mode > cachestruct.ModePrepend {
		panic("redisstore: Set with an unknown SetMode")
	}
	if err := s.checkKey(key); err != nil {
		return 0, err
	}
	room := s.room(key)
	if opt.Flags != 0 && len(value) > room-4 || len(value) > room {
		return 0, cachestruct.ErrValueTooLarge
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	tm, tv := s.expiry(opt.TTL)
	vivify := digits[0]
	if opt.Vivify {
		vivify = digits[1]
	}
	cmd := s.run(ctx, []any{"evalsha", shaArg, "1", key, "s", value, opt.Flags, digits[opt.Mode], opt.CAS, vivify,
		digits[tm], tv, room})
	if err := cmd.Err(); err != nil {
		return 0, mapErr(ctx, err)
	}
	n, ok := cmd.Val().(int64)
	if !ok {
		return 0, fmt.Errorf("redisstore: unexpected reply %T", cmd.Val())
	}
	if n < 0 {
		return 0, codeErr(n)
	}
	return uint64(n), nil
}

// Delete implements cachestruct.Store.Delete with one script call, with the
// outcomes of cachestruct.Memory.Delete. It reports
// cachestruct.ErrInvalidKey, cachestruct.ErrNotFound,
// cachestruct.ErrCASConflict, cachestruct.ErrCorrupt (a conditional or
// invalidating delete of a key this package did not write), an error
// wrapping cachestruct.ErrUnavailable, or ctx's error if ctx is already
// done.
func (s *Store) Delete(ctx context.Context, key string, opt cachestruct.DeleteOptions) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tm, tv := s.expiry(opt.TTL)
	inval := digits[0]
	if opt.Invalidate {
		inval = digits[1]
	}
	cmd := s.run(ctx, []any{"evalsha", shaArg, "1", key, "d", opt.CAS, inval, digits[tm], tv})
	if err := cmd.Err(); err != nil {
		return mapErr(ctx, err)
	}
	if n, _ := cmd.Val().(int64); n < 0 {
		return codeErr(n)
	}
	return nil
}

// Incr implements cachestruct.Store.Incr with one script call, with the
// outcomes of cachestruct.Memory.Incr (memcached 1.6.18's ma): increments
// wrap at 2^64, decrements stop at 0, a created counter is opt.Initial, a
// shorter result is padded with spaces. It reports
// cachestruct.ErrInvalidKey, cachestruct.ErrNotFound,
// cachestruct.ErrNotNumber, cachestruct.ErrCorrupt, an error wrapping
// cachestruct.ErrUnavailable, or ctx's error if ctx is already done.
func (s *Store) Incr(ctx context.Context, key string, delta int64, opt cachestruct.IncrOptions) (uint64, error) {
	if err := s.checkKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	neg, mag := digits[0], uint64(delta)
	if delta < 0 {
		neg, mag = digits[1], uint64(-(delta+1))+1
	}
	tm, tv := s.expiry(opt.TTL)
	vivify := digits[0]
	if opt.Vivify {
		vivify = digits[1]
	}
	cmd := s.run(ctx, []any{"evalsha", shaArg, "1", key, "i", neg, mag >> 32, mag & (1<<32 - 1), vivify, opt.Initial,
		digits[tm], tv, s.room(key)})
	if err := cmd.Err(); err != nil {
		return 0, mapErr(ctx, err)
	}
	switch v := cmd.Val().(type) {
	case int64:
		return 0, codeErr(v)
	case string:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("redisstore: unexpected reply %q", v)
		}
		return n, nil
	}
	return 0, fmt.Errorf("redisstore: unexpected reply %T", cmd.Val())
}

// AllowRate implements cachestruct.RateStore with one script call, so
// that a cachestruct.RateLimiter on the store decides in one round trip
// and its decisions never race (on a Cluster the key's slot runs them one
// at a time). The new TAT is written as Set writes an item (flags 0, the
// CAS one more than the item's, or the server's clock for a new item), so
// limiters that read and then write with a CAS (a version before this
// method, or a store wrapper that hides it) stay exact on the same keys.
// It reports cachestruct.ErrInvalidKey, cachestruct.ErrCorrupt for a key
// that holds anything but a decimal int64, cachestruct.ErrInvalidCost for
// arguments outside RateStore's bounds, an error wrapping
// cachestruct.ErrUnavailable, or ctx's error if ctx is already done.
func (s *Store) AllowRate(ctx context.Context, key string, now, inc, burst int64) (int64, bool, error) {
	if err := s.checkKey(key); err != nil {
		return 0, false, err
	}
	if now < 0 || inc <= 0 || inc > burst || burst > 1<<62 {
		return 0, false, cachestruct.ErrInvalidCost
	}
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	const g = int64(time.Second)
	cmd := s.run(ctx, []any{"evalsha", shaArg, "1", key, "r", now / g, now % g, inc / g, inc % g, burst / g, burst % g})
	if err := cmd.Err(); err != nil {
		return 0, false, mapErr(ctx, err)
	}
	switch v := cmd.Val().(type) {
	case int64:
		return 0, false, codeErr(v)
	case []any:
		if len(v) != 2 {
			break
		}
		read, ok1 := v[0].(string)
		stored, ok2 := v[1].(int64)
		if !ok1 || !ok2 {
			break
		}
		if read == "" {
			return 0, stored == 1, nil
		}
		tat, err := strconv.ParseInt(read, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("redisstore: unexpected reply %q", read)
		}
		return tat, stored == 1, nil
	}
	return 0, false, fmt.Errorf("redisstore: unexpected reply %v", cmd.Val())
}

// seconds converts a duration to whole seconds as memcached does: a
// positive fraction of a second rounds up; zero and negative give 0.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}

// expiry encodes a TTL for the script: mode 0 never expires, 1 expires in
// v seconds, 2 at Unix time v (TTLs over 30 days, which memcached clients
// send as absolute times computed with their own clock), 3 at once.
func (s *Store) expiry(ttl time.Duration) (mode int, v int64) {
	switch {
	case ttl == 0:
		return 0, 0
	case ttl < 0:
		return 3, 0
	}
	secs := seconds(ttl)
	if secs > thirtyDays {
		return 2, s.now().Unix() + secs
	}
	return 1, secs
}

// codeErr maps the script's outcome codes to the Store's errors.
func codeErr(code int64) error {
	switch code {
	case codeCorrupt:
		return cachestruct.ErrCorrupt
	case codeNotFound:
		return cachestruct.ErrNotFound
	case codeNotStored:
		return cachestruct.ErrNotStored
	case codeCASConflict:
		return cachestruct.ErrCASConflict
	case codeNotNumber:
		return cachestruct.ErrNotNumber
	}
	return fmt.Errorf("redisstore: unexpected reply %d", code)
}

// mapErr maps a failed call: a key of another type is corrupt for us;
// everything else (network errors, timeouts, a server that is loading,
// read-only or out of memory, a cluster that is down) means the store is
// unavailable.
func mapErr(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, cachestruct.ErrCorrupt), errors.Is(err, cachestruct.ErrNotFound),
		errors.Is(err, cachestruct.ErrNotStored), errors.Is(err, cachestruct.ErrCASConflict),
		errors.Is(err, cachestruct.ErrNotNumber):
		return err
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		return fmt.Errorf("%w: %w", cachestruct.ErrCorrupt, err)
	}
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		// The socket's deadline (ctx's, with ContextTimeoutEnabled) fired
		// a moment before ctx's timer.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w (%w)", cachestruct.ErrUnavailable, err, cerr)
	}
	return fmt.Errorf("%w: %w", cachestruct.ErrUnavailable, err)
}
