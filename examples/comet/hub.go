package main

import (
	"sync"
	"time"

	"github.com/twine-go/twine/deferred"
)

// historySize is how many recent messages a Hub keeps for subscribers that
// come back with ?since=: a browser between two polls misses nothing unless
// more than this many messages were published meanwhile.
const historySize = 64

// Message is one published message. IDs start at 1 and increase by one.
type Message struct {
	ID   uint64 `json:"id"`
	Text string `json:"text"`
}

// Hub is the COMET article's ClientManager (a list of waiting requests)
// rebuilt on Deferreds: each waiting
// subscriber is a *deferred.Deferred[Message] that Publish fires. Cancelling
// a subscriber's Deferred (the client went away, or its timeout passed)
// removes it from the hub, so nothing is kept for clients that are gone.
//
// The zero value is not usable; call NewHub. A Hub is safe for concurrent
// use by multiple goroutines. It starts no goroutines: Deferreds fire on the
// goroutine that calls Publish or Close, or that cancels them.
type Hub struct {
	mu      sync.Mutex
	waiting map[*deferred.Deferred[Message]]struct{}
	history []Message // the latest messages, oldest first, at most historySize
	lastID  uint64
	closed  bool
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{waiting: make(map[*deferred.Deferred[Message]]struct{})}
}

// Subscribe returns a Deferred that fires with the first message whose ID
// is greater than since, or, when since is 0, with the next message
// published. A retained message fires it at once. Cancel it to stop
// waiting: it then fails with deferred.ErrCancelled and leaves the hub.
// After Close, it fails with deferred.ErrCancelled at once.
func (h *Hub) Subscribe(since uint64) *deferred.Deferred[Message] {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return deferred.Fail[Message](deferred.ErrCancelled)
	}
	if since > 0 && since < h.lastID {
		for _, m := range h.history {
			if m.ID > since {
				return deferred.Succeed(m)
			}
		}
	}
	d := deferred.NewWithCanceller(h.remove)
	h.waiting[d] = struct{}{}
	return d
}

// remove is the canceller of a subscriber's Deferred: it forgets d, so that
// Publish does not fire it. Cancel then fails d with ErrCancelled.
func (h *Hub) remove(d *deferred.Deferred[Message]) {
	h.mu.Lock()
	delete(h.waiting, d)
	h.mu.Unlock()
}

// Publish records a message with text and fires every waiting subscriber
// with it, on the calling goroutine. It returns the message, how many
// subscribers it fired and how long firing them took.
func (h *Hub) Publish(text string) (msg Message, delivered int, took time.Duration) {
	h.mu.Lock()
	h.lastID++
	msg = Message{ID: h.lastID, Text: text}
	if len(h.history) == historySize {
		h.history = append(h.history[:0], h.history[1:]...)
	}
	h.history = append(h.history, msg)
	waiting := h.waiting
	h.waiting = make(map[*deferred.Deferred[Message]]struct{}, len(waiting))
	h.mu.Unlock()

	// Fire outside the lock: the callbacks (the waiting handlers wake up)
	// may subscribe again at once.
	start := time.Now()
	for d := range waiting {
		// A subscriber cancelled after we took the map has a result
		// already; its Callback reports ErrAlreadyCalled and does nothing.
		if d.Callback(msg) == nil {
			delivered++
		}
	}
	return msg, delivered, time.Since(start)
}

// Waiting returns the number of subscribers waiting for a message.
func (h *Hub) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiting)
}

// Close cancels every waiting subscriber and makes later Subscribe calls
// fail at once; the server calls it when it shuts down, so that no handler
// holds its request until its timeout.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	waiting := h.waiting
	h.waiting = make(map[*deferred.Deferred[Message]]struct{})
	h.mu.Unlock()
	for d := range waiting {
		d.Cancel()
	}
}
