package memcache

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A conn is one connection to a server, shared by many callers: requests
// are pipelined and replies come back in order.
//
// Writing: a caller appends its request to wbuf under mu and pushes its
// call on pending. If nobody is writing, it becomes the writer and writes
// wbuf, then whatever other callers appended meanwhile, until wbuf is empty
// (flat combining: under load one write carries many requests, without a
// writer goroutine and its hand-off at low load).
//
// Reading: one goroutine per conn (readLoop) parses replies and completes
// the calls in pending order. A caller whose ctx ends abandons its call
// and returns at once; the reader still consumes that call's reply and
// drops it, so the connection never gets out of step. Any read or write
// error, a malformed reply, or Timeout without progress while replies are
// due closes the connection and fails every pending call.
type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	addr     string
	timeout  time.Duration
	maxValue int
	dead     atomic.Bool
	done     chan struct{} // closed when readLoop returns

	mu       sync.Mutex
	wbuf     []byte
	spare    []byte
	writing  bool
	pending  []*call // calls whose replies are due, oldest first
	head     int     // index of the oldest pending call
	err      error   // set when the conn failed; no new calls then
	deadline bool    // a read deadline is set
}

func newConn(nc net.Conn, addr string, timeout time.Duration, maxValue int) *conn {
	c := &conn{
		nc:       nc,
		br:       bufio.NewReaderSize(nc, 16<<10),
		addr:     addr,
		timeout:  timeout,
		maxValue: maxValue,
		done:     make(chan struct{}),
		wbuf:     make([]byte, 0, 4096),
		spare:    make([]byte, 0, 4096),
	}
	go c.readLoop()
	return c
}

// callKind says how a call's reply is framed.
type callKind uint8

const (
	kindMeta    callKind = iota // one meta reply
	kindMulti                   // quiet meta replies up to MN
	kindVersion                 // VERSION line
	kindStats                   // STAT lines up to END
)

// call is one request in flight and, once done, its result.
type call struct {
	kind  callKind
	data  bool          // the request carries a data block
	state atomic.Uint32 // callWaiting, callDone or callAbandoned
	done  chan struct{} // receives once when state becomes callDone

	rep   reply
	err   error
	multi []hit // kindMulti: the hits, by request index
	text  string
	stats map[string]string
}

// hit is one item of a multi-get reply, by the index of its key.
type hit struct {
	index int
	item  Item
}

const (
	callWaiting uint32 = iota
	callDone
	callAbandoned
)

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func getCall(kind callKind) *call {
	cl := callPool.Get().(*call)
	cl.kind = kind
	cl.data = false
	cl.state.Store(callWaiting)
	return cl
}

func putCall(cl *call) {
	cl.rep = reply{}
	cl.err = nil
	cl.multi = cl.multi[:0]
	cl.text = ""
	cl.stats = nil
	callPool.Put(cl)
}

// complete hands the result to the waiting caller, or recycles the call
// if its caller left.
func (cl *call) complete() {
	if cl.state.CompareAndSwap(callWaiting, callDone) {
		cl.done <- struct{}{}
		return
	}
	putCall(cl)
}

// wait waits for the call to complete or ctx to end. On ctx's end the call
// is abandoned (the reader recycles it) and wait returns ctx's error;
// otherwise the caller owns cl again and must putCall it.
func (cl *call) wait(ctx context.Context) error {
	select {
	case <-cl.done:
		return nil
	case <-ctx.Done():
		if cl.state.CompareAndSwap(callWaiting, callAbandoned) {
			return ctxErr(ctx)
		}
		<-cl.done // completed meanwhile
		return nil
	}
}

// ctxErr returns ctx's error, with its cause when there is one, so that
// errors.Is(err, ctx.Err()) holds.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return errors.Join(err, cause)
	}
	return err
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
	if len(c.pending) == c.head && !c.deadline {
		// Replies are due now: the reader must not wait forever.
		_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
		c.deadline = true
	}
	c.pending = append(c.pending, cl)
	if c.writing {
		c.mu.Unlock()
		return nil
	}
	c.writing = true
	for len(c.wbuf) > 0 && c.err == nil {
		buf := c.wbuf
		c.wbuf = c.spare[:0]
		c.mu.Unlock()
		dl := time.Now().Add(c.timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		_ = c.nc.SetWriteDeadline(dl)
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		c.spare = buf[:0]
		if err != nil {
			c.failLocked(&NetError{Addr: c.addr, Op: "write", Err: err})
		}
	}
	c.writing = false
	c.mu.Unlock()
	return nil
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

// close breaks the connection with err and waits for its reader to end.
func (c *conn) close(err error) {
	c.mu.Lock()
	c.failLocked(err)
	c.mu.Unlock()
	<-c.done
}

// readLoop reads replies and completes calls until the connection fails.
func (c *conn) readLoop() {
	defer close(c.done)
	for {
		// Wait for the first byte of a reply (or an error) without
		// holding the lock.
		_, err := c.br.Peek(1)
		c.mu.Lock()
		if err == nil && len(c.pending) == c.head {
			err = protoErr("reply without a request")
		}
		if err != nil {
			c.failLocked(c.netErr(err))
			c.mu.Unlock()
			return
		}
		// Take the call off pending: from here on only this goroutine
		// touches it, until it completes it.
		cl := c.pending[c.head]
		c.pending[c.head] = nil
		c.head++
		if c.head == len(c.pending) {
			c.pending, c.head = c.pending[:0], 0
		}
		c.mu.Unlock()

		err = c.readCall(cl)
		if err != nil && !inStep(err, cl) {
			cl.err = c.netErr(err)
			c.mu.Lock()
			c.failLocked(cl.err)
			c.mu.Unlock()
			cl.complete()
			return
		}

		c.mu.Lock()
		if c.err == nil {
			// Replies still due get a fresh Timeout; none: no deadline.
			if c.head == len(c.pending) {
				_ = c.nc.SetReadDeadline(time.Time{})
				c.deadline = false
			} else {
				_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
			}
		}
		c.mu.Unlock()
		cl.err = err
		cl.complete()
	}
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

// readCall reads the reply of cl into it.
func (c *conn) readCall(cl *call) error {
	switch cl.kind {
	case kindMeta:
		return readReply(c.br, &cl.rep, c.maxValue)
	case kindMulti:
		return readMulti(c.br, cl, c.maxValue)
	case kindVersion:
		v, err := readVersion(c.br)
		cl.text = v
		return err
	default:
		s, err := readStats(c.br)
		cl.stats = s
		return err
	}
}

// readMulti reads quiet mg replies up to MN, collecting hits by opaque.
// Error lines answer single requests of the batch: the first one is
// returned once the batch is read to its end.
func readMulti(br *bufio.Reader, cl *call, maxValue int) error {
	var r reply
	var first error
	for {
		if err := readReply(br, &r, maxValue); err != nil {
			var se *ServerError
			if !errors.As(err, &se) || se.Kind == "ERROR" {
				return err
			}
			if first == nil {
				first = err
			}
			continue
		}
		switch r.code {
		case codeMN:
			return first
		case codeVA:
			if r.opaque < 0 {
				return protoErr("multi-get hit without opaque")
			}
			cl.multi = append(cl.multi, hit{index: r.opaque, item: r.item()})
		case codeEN:
		default:
			return protoErr("unexpected %s in multi-get", r.code[:])
		}
	}
}
