package cachestruct

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twine-go/twine/internal/memcache"
)

// MemcachedOptions configure NewMemcached. The zero value gives the
// defaults documented on each field.
type MemcachedOptions struct {
	// Picker maps keys to servers. Nil means a built-in picker: the
	// 64-bit FNV-1a hash of the key modulo the number of servers, the
	// successors being the following servers in the order given. With
	// several servers prefer a consistent-hash ring, which moves fewer
	// keys when servers change.
	Picker Picker
	// BinaryKeys accepts any non-empty key of at most 186 bytes, sent
	// base64 encoded, in addition to ordinary text keys (see Store).
	BinaryKeys bool
	// ConnsPerServer is the number of pipelined connections per server.
	// Zero means 2. A multi-get of 256 keys or more on one server is
	// split over several of them: one part of at least 128 keys per
	// connection, at most 8 parts.
	ConnsPerServer int
	// Timeout bounds how long a connection may wait for a reply without
	// receiving anything before it is closed and its calls fail with
	// ErrUnavailable. Zero means 1s. Calls return earlier when their ctx
	// ends.
	Timeout time.Duration
	// DialTimeout bounds each connection attempt. Zero means 1s.
	DialTimeout time.Duration
	// MaxItemSize is the servers' item size (memcached -I): a value
	// whose item would be larger (see Store) reports ErrValueTooLarge
	// without being sent. A value that a server refuses itself costs the
	// key its old value (memcached deletes it), so set MaxItemSize only
	// when it is no larger than every server's -I.
	//
	// Zero means each server's own, learnt from it: every connection the
	// store opens first asks its server "stats settings" and checks
	// values against that server's item_size_max from then on (servers
	// may differ; a server restarted with another -I is learnt again when
	// the store reconnects). This costs one round trip per connection
	// opened, none per request. A server that answers without a usable
	// item_size_max (an error line, as from a proxy) keeps the size learnt
	// last, 1 MiB before any; one that does not answer in DialTimeout
	// counts as a failed connection (ErrUnavailable).
	MaxItemSize int
	// EjectAfter is the number of consecutive failures (network errors and
	// calls whose deadline passed while the server did not answer) after
	// which a server is ejected: its keys go to the picker's successor.
	// Zero means 3; a negative value never ejects.
	EjectAfter int
	// RetryAfter is how long a server stays ejected the first time; then
	// one request probes it. Each failed probe doubles the period, up to
	// MaxRetryAfter; a success readmits the server. Zero means 1s.
	RetryAfter time.Duration
	// MaxRetryAfter caps the ejection period. Zero means 30s.
	MaxRetryAfter time.Duration
	// Now is the clock of ejections. Nil means time.Now.
	Now func() time.Time
	// Dial, when not nil, opens the connections to the servers in place of
	// a net.Dialer: it is called with network "tcp" and a server's
	// address as given to NewMemcached, and the ctx of the call that needs
	// the connection, bounded by DialTimeout. Use it for TLS (crypto/tls's
	// Dialer.DialContext) or for a unix socket (give the socket's path as
	// the address, and dial "unix"); see ExampleMemcachedOptions_dial.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Hook, when not nil, is called after every operation (see Hook).
	Hook Hook
	// OnServer, when not nil, is called when a server is ejected and when
	// it is readmitted (see ServerEvent).
	OnServer func(ServerEvent)
}

