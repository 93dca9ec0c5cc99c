package memcache

import (
	"context"
	"errors"
	"time"

	"github.com/twine-go/twine/internal/fnv"
)

// Item is an item read from the server.
type Item struct {
	// Value is the item's data (empty for a placeholder created by
	// GetOptions.Vivify).
	Value []byte
	// Flags are the item's client flags.
	Flags uint32
	// CAS is the item's CAS value.
	CAS uint64
	// TTL is the item's remaining time to live in seconds, -1 when it
	// never expires.
	TTL int64
	// Won: this caller won the right to recompute the item (W flag).
	Won bool
	// Stale: the item was invalidated (X flag).
	Stale bool
	// Busy: another caller already won (Z flag).
	Busy bool
}

func (r *reply) item() Item {
	return Item{
		Value: r.value, Flags: r.flags, CAS: r.cas, TTL: r.ttl,
		Won: r.win, Stale: r.stale, Busy: r.busy,
	}
}

// GetOptions are the options of Get. The zero value is a plain get.
type GetOptions struct {
	// Vivify, when positive, creates an empty item with this TTL on a
	// miss and returns it with Won set (mg N flag); later readers get it
	// with Busy set.
	Vivify time.Duration
	// Recache, when positive, gives Won to the first reader that finds
	// less than this TTL left (mg R flag).
	Recache time.Duration
}

// Get reads key with its value, client flags, CAS and TTL. A miss reports
// ErrCacheMiss.
func (c *Client) Get(ctx context.Context, key string, opt GetOptions) (Item, error) {
	if err := CheckKey(key, c.cfg.BinaryKeys); err != nil {
		return Item{}, err
	}
	r := req{op: 'g', key: key}
	if opt.Vivify > 0 {
		r.vivify, r.hasVivify = c.ttl(opt.Vivify), true
	}
	if opt.Recache > 0 {
		r.recache = c.ttl(opt.Recache)
	}
	var cl *call
	var err error
	if r.hasVivify || r.recache > 0 {
		cl, err = c.do(ctx, &r, kindMeta) // a repeated lease or recache could lose the win
	} else {
		cl, err = c.doIdempotent(ctx, &r, kindMeta)
	}
	if err != nil {
		return Item{}, err
	}
	defer putCall(cl)
	if cl.err != nil {
		return Item{}, cl.err
	}
	switch cl.rep.code {
	case codeVA:
		return cl.rep.item(), nil
	case codeEN:
		return Item{}, ErrCacheMiss
	}
	return Item{}, protoErr("unexpected %s to mg", cl.rep.code[:])
}

// multiPart is the smallest number of keys worth a connection of its own
// in GetMulti. Below it one connection answers faster: a part on another
// connection costs the client a write, reads and a wake-up more, which on
// a 100-key batch outweighed the server threads working in parallel
// (measured on memcached 1.6.18, 2 cores).
const multiPart = 128

// maxMultiParts is the largest number of parts a multi-get is split into,
// whatever the number of connections: the parts live in arrays of this
// size (no allocation per batch), and memcached's default of 4 worker
// threads gains nothing from more.
const maxMultiParts = 8

// GetMulti reads many keys in one round trip: one mg request per key, all
// written at once, answered in order. Misses are absent from the map; a
// duplicate key is reported once, with the result of its first read (the
// one that may win a stale item). Every key is checked before anything is
// sent. When the batch fails part way, the items read so far are returned
// with the error.
//
// A batch of 256 keys or more is split over the client's connections,
// one part of at least 128 keys per connection and at most 8 parts:
// memcached serves each connection on one thread and processes at most 20
// pipelined requests per turn (-R), so parts on several connections are
// answered in parallel while the caller parses the first.
func (c *Client) GetMulti(ctx context.Context, keys []string) (map[string]Item, error) {
	var items map[string]Item
	err := c.GetMultiFunc(ctx, keys, func(k string, it Item) {
		if items == nil {
			// Made at the first hit, while the server still works on
			// the rest of the batch, not before sending it.
			items = make(map[string]Item, len(keys))
		} else if _, dup := items[k]; dup {
			return // a later read of the key: the first one counts
		}
		items[k] = it
	})
	if items == nil && !errors.Is(err, ErrInvalidKey) {
		items = map[string]Item{}
	}
	return items, err
}

