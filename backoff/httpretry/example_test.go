package httpretry_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/twine-go/twine/backoff"
	"github.com/twine-go/twine/backoff/httpretry"
)

// inProcess serves requests by calling a handler directly, so that the
// examples need no network; in a program, Base is nil or the client's own
// transport.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// flaky answers 503 to the first n requests, then 200 "ok".
func flaky(n int, header ...string) http.Handler {
	calls := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls++; calls <= n {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

func ExampleTransport() {
	client := &http.Client{Transport: &httpretry.Transport{
		Base:   inProcess{flaky(2)},
		Policy: backoff.Exponential{Base: time.Millisecond, Jitter: backoff.NoJitter},
		Budget: new(backoff.Budget), // share one per downstream service
		OnAttempt: func(a httpretry.Attempt) {
			fmt.Printf("attempt %d: %s, retry: %v %v\n", a.Number, a.Response.Status, a.Retry, a.Delay)
		},
	}}
	resp, err := client.Get("http://service.example/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output:
	// attempt 1: 503 Service Unavailable, retry: true 1ms
	// attempt 2: 503 Service Unavailable, retry: true 2ms
	// attempt 3: 200 OK, retry: false 0s
	// 200 OK ok
}

func ExampleTransport_retryAfter() {
	// The server asks for a second; the policy's 1 ms is not enough, and
	// the transport never retries earlier than asked. A Retry-After beyond
	// MaxHint would return the 503 at once.
	start := time.Now()
	client := &http.Client{Transport: &httpretry.Transport{
		Base:    inProcess{flaky(1, "Retry-After", "1")},
		Policy:  backoff.Constant{Delay: time.Millisecond},
		MaxHint: 30 * time.Second,
		OnAttempt: func(a httpretry.Attempt) {
			if a.Retry {
				fmt.Println("Retry-After:", a.Response.Header.Get("Retry-After"), "-> waiting", a.Delay)
			}
		},
	}}
	resp, err := client.Get("http://service.example/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status, time.Since(start) >= time.Second)
	// Output:
	// Retry-After: 1 -> waiting 1s
	// 200 OK true
}

func ExampleTransport_stop() {
	// A server down hard: the last 503 is returned, and OnAttempt says why
	// the retries stopped.
	client := &http.Client{Transport: &httpretry.Transport{
		Base:        inProcess{flaky(100)},
		Policy:      backoff.Constant{},
		MaxAttempts: 3,
		OnAttempt: func(a httpretry.Attempt) {
			if a.Stop != nil {
				fmt.Println(a.Stop, "|", errors.Is(a.Stop, backoff.ErrMaxAttempts))
			}
		},
	}}
	resp, err := client.Get("http://service.example/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// backoff: attempts exhausted after 3 attempts: httpretry: 503 Service Unavailable | true
	// 503 Service Unavailable
}

func ExampleWrap() {
	// Wrap keeps the client's settings and sends the attempts through its
	// transport.
	orig := &http.Client{Transport: inProcess{flaky(1)}, Timeout: 10 * time.Second}
	client := httpretry.Wrap(orig, &httpretry.Transport{Policy: backoff.Constant{}})
	resp, err := client.Get("http://service.example/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status, client.Timeout)
	// Output:
	// 200 OK 10s
}

func ExampleDefaultRetryable() {
	for _, code := range []int{200, 404, 429, 500, 502, 503, 504} {
		fmt.Print(code, ":", httpretry.DefaultRetryable(&http.Response{StatusCode: code}, nil), " ")
	}
	fmt.Println()
	// Output:
	// 200:false 404:false 429:true 500:false 502:true 503:true 504:true
}

func ExampleIdempotent() {
	post, _ := http.NewRequest(http.MethodPost, "http://service.example/orders", strings.NewReader("{}"))
	fmt.Println(httpretry.Idempotent(post))
	post.Header.Set("Idempotency-Key", "order-42")
	fmt.Println(httpretry.Idempotent(post))
	put, _ := http.NewRequest(http.MethodPut, "http://service.example/orders/42", strings.NewReader("{}"))
	fmt.Println(httpretry.Idempotent(put))
	// Output:
	// false
	// true
	// true
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Sun, 22 Nov 2026 06:00:30 GMT", "soon"} {
		d, ok := httpretry.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 30s true
	// 0s false
}

func ExampleStatusError() {
	err := error(&httpretry.StatusError{StatusCode: http.StatusTooManyRequests})
	fmt.Println(err)
	// Output:
	// httpretry: 429 Too Many Requests
}