// Memcached is the Store on one or more memcached servers, speaking the
// meta protocol: every Store method is one round trip to the key's server
// (GetMulti one per server, in parallel), with pipelined connections
// shared by all goroutines. The exception is an append or prepend with
// Vivify that finds no item: memcached 1.6.18 ignores ms's vivify flag, so
// the store follows up with an add (and appends again if another writer
// added the item first).
//
// # Failover
//
// As twemproxy's auto_eject_hosts: after EjectAfter consecutive failures
// a server is ejected for RetryAfter (doubling up to MaxRetryAfter while it
// keeps failing), and the keys it owned go to the next server the
// SuccessorPicker names; after the period a single request probes it and
// a success readmits it. Requests never wait beyond their ctx for a dead
// or hung server.
//
// Consistency: while a server is ejected its keys live on another server,
// and when it comes back they return to it. Writes, deletes and
// invalidations made during the ejection went to the successor, so the
// readmitted server may serve values that are older than what was written
// meanwhile, until they expire; clients that disagree about an ejection
// (each process ejects on its own) may also read and write a key on two
// servers at once. Keep TTLs short for data that must not be stale after
// a failover, or use data that tolerates it (version-checked entries,
// tags); counters may lose or double count across a failover.
//
// A call that returns with its ctx's error may still have been carried
// out by the server (the request may have been sent): like any network
// write, treat it as "maybe applied".
//
// # Item size
//
// Unless MaxItemSize is set, each connection asks its server for its item
// size (memcached -I) when it opens, so every value is checked before it
// is sent against the size of the server that would store it (the
// successor's own during a failover): memcached deletes the old value of
// a key whose new value it refuses, so a value that only the server would
// refuse would cost the key its data.
//
// # Multi-gets: GetMulti and GetMultiPlain
//
// The meta protocol has no multi-key get: GetMulti sends one mg request
// per key, all in one write, and memcached answers at most 20 pipelined
// requests of a connection per event-loop turn (its -R option, default
// 20), so 100 keys on one server take five turns of the server (a larger
// -R, for example -R 100, takes fewer, at the cost of other connections
// of the same server thread waiting longer behind such a batch).
// GetMultiPlain sends one classic gets line per server instead, answered
// in one turn: a 100-key batch takes about half the time, but its items
// carry no TTL and no stale, won or busy marks. Callers that only read
// values (and flags and CAS) take GetMultiPlain; callers that need the
// marks, or the win on a stale item, take GetMulti.
//
// Memcached is safe for concurrent use by multiple goroutines. It starts
// no goroutines of its own (a multi-get on several servers runs one per
// server but the first for the duration of the call).
type Memcached struct {
	servers map[string]*mcServer
	list    []*mcServer
	picker  Picker
	succ    SuccessorPicker
	binary  bool
	now     func() time.Time
	eject   int
	retry   time.Duration
	retries time.Duration // MaxRetryAfter
	hook    Hook
	onSrv   func(ServerEvent)
}

var (
	_ Store            = (*Memcached)(nil)
	_ PlainMultiGetter = (*Memcached)(nil)
)

// NewMemcached returns a Store on the memcached servers at addrs
// ("host:port"). It does not connect: connections are opened by the first
// requests that need them. It reports an error when addrs is empty or
// holds a duplicate.
func NewMemcached(addrs []string, opts MemcachedOptions) (*Memcached, error) {
	if len(addrs) == 0 {
		return nil, errors.New("cachestruct: NewMemcached needs at least one server")
	}
	m := &Memcached{
		servers: make(map[string]*mcServer, len(addrs)),
		picker:  opts.Picker,
		binary:  opts.BinaryKeys,
		now:     opts.Now,
		eject:   opts.EjectAfter,
		retry:   opts.RetryAfter,
		retries: opts.MaxRetryAfter,
		hook:    opts.Hook,
		onSrv:   opts.OnServer,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.eject == 0 {
		m.eject = 3
	}
	if m.retry <= 0 {
		m.retry = time.Second
	}
	if m.retries <= 0 {
		m.retries = 30 * time.Second
	}
	m.retries = max(m.retries, m.retry)
	cfg := memcache.Config{
		Conns:       opts.ConnsPerServer,
		Timeout:     opts.Timeout,
		DialTimeout: opts.DialTimeout,
		MaxItemSize: opts.MaxItemSize,
		BinaryKeys:  opts.BinaryKeys,
		Dial:        opts.Dial,
	}
	for _, a := range addrs {
		if _, dup := m.servers[a]; dup {
			return nil, fmt.Errorf("cachestruct: NewMemcached: duplicate server %q", a)
		}
		s := &mcServer{addr: a, index: len(m.list), client: memcache.New(a, cfg)}
		m.servers[a] = s
		m.list = append(m.list, s)
	}
	if m.picker == nil {
		m.picker = modPicker(addrs)
	}
	m.succ, _ = m.picker.(SuccessorPicker)
	return m, nil
}

// Close closes every connection. Calls made after Close report
// ErrUnavailable.
func (m *Memcached) Close() error {
	for _, s := range m.list {
		_ = s.client.Close()
	}
	return nil
}

// LoadMaxItemSize asks every server for its item size ("stats settings",
// item_size_max) and returns the smallest: the largest item that fits on
// any server. From then on each server's values are checked against its
// own item size, even when MaxItemSize was set. It reports ErrUnavailable
// when a server cannot be asked; the servers asked before it keep their
// new size.
func (m *Memcached) LoadMaxItemSize(ctx context.Context) (int, error) {
	smallest := 0
	for _, s := range m.list {
		n, err := s.client.LoadMaxItemSize(ctx)
		if err != nil {
			return 0, mapErr(err)
		}
		if smallest == 0 || n < smallest {
			smallest = n
		}
	}
	return smallest, nil
}

// Get implements Store.Get with one mg request.
func (m *Memcached) Get(ctx context.Context, key string, opt GetOptions) (Item, bool, error) {
	if m.hook != nil {
		return m.hookGet(ctx, key, opt)
	}
	return m.get(ctx, key, opt, nil)
}

// get is Get without the hook; it sets *srv to the server it asks.
func (m *Memcached) get(ctx context.Context, key string, opt GetOptions, srv *string) (Item, bool, error) {
	if err := m.checkKey(key); err != nil {
		return Item{}, false, err
	}
	s, err := m.pick(key)
	if err != nil {
		return Item{}, false, err
	}
	if srv != nil {
		*srv = s.addr
	}
	it, err := s.client.Get(ctx, key, memcache.GetOptions{Vivify: opt.Lease, Recache: opt.Recache})
	m.record(s, err)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return Item{}, false, nil
	}
	if err != nil {
		return Item{}, false, mapErr(err)
	}
	item := fromWire(it)
	if opt.Lease > 0 && it.Won && !it.Stale && it.TTL < 0 && len(it.Value) == 0 {
		// memcached 1.6.18 reports t-1 for the placeholder it has just
		// created; the placeholder really lives for the lease.
		item.TTL = wholeSeconds(opt.Lease)
	}
	return item, true, nil
}