// GetMultiFunc reads keys as GetMulti does but hands each hit to hit
// instead of building a map, so that a caller with its own result type
// converts each item once. hit is called from the calling goroutine only,
// before GetMultiFunc returns, once per hit: a key requested twice that
// hits is passed twice, its first read (the one that may win a stale
// item) first. The hits of a batch come in request order while the batch
// is on one connection. Every key is checked before anything is sent; on
// an error the hits read before it have been passed. GetMultiFunc panics
// if hit is nil.
func (c *Client) GetMultiFunc(ctx context.Context, keys []string, hit func(key string, it Item)) error {
	if hit == nil {
		panic("memcache: GetMultiFunc with a nil hit function")
	}
	m := c.StartMulti(ctx, keys)
	return m.Wait(ctx, hit)
}

// Multi is a multi-get in flight: its requests are sent, its replies are
// still to be read. StartMulti returns one; Wait reads it.
type Multi struct {
	parts [maxMultiParts]sentPart
	n     int
	err   error // the first error while sending (or a bad key)
}

// sentPart is the part of a multi-get sent on one connection.
type sentPart struct {
	cn   *conn
	cl   *call
	keys []string
}

// StartMulti checks keys and sends their multi-get, as GetMultiFunc does,
// without waiting for the replies: a caller with several servers starts
// each one's batch, so that the servers work at once, then reads the
// replies in turn from one goroutine. Wait must be called on the result
// exactly once; errors (a bad key, a failed send) are reported by Wait.
func (c *Client) StartMulti(ctx context.Context, keys []string) Multi {
	var m Multi
	for _, k := range keys {
		if err := CheckKey(k, c.cfg.BinaryKeys); err != nil {
			m.err = err
			return m
		}
	}
	if len(keys) == 0 {
		return m
	}
	parts := min(len(c.slots), maxMultiParts, max(1, len(keys)/multiPart))
	var pbuf [maxMultiParts][]string
	for _, ks := range split(pbuf[:0], keys, parts) {
		if len(ks) == 0 {
			continue // nothing to send: an empty request would be an empty line
		}
		r := req{op: 'm', keys: ks}
		cn, cl, err := c.start(ctx, &r, kindMulti)
		if err != nil {
			m.err = err
			break
		}
		m.parts[m.n] = sentPart{cn, cl, ks}
		m.n++
	}
	return m
}

// Wait reads the replies of the multi-get m, handing each hit to hit as
// GetMultiFunc does, and returns the first error: a bad key or a failed
// send reported by StartMulti, or one met while reading (the hits read
// before it have been passed). It returns ctx's error when ctx ends first.
// Wait panics if hit is nil.
func (m *Multi) Wait(ctx context.Context, hit func(key string, it Item)) error {
	if hit == nil {
		panic("memcache: Multi.Wait with a nil hit function")
	}
	firstErr := m.err
	for _, p := range m.parts[:m.n] {
		// If this goroutine reads the reply itself, the hits go straight
		// to hit (see readMulti); if another caller reads it, they come
		// back in p.cl.multi. Every occurrence of a key is in the same
		// part, in order.
		p.cl.sink, p.cl.sinkKeys = hit, p.keys
		// After a failure the remaining parts are still waited for (or
		// abandoned once ctx ends), so that no call is left behind.
		if err := p.cn.wait(ctx, p.cl); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, h := range p.cl.multi {
			hit(p.keys[h.index], h.item)
		}
		if p.cl.err != nil && firstErr == nil {
			firstErr = p.cl.err
		}
		putCall(p.cl)
	}
	*m = Multi{}
	return firstErr
}

