package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/twine-go/twine/deferred"
)

//go:embed index.html
var indexHTML []byte

// maxMessage bounds the size of a published message.
const maxMessage = 4 << 10

// server serves the COMET endpoints on top of a Hub:
//
//	GET  /                   the demo page
//	GET  /subscribe[?since=N] hold the request until a message arrives:
//	                         200 {"id":…,"text":…}, or after the hold
//	                         timeout 204 No Content (poll again)
//	POST /publish            form field "message": broadcast it,
//	                         200 {"id":…,"delivered":…,"fanout_us":…}
//	GET  /stats[?gc]         subscribers waiting, goroutines, memory (gc
//	                         collects first: a measuring aid for the load
//	                         test; drop it from a public server)
type server struct {
	hub     *Hub
	timeout time.Duration // how long /subscribe holds a request
	clock   deferred.Clock
}

func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /subscribe", s.subscribe)
	mux.HandleFunc("POST /publish", s.publish)
	mux.HandleFunc("GET /stats", s.stats)
	return mux
}

func (s *server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(indexHTML)
}

// subscribe is the long poll. The request's goroutine blocks on the
// subscriber's Deferred until Publish fires it, its timeout cancels it, or
// the client goes away; in the last case the handler cancels the Deferred,
// which takes it out of the hub.
func (s *server) subscribe(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		var err error
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			http.Error(w, "since: not a message id", http.StatusBadRequest)
			return
		}
	}
	d := s.hub.Subscribe(since).AddTimeout(s.timeout, s.clock)
	msg, err := d.Wait(r.Context())
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, msg)
	case r.Context().Err() != nil:
		// The client disconnected: nobody reads this response. Cancel
		// the Deferred (it leaves the hub) and read its outcome, so
		// that the cancellation is not reported as an unhandled error.
		d.Cancel()
		_, _, _ = d.Result()
	case errors.Is(err, deferred.ErrTimeout):
		w.WriteHeader(http.StatusNoContent)
	default: // ErrCancelled: the server is shutting down
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	}
}

type publishReply struct {
	ID        uint64 `json:"id"`
	Delivered int    `json:"delivered"`
	FanoutUS  int64  `json:"fanout_us"`
}

func (s *server) publish(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxMessage+1024)
	text := r.FormValue("message")
	switch {
	case text == "":
		http.Error(w, "message: required", http.StatusBadRequest)
		return
	case len(text) > maxMessage:
		http.Error(w, "message: too long", http.StatusRequestEntityTooLarge)
		return
	}
	msg, n, took := s.hub.Publish(text)
	writeJSON(w, http.StatusOK, publishReply{ID: msg.ID, Delivered: n, FanoutUS: took.Microseconds()})
}

// stats is what the load test reads from a server in another process.
type stats struct {
	Subscribers int    `json:"subscribers"`
	Goroutines  int    `json:"goroutines"`
	HeapInuse   uint64 `json:"heap_inuse"`
	StackInuse  uint64 `json:"stack_inuse"`
}

func (s *server) stats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("gc") {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeJSON(w, http.StatusOK, stats{
		Subscribers: s.hub.Waiting(),
		Goroutines:  runtime.NumGoroutine(),
		HeapInuse:   ms.HeapInuse,
		StackInuse:  ms.StackInuse,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