// GetMulti implements Store.GetMulti: one pipelined batch of mg requests
// per server, each server's sent as soon as the keys are sorted, so that
// the servers work in parallel. When some servers fail, the items read
// from the others are returned with an error wrapping ErrUnavailable. See
// GetMultiPlain for a faster form without TTLs and marks.
func (m *Memcached) GetMulti(ctx context.Context, keys []string) (map[string]Item, error) {
	if m.hook != nil {
		return m.hookGetMulti(ctx, keys, false)
	}
	return m.getMultiKeys(ctx, keys, false)
}

// GetMultiPlain reads many items as GetMulti does, with one classic gets
// request per server instead of one mg per key: memcached answers a gets
// of 100 keys in one turn of its event loop, 100 mg in five (it serves 20
// requests of a connection per turn), so a 100-key GetMultiPlain takes
// about half the time of GetMulti. The items carry Value, Flags and CAS
// only: their TTL is TTLUnknown and Won, Stale and Busy are never set. A
// stale (invalidated) item reads as a fresh one, a lease placeholder as an
// empty value, and no win is taken. Use it where only values count (and
// flags and CAS); use GetMulti where a stale mark or a lease matters. With
// BinaryKeys, a server's batch holding a key that needs base64 is read
// with mg (those items then carry their TTL and marks).
func (m *Memcached) GetMultiPlain(ctx context.Context, keys []string) (map[string]Item, error) {
	if m.hook != nil {
		return m.hookGetMulti(ctx, keys, true)
	}
	return m.getMultiKeys(ctx, keys, true)
}

// getMultiKeys is GetMulti (GetMultiPlain if plain) without the hook.
func (m *Memcached) getMultiKeys(ctx context.Context, keys []string, plain bool) (map[string]Item, error) {
	for _, k := range keys {
		if err := m.checkKey(k); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return map[string]Item{}, nil
	}
	opt := memcache.GetMultiOptions{Classic: plain}
	if len(m.list) == 1 {
		s, err := m.pick(keys[0])
		if err != nil {
			return nil, err
		}
		var items map[string]Item
		err = m.getMulti(ctx, s, keys, opt, func(k string, it memcache.Item) {
			if items == nil {
				// Made at the first hit, while the server still works
				// on the rest of the batch.
				items = make(map[string]Item, len(keys))
			}
			putHit(items, k, it, plain)
		})
		if items == nil {
			items = map[string]Item{}
		}
		return items, err
	}
	// Each server's batch: its keys in request order (every occurrence
	// of a key in the same batch), all batches in one array.
	f := &fanout{m: m, ctx: ctx, opt: opt, n: len(keys), plain: plain}
	f.batches = f.batchBuf[:0]
	if len(m.list) > len(f.batchBuf) {
		f.batches = make([]batch, 0, len(m.list))
	}
	f.batches = f.batches[:len(m.list)]
	var ownerBuf [128]*mcServer
	owner := ownerBuf[:0]
	if len(keys) > len(ownerBuf) {
		owner = make([]*mcServer, 0, len(keys))
	}
	var firstErr error
	for _, k := range keys {
		s, err := m.pick(k)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
		} else {
			f.batches[s.index].n++
		}
		owner = append(owner, s)
	}
	all := f.keyBuf[:0]
	if len(keys) > len(f.keyBuf) {
		all = make([]string, 0, len(keys))
	}
	off := 0
	for i := range f.batches {
		f.batches[i].keys = all[off : off : off+f.batches[i].n]
		off += f.batches[i].n
	}
	for i, s := range owner {
		if s != nil {
			f.batches[s.index].keys = append(f.batches[s.index].keys, keys[i])
		}
	}
	// One goroutine per server but one, whose batch this goroutine reads:
	// read in turn, a server that hangs would hold up the replies of those
	// after it until ctx ends. Each batch is sent as soon as its
	// goroutine starts.
	f.sink = f.put
	read := f.read // one function value for all the goroutines
	own := -1
	for i := range f.batches {
		switch {
		case f.batches[i].n == 0:
		case own < 0:
			own = i
			f.next.Store(int64(i))
		default:
			f.wg.Add(1)
			go read()
		}
	}
	if own >= 0 {
		f.batches[own].err = m.getMulti(ctx, m.list[own], f.batches[own].keys, opt, f.sink)
	}
	f.wg.Wait()
	for _, b := range f.batches {
		firstErr = cmp.Or(firstErr, b.err)
	}
	if f.items == nil {
		f.items = map[string]Item{}
	}
	return f.items, firstErr
}

