// Package memcache is a client for one memcached server speaking the meta
// protocol (mg, ms, md, ma, mn, and the classic gets for multi-gets that
// need no TTL), with pipelined connections and a context on every call.
//
// The files: requests are formatted in request.go and replies parsed in
// reply.go; conn.go shares a connection between callers (pipelining, the
// read role, deadlines); commands.go holds the commands.
//
// Keys and values are checked before anything is sent: a key that could
// break the protocol's framing never reaches the wire unencoded.
package memcache

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultConns       = 2
	DefaultTimeout     = time.Second
	DefaultDialTimeout = time.Second
	DefaultMaxItemSize = 1 << 20
)

// Config configures a Client. The zero value is usable: every zero field
// means the documented default.
type Config struct {
	// Conns is the number of connections to the server (default
	// DefaultConns); the client never opens more. Each connection
	// pipelines the requests of many callers, so a few are enough for any
	// number of goroutines.
	Conns int
	// Timeout bounds how long a connection may wait for a reply without
	// receiving anything (default DefaultTimeout). When it passes, the
	// connection is closed and its pending calls fail with a *NetError
	// that is a timeout. Callers return earlier when their ctx ends.
	Timeout time.Duration
	// DialTimeout bounds each dial (default DefaultDialTimeout), in
	// addition to the caller's ctx.
	DialTimeout time.Duration
	// MaxItemSize is the server's item size (memcached -I): a Set whose
	// item would be larger (see ItemOverhead) reports ErrValueTooLarge
	// without being sent. A value the server refuses itself costs the
	// key its old value: memcached deletes it.
	//
	// Zero means the server's own: each new connection, before its first
	// request, asks "stats settings" and values are checked against its
	// item_size_max from then on, so a server restarted with another -I
	// is learnt again when the client reconnects. This costs one round
	// trip per connection opened, none per request. Until a connection
	// has answered, and when a server answers without a usable
	// item_size_max (an error line, as from a proxy that does not know the
	// command), the size is the one learnt last, DefaultMaxItemSize (1 MiB)
	// before any; a connection that fails to answer (network error,
	// DialTimeout, a malformed reply) fails like a failed dial.
	// LoadMaxItemSize reads the size at any time.
	MaxItemSize int
	// BinaryKeys allows keys with any bytes: keys that are not valid text
	// keys are sent base64 encoded (see CheckKey).
	BinaryKeys bool
	// Dial, if set, opens connections instead of net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client is a client of one memcached server. It is safe for concurrent use
// by multiple goroutines. It starts no goroutines: callers write and read
// the shared connections themselves.
//
// A call that returns because its ctx ended may still be executed by the
// server: its request may already be on the wire. Its reply, if any, is
// read and dropped later, so the connection stays in step.
type Client struct {
	addr        string
	cfg         Config
	slots       []slot
	next        atomic.Uint32
	closed      atomic.Bool
	maxItemSize atomic.Int64
	learn       bool // MaxItemSize is learnt from the server
	now         func() time.Time
}

// slot holds one of the client's connections, dialled lazily and again
// after it breaks.
type slot struct {
	c       atomic.Pointer[conn]
	mu      sync.Mutex
	dialing chan struct{} // closed when the dial in progress ends
}

// New returns a client of the server at addr ("host:port"). It does not
// connect: connections are opened by the first calls that need them.
func New(addr string, cfg Config) *Client {
	if cfg.Conns <= 0 {
		cfg.Conns = DefaultConns
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	learn := cfg.MaxItemSize <= 0
	if learn {
		cfg.MaxItemSize = DefaultMaxItemSize
	}
	if cfg.Dial == nil {
		d := &net.Dialer{}
		cfg.Dial = d.DialContext
	}
	c := &Client{addr: addr, cfg: cfg, slots: make([]slot, cfg.Conns), learn: learn, now: time.Now}
	c.maxItemSize.Store(int64(cfg.MaxItemSize))
	return c
}

// MaxItemSize returns the item size values are checked against: the
// configured one, or the one learnt last from the server.
func (c *Client) MaxItemSize() int { return int(c.maxItemSize.Load()) }

// Close closes every connection; pending calls fail with ErrClosed and
// later calls report ErrClosed.
func (c *Client) Close() error {
	c.closed.Store(true)
	for i := range c.slots {
		s := &c.slots[i]
		s.mu.Lock()
		cn := s.c.Swap(nil)
		s.mu.Unlock()
		if cn != nil {
			cn.close(ErrClosed)
		}
	}
	return nil
}

// conn returns a live connection, dialling one if needed.
func (c *Client) conn(ctx context.Context) (*conn, error) {
	s := &c.slots[int(c.next.Add(1)%uint32(len(c.slots)))]
	for {
		if cn := s.c.Load(); cn != nil && !cn.dead.Load() {
			return cn, nil
		}
		s.mu.Lock()
		if c.closed.Load() {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if cn := s.c.Load(); cn != nil && !cn.dead.Load() {
			s.mu.Unlock()
			return cn, nil
		}
		if ch := s.dialing; ch != nil {
			// Another caller is dialling this slot: wait for it.
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctxErr(ctx)
			}
		}
		ch := make(chan struct{})
		s.dialing = ch
		s.mu.Unlock()

		cn, err := c.dial(ctx)

		s.mu.Lock()
		s.dialing = nil
		if err == nil {
			if c.closed.Load() {
				err = ErrClosed
			} else if old := s.c.Swap(cn); old != nil {
				old.close(ErrClosed) // already dead
			}
		}
		s.mu.Unlock()
		close(ch)
		if err != nil {
			if cn != nil {
				cn.close(err)
			}
			return nil, err
		}
		return cn, nil
	}
}

// dial opens a connection within ctx and DialTimeout and, when the item
// size is learnt from the server, asks it on the new connection.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	nc, err := c.cfg.Dial(dctx, "tcp", c.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxErr(ctx)
		}
		return nil, &NetError{Addr: c.addr, Op: "dial", Err: err}
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	cn := newConn(nc, c.addr, c.cfg.Timeout, &c.maxItemSize)
	if c.learn {
		if err := c.learnItemSize(dctx, cn); err != nil {
			cn.close(err)
			if ctx.Err() != nil {
				return nil, ctxErr(ctx)
			}
			return nil, err
		}
	}
	return cn, nil
}