// split divides keys into n parts (appended to dst), at most
// maxMultiParts, by a hash of each key, so that every occurrence of a key
// lands in the same part, in order: the first read of a stale item or a
// lease wins it (W), and that result must be the one reported, not a later
// Z read on another connection. The parts share one new array.
func split(dst [][]string, keys []string, n int) [][]string {
	if n <= 1 {
		return append(dst, keys)
	}
	var counts [maxMultiParts]int
	n = min(n, len(counts))
	for _, k := range keys {
		counts[fnv.Sum32a(k)%uint32(n)]++
	}
	all := make([]string, len(keys))
	start := len(dst)
	off := 0
	for i := range n {
		dst = append(dst, all[off:off:off+counts[i]])
		off += counts[i]
	}
	for _, k := range keys {
		i := start + int(fnv.Sum32a(k)%uint32(n))
		dst[i] = append(dst[i], k)
	}
	return dst
}

// SetMode selects the storage command of Set.
type SetMode byte

// The modes of Set (ms M flag).
const (
	ModeSet     SetMode = 'S'
	ModeAdd     SetMode = 'E'
	ModeReplace SetMode = 'R'
	ModeAppend  SetMode = 'A'
	ModePrepend SetMode = 'P'
)

// SetOptions are the options of Set. The zero value is a plain set of an
// item that never expires.
type SetOptions struct {
	// Mode is the storage command; zero means ModeSet.
	Mode SetMode
	// TTL of the item: rounded up to whole seconds, 0 for no expiry,
	// negative for expired at once.
	TTL time.Duration
	// Flags are the client flags stored with the item.
	Flags uint32
	// CAS, when non-zero, stores only if the item's CAS equals it (C flag).
	CAS uint64
	// Invalidate with CAS: a CAS older than the item's is accepted but the
	// item is marked stale (I flag).
	Invalidate bool
	// Vivify, with ModeAppend or ModePrepend, asks the server to create a
	// missing item with TTL (N flag). memcached 1.6.18 ignores it and
	// answers ErrNotStored; newer servers honour it.
	Vivify bool
}

// Set stores value under key and returns the item's new CAS value. A
// failed mode condition reports ErrNotStored; with a CAS, ErrCASConflict
// when the item changed and ErrNotFound when it is missing. A value too
// large for the item size (see Config.MaxItemSize) reports
// ErrValueTooLarge without being sent (when the size is learnt, once the
// connection is open).
func (c *Client) Set(ctx context.Context, key string, value []byte, opt SetOptions) (uint64, error) {
	if err := CheckKey(key, c.cfg.BinaryKeys); err != nil {
		return 0, err
	}
	r := req{op: 's', key: key, value: value, flags: opt.Flags, cas: opt.CAS,
		mode: byte(opt.Mode), invalidate: opt.Invalidate, ttl: c.ttl(opt.TTL)}
	if opt.Vivify && (opt.Mode == ModeAppend || opt.Mode == ModePrepend) {
		r.vivify, r.hasVivify = r.ttl, true
	}
	cl, err := c.do(ctx, &r, kindMeta)
	if err != nil {
		return 0, err
	}
	defer putCall(cl)
	if cl.err != nil {
		if se, ok := cl.err.(*ServerError); ok && se.Kind == "SERVER_ERROR" && se.Message == "object too large for cache" {
			return 0, ErrValueTooLarge
		}
		return 0, cl.err
	}
	if cl.rep.code == codeHD {
		return cl.rep.cas, nil
	}
	if err := codeErr(cl.rep.code); err != nil && err != ErrCacheMiss {
		return 0, err
	}
	return 0, protoErr("unexpected %s to ms", cl.rep.code[:])
}

// DeleteOptions are the options of Delete. The zero value deletes
// unconditionally.
type DeleteOptions struct {
	// CAS, when non-zero, deletes only the item with this CAS.
	CAS uint64
	// Invalidate marks the item stale (and bumps its CAS) instead of
	// removing it.
	Invalidate bool
	// TTL, with Invalidate and when non-zero, replaces the item's TTL.
	TTL time.Duration
}

// Delete removes key, or marks it stale with opt.Invalidate. A missing key
// reports ErrNotFound; a CAS mismatch ErrCASConflict.
func (c *Client) Delete(ctx context.Context, key string, opt DeleteOptions) error {
	if err := CheckKey(key, c.cfg.BinaryKeys); err != nil {
		return err
	}
	r := req{op: 'd', key: key, cas: opt.CAS, invalidate: opt.Invalidate}
	if opt.Invalidate && opt.TTL != 0 {
		r.ttl = c.ttl(opt.TTL)
	}
	cl, err := c.do(ctx, &r, kindMeta)
	if err != nil {
		return err
	}
	defer putCall(cl)
	if cl.err != nil {
		return cl.err
	}
	if cl.rep.code == codeHD {
		return nil
	}
	if err := codeErr(cl.rep.code); err != nil && err != ErrCacheMiss && err != ErrNotStored {
		return err
	}
	return protoErr("unexpected %s to md", cl.rep.code[:])
}

