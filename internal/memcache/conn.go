package memcache

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// A conn is one connection to a server, shared by many callers: requests
// are pipelined and replies come back in order. It starts no goroutine.
//
// Writing: a caller appends its request to wbuf under mu and pushes its
// call on pending. If nobody is writing, it becomes the writer and writes
// wbuf, then whatever other callers appended meanwhile, until wbuf is empty
// (flat combining: under load one write carries many requests, without a
// writer goroutine and its hand-off at low load).
//
// Reading: the callers read too. A caller waiting for its reply takes the
// read role (rsem) when it is free, reads replies in pending order,
// completes the calls they belong to, and gives the role up once its own
// call is complete; a caller alone on the connection thus reads its own
// reply, with no hand-off between goroutines. A caller whose ctx ends
// abandons its call and returns at once; whoever reads next consumes that
// call's reply and drops it. A reader whose ctx ends before a reply has
// started leaves the connection in step; one that ends in the middle of a
// reply, any read or write error, a malformed reply, and Timeout without
// progress while replies are due break the connection: it is closed and
// every pending call fails.
type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	addr     string
	timeout  time.Duration
	itemSize *atomic.Int64 // the client's item size; replies may hold up to twice it
	dead     atomic.Bool
	rsem     chan struct{} // holds a token while a caller has the read role

	mu      sync.Mutex
	wbuf    []byte
	spare   []byte
	writing bool
	pending []*call   // calls whose replies are due, oldest first
	head    int       // index of the oldest pending call
	err     error     // set when the conn failed; no new calls then
	since   time.Time // last progress: when replies became due or one was read
	// reading: a caller holds the read role. While it does and replies
	// are due, new requests wait in wbuf: the reader writes them when the
	// next replies arrive, before it blocks, and when it gives up the role,
	// so that under load one write carries the requests of many callers
	// (and a lone caller still writes at once).
	reading   bool
	readerGen uint64    // counts the holders of the read role
	rdl       time.Time // read deadline set last (under mu)
	wdl       time.Time // write deadline set last (by the writer)
}

func newConn(nc net.Conn, addr string, timeout time.Duration, itemSize *atomic.Int64) *conn {
	return &conn{
		nc:       nc,
		br:       bufio.NewReaderSize(nc, 16<<10),
		addr:     addr,
		timeout:  timeout,
		itemSize: itemSize,
		rsem:     make(chan struct{}, 1),
		wbuf:     make([]byte, 0, 4096),
		spare:    make([]byte, 0, 4096),
	}
}

// wait waits until cl is complete, reading replies itself whenever the
// read role is free, or until ctx ends: then cl is abandoned (whoever
// reads its reply recycles it) and wait returns ctx's error. When wait
// returns nil the caller owns cl again and must putCall it.
func (c *conn) wait(ctx context.Context, cl *call) error {
	for {
		select {
		case <-cl.done:
			return nil
		case c.rsem <- struct{}{}:
			c.readFor(ctx, cl)
			<-c.rsem
			if cl.state.Load() != callDone && ctx.Err() == nil {
				continue
			}
		case <-ctx.Done():
		}
		if cl.state.CompareAndSwap(callWaiting, callAbandoned) {
			return ctxErr(ctx)
		}
		<-cl.done // completed meanwhile
		return nil
	}
}

// send queues cl to receive the reply of r and makes sure r gets
// written. It returns the connection's error, without queueing cl, when the
// connection is already broken. When a write fails later, cl is completed
// with the error like every other pending call.
func (c *conn) send(ctx context.Context, cl *call, r *req) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.wbuf = r.appendTo(c.wbuf)
	due := len(c.pending) > c.head
	var now time.Time
	if !due {
		now = time.Now()
		c.since = now // replies are due from now on
	}
	c.pending = append(c.pending, cl)
	if !c.writing && !(c.reading && due) {
		c.flushLocked(ctx, now)
	}
	c.mu.Unlock()
	return nil
}