// batch is the part of a multi-get sent to one server.
type batch struct {
	keys []string
	n    int // len(keys) once filled
	err  error
}

// fanout is a multi-get over several servers: its batches, their keys
// and what the servers' goroutines share, in one allocation up to 4
// servers and 128 keys.
type fanout struct {
	m     *Memcached
	ctx   context.Context
	opt   memcache.GetMultiOptions
	sink  func(string, memcache.Item) // put, made once
	mu    sync.Mutex
	items map[string]Item // made at the first hit
	n     int             // keys asked for
	plain bool
	wg    sync.WaitGroup
	next  atomic.Int64 // the last batch index taken (see read)

	batches  []batch // one per server, by index
	batchBuf [4]batch
	keyBuf   [128]string
}

// read is the function of every goroutine of the multi-get: each takes the
// next non-empty batch after the last one taken (starting after the
// caller's own), so that the goroutines, as many as those batches, read
// one each.
func (f *fanout) read() {
	defer f.wg.Done()
	for {
		i := int(f.next.Add(1))
		if b := &f.batches[i]; b.n > 0 {
			b.err = f.m.getMulti(f.ctx, f.m.list[i], b.keys, f.opt, f.sink)
			return
		}
	}
}

// put adds a hit; it is called from every server's goroutine.
func (f *fanout) put(k string, it memcache.Item) {
	f.mu.Lock()
	if f.items == nil {
		// Made while the servers still work on the rest of the batches.
		f.items = make(map[string]Item, f.n)
	}
	putHit(f.items, k, it, f.plain)
	f.mu.Unlock()
}

// getMulti reads keys from s, handing each hit to hit.
func (m *Memcached) getMulti(ctx context.Context, s *mcServer, keys []string, opt memcache.GetMultiOptions, hit func(string, memcache.Item)) error {
	err := s.client.GetMulti(ctx, keys, opt, hit)
	m.record(s, err)
	return mapErr(err)
}

// putHit adds a hit of a multi-get to items, converted once. Of a key
// requested twice, the first read is kept (it is the one that may have won
// a stale item) unless plain is set: then the reads are alike and the last
// one is kept, which saves a map lookup per key.
func putHit(items map[string]Item, k string, it memcache.Item, plain bool) {
	if !plain {
		if _, dup := items[k]; dup {
			return
		}
	}
	items[k] = fromWire(it)
}

// Set implements Store.Set with one ms request. memcached 1.6.18 ignores
// ms's vivify flag, so an append or prepend with Vivify that finds no item
// adds it instead (and appends again if another writer added it first).
func (m *Memcached) Set(ctx context.Context, key string, value []byte, opt SetOptions) (uint64, error) {
	if m.hook != nil {
		return m.hookSet(ctx, key, value, opt)
	}
	return m.set(ctx, key, value, opt, nil)
}