// ArithOptions are the options of Incr and Decr. The zero value changes an
// existing counter and reports ErrNotFound on a miss.
type ArithOptions struct {
	// Vivify creates a missing counter with value Initial and TTL TTL; the
	// delta is not applied to a created counter (memcached 1.6).
	Vivify  bool
	Initial uint64
	TTL     time.Duration
}

// Incr adds delta to the decimal counter under key and returns the new
// value; it wraps at 2^64. A missing key reports ErrNotFound (unless
// opt.Vivify), a value that is not a number ErrNotNumber.
func (c *Client) Incr(ctx context.Context, key string, delta uint64, opt ArithOptions) (uint64, error) {
	return c.arith(ctx, key, delta, false, opt)
}

// Decr subtracts delta from the decimal counter under key, stopping at 0,
// and returns the new value. Errors are as for Incr.
func (c *Client) Decr(ctx context.Context, key string, delta uint64, opt ArithOptions) (uint64, error) {
	return c.arith(ctx, key, delta, true, opt)
}

func (c *Client) arith(ctx context.Context, key string, delta uint64, decr bool, opt ArithOptions) (uint64, error) {
	if err := CheckKey(key, c.cfg.BinaryKeys); err != nil {
		return 0, err
	}
	r := req{op: 'a', key: key, delta: delta, decr: decr}
	if opt.Vivify {
		r.vivify, r.hasVivify, r.initial = c.ttl(opt.TTL), true, opt.Initial
	}
	cl, err := c.do(ctx, &r, kindMeta)
	if err != nil {
		return 0, err
	}
	defer putCall(cl)
	if cl.err != nil {
		if se, ok := cl.err.(*ServerError); ok && se.Kind == "CLIENT_ERROR" &&
			se.Message == "cannot increment or decrement non-numeric value" {
			return 0, ErrNotNumber
		}
		return 0, cl.err
	}
	if cl.rep.code == codeVA {
		n, ok := parseUint(cl.rep.value)
		if !ok {
			return 0, protoErr("bad number %.30q from ma", cl.rep.value)
		}
		return n, nil
	}
	if err := codeErr(cl.rep.code); err != nil && err != ErrCacheMiss {
		return 0, err
	}
	return 0, protoErr("unexpected %s to ma", cl.rep.code[:])
}

// Noop sends mn and waits for MN: a round trip that proves the server
// answers.
func (c *Client) Noop(ctx context.Context) error {
	cl, err := c.doIdempotent(ctx, &req{op: 'n'}, kindMeta)
	if err != nil {
		return err
	}
	defer putCall(cl)
	if cl.err != nil {
		return cl.err
	}
	if cl.rep.code != codeMN {
		return protoErr("unexpected %s to mn", cl.rep.code[:])
	}
	return nil
}

// Version returns the server's version string, e.g. "1.6.18".
func (c *Client) Version(ctx context.Context) (string, error) {
	cl, err := c.doIdempotent(ctx, &req{op: 'v'}, kindVersion)
	if err != nil {
		return "", err
	}
	defer putCall(cl)
	return cl.text, cl.err
}

// Stats returns the server's statistics: "stats" when group is empty, else
// "stats <group>" (e.g. "settings"). A group that is not a single word of
// ASCII letters reports ErrInvalidKey without anything being sent.
func (c *Client) Stats(ctx context.Context, group string) (map[string]string, error) {
	for i := 0; i < len(group); i++ {
		if ch := group[i]; !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z') {
			return nil, ErrInvalidKey
		}
	}
	cl, err := c.doIdempotent(ctx, &req{op: 't', key: group}, kindStats)
	if err != nil {
		return nil, err
	}
	defer putCall(cl)
	return cl.stats, cl.err
}