// flushLocked writes wbuf, and what other callers append meanwhile, until
// it is empty. c.mu must be held and nobody else writing; it is released
// during the writes. now is the current time, or zero.
//
// A write may block only when the server stops reading (hung, buffers
// full): it is bounded by Timeout (the deadline set for an earlier write is
// kept while it is at least Timeout/2 away, which saves a timer update per
// request) and by ctx's deadline unless ctx has already ended (the data
// then belongs to other callers). A write cut short breaks the connection.
func (c *conn) flushLocked(ctx context.Context, now time.Time) {
	c.writing = true
	for len(c.wbuf) > 0 && c.err == nil {
		buf := c.wbuf
		c.wbuf = c.spare[:0]
		c.mu.Unlock()
		if now.IsZero() {
			now = time.Now()
		}
		dl := now.Add(c.timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(dl) && ctx.Err() == nil {
			dl = d
		}
		if c.wdl.After(dl) || c.wdl.Before(now.Add(c.timeout/2)) {
			c.wdl = dl
			_ = c.nc.SetWriteDeadline(dl)
		}
		_, err := c.nc.Write(buf)
		now = time.Time{}
		c.mu.Lock()
		c.spare = buf[:0]
		if err != nil {
			c.failLocked(&NetError{Addr: c.addr, Op: "write", Err: err})
		}
	}
	c.writing = false
}

// failLocked breaks the connection: it records err, closes the socket and
// completes every pending call with err. c.mu must be held.
func (c *conn) failLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	c.dead.Store(true)
	_ = c.nc.Close()
	for _, cl := range c.pending[c.head:] {
		cl.err = err
		cl.complete()
	}
	clear(c.pending)
	c.pending, c.head = c.pending[:0], 0
}

// close breaks the connection with err.
func (c *conn) close(err error) {
	c.mu.Lock()
	c.failLocked(err)
	c.mu.Unlock()
}

// aLongTimeAgo is a deadline in the past: it interrupts a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// readFor reads replies and completes their calls until cl is complete,
// the connection breaks, or ctx ends before a reply has started. The
// caller holds the read role.
func (c *conn) readFor(ctx context.Context, cl *call) {
	c.mu.Lock()
	c.reading = true
	c.readerGen++
	gen := c.readerGen
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reading = false
		c.flushQueuedLocked(ctx)
		c.mu.Unlock()
	}()
	if ctx.Done() != nil {
		// A cancellation interrupts the blocked read, unless the role has
		// passed on meanwhile.
		stop := context.AfterFunc(ctx, func() {
			c.mu.Lock()
			if c.reading && c.readerGen == gen {
				c.rdl = aLongTimeAgo
				_ = c.nc.SetReadDeadline(aLongTimeAgo)
			}
			c.mu.Unlock()
		})
		defer stop()
	}
	for cl.state.Load() == callWaiting {
		if c.br.Buffered() == 0 && !c.awaitReply(ctx) {
			return
		}
		next := c.popPending()
		if next == nil {
			return
		}
		c.readReplyOf(next, next == cl)
		if c.dead.Load() {
			return
		}
	}
}

// awaitReply waits until the first byte of the next reply is buffered and
// reports whether it is. Before blocking it sends what was queued
// meanwhile (so that the senders need not write themselves) and bounds the
// wait by Timeout and ctx's deadline. It returns false when the connection
// broke (a read error, or Timeout without progress: the connection is
// failed), when no reply is due any more (the caller's call completed
// meanwhile), and when ctx ended: until a reply has started, an
// interrupted wait leaves the connection in step.
func (c *conn) awaitReply(ctx context.Context) bool {
	ctxDeadline, hasDeadline := ctx.Deadline()
	for {
		c.mu.Lock()
		c.flushQueuedLocked(ctx)
		if c.err != nil || c.head == len(c.pending) {
			c.mu.Unlock()
			return false
		}
		// The deadline set before is kept when it is no later than this
		// one and at least Timeout/2 away (one timer update less per
		// request); if it fires early, the loop re-arms it.
		now := time.Now()
		dl := c.since.Add(c.timeout)
		timeoutAt := dl
		if hasDeadline && ctxDeadline.Before(dl) {
			dl = ctxDeadline
		}
		if c.rdl.After(dl) || c.rdl.Before(now.Add(c.timeout/2)) {
			c.rdl = dl
			_ = c.nc.SetReadDeadline(dl)
		}
		c.mu.Unlock()

		_, err := c.br.Peek(1)
		if err == nil {
			// Replies arrived: send the requests queued meanwhile, so
			// the server works on them while we parse.
			c.mu.Lock()
			c.flushQueuedLocked(ctx)
			c.mu.Unlock()
			return true
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(timeoutAt) {
			c.fail(c.netErr(err))
			return false
		}
		c.mu.Lock()
		c.rdl = time.Time{} // re-arm exactly next time
		c.mu.Unlock()
		if ctx.Err() != nil || (hasDeadline && !time.Now().Before(ctxDeadline)) {
			return false // our ctx ended: leave the reading to others
		}
		// A stale interruption (a ctx of an earlier reader): wait again.
	}
}

// popPending takes the oldest pending call off the queue: from then on
// only the reader touches it, until it completes it. It returns nil when
// the connection is broken, and fails it when a reply came with no
// request pending.
func (c *conn) popPending() *call {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil
	}
	if c.head == len(c.pending) {
		c.failLocked(protoErr("reply without a request"))
		return nil
	}
	next := c.pending[c.head]
	c.pending[c.head] = nil
	c.head++
	if c.head == len(c.pending) {
		c.pending, c.head = c.pending[:0], 0
	}
	return next
}