// set is Set without the hook; it sets *srv to the server it asks.
func (m *Memcached) set(ctx context.Context, key string, value []byte, opt SetOptions, srv *string) (uint64, error) {
	if err := m.checkKey(key); err != nil {
		return 0, err
	}
	mode, ok := wireModes[opt.Mode]
	if !ok {
		return 0, fmt.Errorf("cachestruct: unknown SetMode %d", opt.Mode)
	}
	s, err := m.pick(key)
	if err != nil {
		return 0, err
	}
	if srv != nil {
		*srv = s.addr
	}
	wopt := memcache.SetOptions{Mode: mode, TTL: opt.TTL, Flags: opt.Flags, CAS: opt.CAS, Vivify: opt.Vivify}
	vivify := opt.Vivify && opt.CAS == 0 && (opt.Mode == ModeAppend || opt.Mode == ModePrepend)
	for attempt := 0; ; attempt++ {
		cas, err := s.client.Set(ctx, key, value, wopt)
		m.record(s, err)
		if !vivify || !errors.Is(err, memcache.ErrNotStored) || attempt == 8 {
			return cas, mapErr(err)
		}
		// Missing: create it (add), or append again if it appeared.
		if wopt.Mode == memcache.ModeAdd {
			wopt.Mode = mode
		} else {
			wopt.Mode = memcache.ModeAdd
		}
	}
}

var wireModes = map[SetMode]memcache.SetMode{
	ModeSet:     memcache.ModeSet,
	ModeAdd:     memcache.ModeAdd,
	ModeReplace: memcache.ModeReplace,
	ModeAppend:  memcache.ModeAppend,
	ModePrepend: memcache.ModePrepend,
}

// Delete implements Store.Delete with one md request.
func (m *Memcached) Delete(ctx context.Context, key string, opt DeleteOptions) error {
	if m.hook != nil {
		return m.hookDelete(ctx, key, opt)
	}
	return m.delete(ctx, key, opt, nil)
}

// delete is Delete without the hook; it sets *srv to the server it asks.
func (m *Memcached) delete(ctx context.Context, key string, opt DeleteOptions, srv *string) error {
	if err := m.checkKey(key); err != nil {
		return err
	}
	s, err := m.pick(key)
	if err != nil {
		return err
	}
	if srv != nil {
		*srv = s.addr
	}
	err = s.client.Delete(ctx, key, memcache.DeleteOptions{CAS: opt.CAS, Invalidate: opt.Invalidate, TTL: opt.TTL})
	m.record(s, err)
	return mapErr(err)
}

// Incr implements Store.Incr with one ma request (decrement mode for a
// negative delta).
func (m *Memcached) Incr(ctx context.Context, key string, delta int64, opt IncrOptions) (uint64, error) {
	if m.hook != nil {
		return m.hookIncr(ctx, key, delta, opt)
	}
	return m.incr(ctx, key, delta, opt, nil)
}

// incr is Incr without the hook; it sets *srv to the server it asks.
func (m *Memcached) incr(ctx context.Context, key string, delta int64, opt IncrOptions, srv *string) (uint64, error) {
	if err := m.checkKey(key); err != nil {
		return 0, err
	}
	s, err := m.pick(key)
	if err != nil {
		return 0, err
	}
	if srv != nil {
		*srv = s.addr
	}
	aopt := memcache.ArithOptions{Vivify: opt.Vivify, Initial: opt.Initial, TTL: opt.TTL}
	var n uint64
	if delta >= 0 {
		n, err = s.client.Incr(ctx, key, uint64(delta), aopt)
	} else {
		n, err = s.client.Decr(ctx, key, uint64(-delta), aopt) // -MinInt64 wraps to 1<<63, as wanted
	}
	m.record(s, err)
	return n, mapErr(err)
}

// checkKey validates key before anything else happens.
func (m *Memcached) checkKey(key string) error {
	if memcache.CheckKey(key, m.binary) != nil {
		return ErrInvalidKey
	}
	return nil
}

// fromWire converts a wire item.
func fromWire(it memcache.Item) Item {
	ttl := NoExpiry
	switch {
	case it.TTL >= 0:
		ttl = time.Duration(it.TTL) * time.Second
	case it.TTL == memcache.TTLUnknown:
		ttl = TTLUnknown
	}
	return Item{Value: it.Value, Flags: it.Flags, CAS: it.CAS, TTL: ttl, Won: it.Won, Stale: it.Stale, Busy: it.Busy}
}

// mapErr maps internal/memcache errors to the Store's sentinels. Context
// errors pass through unchanged.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, memcache.ErrNotStored):
		return ErrNotStored
	case errors.Is(err, memcache.ErrCASConflict):
		return ErrCASConflict
	case errors.Is(err, memcache.ErrNotNumber):
		return ErrNotNumber
	case errors.Is(err, memcache.ErrInvalidKey):
		return ErrInvalidKey
	case errors.Is(err, memcache.ErrValueTooLarge):
		return ErrValueTooLarge
	case errors.Is(err, memcache.ErrUnavailable), errors.Is(err, memcache.ErrClosed), errors.Is(err, memcache.ErrProtocol):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
