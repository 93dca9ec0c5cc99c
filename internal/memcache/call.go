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
	kindMeta    callKind = iota // one meta reply
	kindMulti                   // one meta reply per key (nkeys)
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
	nkeys int   // kindMulti: the number of requests
	// kindMulti, optional: the caller's hit function and the keys of the
	// requests, for the caller to take its hits while it reads its own
	// reply.
	sink     func(key string, it Item)
	sinkKeys []string
	text     string
	stats    map[string]string
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
	cl.text = ""
	cl.stats = nil
	cl.sink, cl.sinkKeys = nil, nil
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
