package memcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// callKind says how a call's reply is framed.
type callKind uint8

const (
	kindMeta  callKind = iota // one meta reply
	kindMulti                 // one meta reply per key of keys
	kindGets                  // a classic gets reply: VALUE blocks, END
	kindStats                 // STAT lines up to END
)

// call is one request in flight and, once done, its result.
type call struct {
	kind  callKind
	data  bool          // the request carries a data block
	state atomic.Uint32 // callWaiting, callDone or callAbandoned
	done  chan struct{} // receives once when state becomes callDone

	rep   reply
	err   error
	stats map[string]string

	// Multi-gets (kindMulti, kindGets): the keys asked for, the caller's
	// hit function, and the hits read by another goroutine than the
	// caller (see take).
	keys  []string
	sink  func(key string, it Item)
	multi []hit
}

// take hands the hit of the request for cl.keys[i] to the caller: to its
// sink when own is set (the caller itself reads its reply, so it takes its
// hits while the server still works on the rest of the batch), else to
// cl.multi, which the caller reads once the call is complete. Another
// goroutine never calls the sink: the caller may have abandoned the call
// and gone on.
func (cl *call) take(i int, it Item, own bool) {
	if own && cl.sink != nil {
		cl.sink(cl.keys[i], it)
		return
	}
	cl.multi = append(cl.multi, hit{index: i, item: it})
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
	clear(cl.multi) // drop references to values
	cl.multi = cl.multi[:0]
	cl.stats = nil
	cl.keys, cl.sink = nil, nil
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

// ctxErr returns ctx's error, with its cause when there is one, so that
// errors.Is(err, ctx.Err()) holds.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return errors.Join(err, cause)
	}
	return err
}