// readReplyOf reads the reply of cl, popped off pending, and completes
// cl. An error that leaves the connection out of step fails it (and cl
// with it). own: the goroutine reading is cl's caller.
func (c *conn) readReplyOf(cl *call, own bool) {
	err := c.readCall(cl, own)
	if err != nil && !inStep(err, cl) {
		cl.err = c.netErr(err)
		c.fail(cl.err)
		cl.complete()
		return
	}
	c.mu.Lock()
	if c.head < len(c.pending) {
		c.since = time.Now() // progress, and more replies are due
	}
	c.mu.Unlock()
	cl.err = err
	cl.complete()
}

// flushQueuedLocked writes the queued requests unless someone is writing
// already. c.mu must be held.
func (c *conn) flushQueuedLocked(ctx context.Context) {
	if len(c.wbuf) > 0 && !c.writing && c.err == nil {
		c.flushLocked(ctx, time.Time{})
	}
}

// fail breaks the connection with err.
func (c *conn) fail(err error) {
	c.mu.Lock()
	c.failLocked(err)
	c.mu.Unlock()
}

// inStep reports whether the connection is still in step after cl's reply
// ended in err: true for error lines that answer a whole request, false
// for ERROR (the server did not understand a command), a CLIENT_ERROR
// answering a request with a data block (the server may read the block as
// a command) and every framing or network error.
func inStep(err error, cl *call) bool {
	var se *ServerError
	if !errors.As(err, &se) {
		return false
	}
	return se.Kind == "SERVER_ERROR" || (se.Kind == "CLIENT_ERROR" && !cl.data)
}

// netErr wraps a read error as a *NetError; protocol errors stay as they
// are.
func (c *conn) netErr(err error) error {
	var se *ServerError
	if errors.Is(err, ErrProtocol) || errors.As(err, &se) {
		return err
	}
	return &NetError{Addr: c.addr, Op: "read", Err: err}
}

// readCall reads the reply of cl into it. own: the goroutine reading is
// cl's caller.
func (c *conn) readCall(cl *call, own bool) error {
	switch cl.kind {
	case kindMeta:
		return readReply(c.br, &cl.rep, c.maxValue(), nil, 0)
	case kindMulti:
		return readMulti(c.br, cl, c.maxValue(), own)
	case kindGets:
		return readGets(c.br, cl, c.maxValue(), own)
	default:
		s, err := readStats(c.br)
		cl.stats = s
		return err
	}
}

// maxValue is the largest data block the connection accepts in a reply:
// memcached's largest item size (-I 1024m) or twice the client's item size
// if larger. Values stored by clients with larger limits are still read;
// the reply parser allocates large values as their data arrives, so a
// corrupt length cannot make it allocate without bound.
func (c *conn) maxValue() int {
	return max(maxServerItemSize, 2*int(c.itemSize.Load()))
}

// maxServerItemSize is memcached's largest -I setting.
const maxServerItemSize = 1 << 30