// do sends r and waits for its reply. On success the caller owns the
// returned call (putCall it when done); its err field holds the reply's
// error, if any.
func (c *Client) do(ctx context.Context, r *req, kind callKind) (*call, error) {
	cn, cl, err := c.start(ctx, r, kind)
	if err != nil {
		return nil, err
	}
	if err := cn.wait(ctx, cl); err != nil {
		return nil, err
	}
	return cl, nil
}

// doIdempotent is do for requests that change nothing on the server. When
// a connection turns out to be broken (the server restarted or closed it
// while it sat idle: a reset or EOF, not a timeout), the request is sent
// again on another or a new connection, at most once per connection, so a
// restarted server costs its readers no error.
func (c *Client) doIdempotent(ctx context.Context, r *req, kind callKind) (*call, error) {
	for attempt := 0; ; attempt++ {
		cl, err := c.do(ctx, r, kind)
		if err == nil {
			err = cl.err
		}
		if err == nil || !brokenConn(err) || attempt == len(c.slots) || ctx.Err() != nil {
			if cl == nil {
				return nil, err
			}
			return cl, nil
		}
		if cl != nil {
			putCall(cl)
		}
	}
}

// brokenConn reports whether err says an established connection broke.
// (Its errors.As target escapes: call it only with a non-nil error.)
func brokenConn(err error) bool {
	var ne *NetError
	return errors.As(err, &ne) && ne.Op != "dial" && !ne.Timeout()
}

// start sends r on one of the connections and returns the call that will
// receive its reply.
func (c *Client) start(ctx context.Context, r *req, kind callKind) (*conn, *call, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, ctxErr(ctx)
	}
	// A value is checked against a configured item size before
	// connecting, against a learnt one once the connection is open (a new
	// connection learns it before its first request).
	if r.op == 's' && !c.learn && c.tooLarge(r) {
		return nil, nil, ErrValueTooLarge
	}
	cn, err := c.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if r.op == 's' && c.learn && c.tooLarge(r) {
		return nil, nil, ErrValueTooLarge
	}
	cl := getCall(kind)
	cl.data = r.op == 's'
	cl.keys = r.keys
	if err := cn.send(ctx, cl, r); err != nil {
		putCall(cl)
		return nil, nil, err
	}
	return cn, cl, nil
}

// ttl converts d to memcached's expiration time: whole seconds rounded
// up, 0 for no expiry, -1 for expired at once, and an absolute Unix time
// beyond 30 days.
func (c *Client) ttl(d time.Duration) int64 {
	switch {
	case d == 0:
		return 0
	case d < 0:
		return -1
	}
	s := WholeSeconds(d)
	if s > 30*24*3600 {
		s += c.now().Unix()
	}
	return s
}

// WholeSeconds returns d in whole seconds, a fraction of a second rounded
// up (towards +∞), as memcached counts a TTL: 1ms is 1, 1.5s is 2, -1.5s
// is -1.
func WholeSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}
