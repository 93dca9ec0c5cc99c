package memcache

import (
	"cmp"
	"context"
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
	// never expires, TTLUnknown when read by a classic GetMulti.
	TTL int64
	// Won: this caller won the right to recompute the item (W flag).
	Won bool
	// Stale: the item was invalidated (X flag).
	Stale bool
	// Busy: another caller already won (Z flag).
	Busy bool
}

// TTLUnknown is the Item.TTL of an item read by GetMulti with
// GetMultiOptions.Classic: gets does not report the TTL.
const TTLUnknown = -2

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
	// A lease or a recache is not sent twice: the second could lose the win.
	rep, err := c.roundTrip(ctx, &r, !r.hasVivify && r.recache == 0)
	switch {
	case err != nil:
		return Item{}, err
	case rep.code == codeVA:
		return rep.item(), nil
	case rep.code == codeEN:
		return Item{}, ErrCacheMiss
	}
	return Item{}, protoErr("unexpected %s to mg", string(rep.code[:]))
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

// GetMultiOptions are the options of GetMulti. The zero value reads with
// the meta protocol.
type GetMultiOptions struct {
	// Classic reads with one classic gets request (per part) instead of
	// one mg per key. memcached answers a gets of 100 keys in one turn of
	// its event loop and 100 mg in five (it serves 20 requests of a
	// connection per turn, -R), so a gets batch takes about half the
	// time. Its items carry Value, Flags and CAS only: TTL is TTLUnknown,
	// and Won, Stale and Busy are never set, because gets reads a stale
	// (invalidated) item as a fresh one and a lease placeholder as an
	// empty value, and takes no win. A batch with a key that needs base64
	// (Config.BinaryKeys) is read with mg as without Classic: gets has no
	// form for such keys.
	Classic bool
}

// GetMulti reads many keys in one round trip and hands each hit to hit;
// misses are skipped. hit is called from the calling goroutine only,
// before GetMulti returns, once per hit: a key asked twice that hits is
// passed twice, its first read (the one that may win a stale item) first;
// the hits of a part come in request order. Every key is checked before
// anything is sent (ErrInvalidKey). On an error the hits read before it
// have been passed. GetMulti panics if hit is nil.
//
// Without opt.Classic each key is one mg request, all written at once and
// answered in order. A batch of 256 keys or more is split over the
// client's connections, one part of at least 128 keys per connection and
// at most 8 parts: memcached serves each connection on one thread, so the
// parts are answered in parallel while the caller parses the first. Every
// part is sent before any reply is read.
func (c *Client) GetMulti(ctx context.Context, keys []string, opt GetMultiOptions, hit func(key string, it Item)) error {
	if hit == nil {
		panic("memcache: GetMulti with a nil hit function")
	}
	op, kind := byte('G'), kindGets
	if !opt.Classic {
		op, kind = 'm', kindMulti
	}
	for _, k := range keys {
		text, err := checkKey(k, c.cfg.BinaryKeys)
		if err != nil {
			return err
		}
		if !text {
			op, kind = 'm', kindMulti // gets has no base64 form
		}
	}
	var sent [maxMultiParts]*call
	var conns [maxMultiParts]*conn
	n := 0
	var firstErr error
	parts := min(len(c.slots), maxMultiParts, max(1, len(keys)/multiPart))
	var pbuf [maxMultiParts][]string
	for _, ks := range split(pbuf[:0], keys, parts) {
		if len(ks) == 0 {
			continue // nothing to send: an empty request would be an empty line
		}
		cn, cl, err := c.start(ctx, &req{op: op, keys: ks}, kind)
		if err != nil {
			firstErr = err
			break
		}
		cl.sink = hit
		sent[n], conns[n] = cl, cn
		n++
	}
	// After a failure the parts sent are still waited for (or abandoned
	// once ctx ends), so that no call is left behind.
	for i, cl := range sent[:n] {
		if err := conns[i].wait(ctx, cl); err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		// The hits read by another caller of the connection.
		for _, h := range cl.multi {
			hit(cl.keys[h.index], h.item)
		}
		firstErr = cmp.Or(firstErr, cl.err)
		putCall(cl)
	}
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
	rep, err := c.roundTrip(ctx, &r, false)
	switch se, _ := err.(*ServerError); {
	case se != nil && se.Kind == "SERVER_ERROR" && se.Message == "object too large for cache":
		return 0, ErrValueTooLarge
	case err != nil:
		return 0, err
	case rep.code == codeHD:
		return rep.cas, nil
	}
	return 0, codeErr(rep.code, "ms", ErrNotStored, ErrCASConflict, ErrNotFound)
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
	rep, err := c.roundTrip(ctx, &r, false)
	switch {
	case err != nil:
		return err
	case rep.code == codeHD:
		return nil
	}
	return codeErr(rep.code, "md", ErrNotFound, ErrCASConflict)
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
	rep, err := c.roundTrip(ctx, &r, false)
	switch se, _ := err.(*ServerError); {
	case se != nil && se.Kind == "CLIENT_ERROR" && se.Message == "cannot increment or decrement non-numeric value":
		return 0, ErrNotNumber
	case err != nil:
		return 0, err
	case rep.code != codeVA:
		return 0, codeErr(rep.code, "ma", ErrNotFound, ErrNotStored, ErrCASConflict)
	}
	n, ok := parseUint(rep.value)
	if !ok {
		return 0, protoErr("bad number %.30q from ma", rep.value)
	}
	return n, nil
}

// roundTrip sends r, waits for its meta reply and returns it, or the error
// line that answered it. An idempotent request is sent again when its
// connection turns out to be broken (see doIdempotent).
func (c *Client) roundTrip(ctx context.Context, r *req, idempotent bool) (reply, error) {
	var cl *call
	var err error
	if idempotent {
		cl, err = c.doIdempotent(ctx, r, kindMeta)
	} else {
		cl, err = c.do(ctx, r, kindMeta)
	}
	if err != nil {
		return reply{}, err
	}
	rep, err := cl.rep, cl.err
	putCall(cl)
	return rep, err
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
