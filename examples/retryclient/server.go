package main

import (
	"io"
	"net/http"
	"strconv"
	"sync"
)

// flakyServer is the demo's misbehaving service. Each path counts its own
// hits, so every scenario starts from a clean slate:
//
//	GET  /flaky/{id}?fail=N    503 for the first N hits, then 200 "ok"
//	GET  /throttle/{id}?after=S  429 with Retry-After: S once, then 200 "ok"
//	GET  /bad                  400 always
//	GET  /down                 503 always (a server down hard)
//	POST /echo/{id}            503 once, then 200 with the request body
type flakyServer struct {
	mu   sync.Mutex
	hits map[string]int
	mux  *http.ServeMux
}

func newFlakyServer() *flakyServer {
	s := &flakyServer{hits: map[string]int{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /flaky/{id}", func(w http.ResponseWriter, r *http.Request) {
		fail, _ := strconv.Atoi(r.URL.Query().Get("fail"))
		if s.hit(r) <= fail {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	s.mux.HandleFunc("GET /throttle/{id}", func(w http.ResponseWriter, r *http.Request) {
		if s.hit(r) == 1 {
			w.Header().Set("Retry-After", r.URL.Query().Get("after"))
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	s.mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) {
		s.hit(r)
		http.Error(w, "bad request", http.StatusBadRequest)
	})
	s.mux.HandleFunc("GET /down", func(w http.ResponseWriter, r *http.Request) {
		s.hit(r)
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	s.mux.HandleFunc("POST /echo/{id}", func(w http.ResponseWriter, r *http.Request) {
		if s.hit(r) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.Copy(w, r.Body)
	})
	return s
}

func (s *flakyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// hit counts a request to r's path and returns the count so far.
func (s *flakyServer) hit(r *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits[r.URL.Path]++
	return s.hits[r.URL.Path]
}

// Hits returns how many requests reached path.
func (s *flakyServer) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}
