package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/deferred"
)

// comet is a server started by run on a free loopback port.
type comet struct {
	url  string
	stop func() error // ends run and returns its error
}

// startComet runs the program with args (plus -addr 127.0.0.1:0) until the
// test ends or stop is called.
func startComet(t *testing.T, args ...string) *comet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw)
		pw.CloseWithError(err)
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "comet: listening on ")
	require.True(t, ok, "unexpected first line %q", line)
	var once sync.Once
	var runErr error
	c := &comet{url: u, stop: func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}}
	t.Cleanup(func() { _ = c.stop() })
	return c
}

func (c *comet) publish(t *testing.T, text string) publishReply {
	t.Helper()
	resp, err := http.PostForm(c.url+"/publish", url.Values{"message": {text}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var r publishReply
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	return r
}

func (c *comet) stats(t *testing.T) stats {
	t.Helper()
	resp, err := http.Get(c.url + "/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var s stats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// waitSubscribers polls /stats until n subscribers wait.
func (c *comet) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return c.stats(t).Subscribers == n },
		20*time.Second, 5*time.Millisecond, "want %d waiting subscribers", n)
}

// subscribeResult is what one long poll got.
type subscribeResult struct {
	status int
	msg    Message
	err    error
}

func subscribe(ctx context.Context, client *http.Client, u string) subscribeResult {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return subscribeResult{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return subscribeResult{err: err}
	}
	defer resp.Body.Close()
	r := subscribeResult{status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		r.err = json.NewDecoder(resp.Body).Decode(&r.msg)
	}
	return r
}

func TestSubscribeReceivesPublishedMessage(t *testing.T) {
	c := startComet(t)
	got := make(chan subscribeResult, 2)
	for range 2 {
		go func() { got <- subscribe(context.Background(), http.DefaultClient, c.url+"/subscribe") }()
	}
	c.waitSubscribers(t, 2)
	reply := c.publish(t, "hello, world")
	assert.Equal(t, publishReply{ID: 1, Delivered: 2, FanoutUS: reply.FanoutUS}, reply)
	for range 2 {
		r := <-got
		require.NoError(t, r.err)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, Message{ID: 1, Text: "hello, world"}, r.msg)
	}
	assert.Zero(t, c.stats(t).Subscribers)
}

func TestSubscribeSinceCatchesUp(t *testing.T) {
	c := startComet(t)
	c.publish(t, "one")
	c.publish(t, "two")
	r := subscribe(context.Background(), http.DefaultClient, c.url+"/subscribe?since=1")
	require.NoError(t, r.err)
	assert.Equal(t, Message{ID: 2, Text: "two"}, r.msg, "answered at once from the history")
}

func TestSubscribeTimesOutWith204(t *testing.T) {
	c := startComet(t, "-timeout", "50ms")
	r := subscribe(context.Background(), http.DefaultClient, c.url+"/subscribe")
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Zero(t, c.stats(t).Subscribers, "a timed-out subscriber leaves the hub")
}

func TestBadRequests(t *testing.T) {
	c := startComet(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   int
	}{
		{"since not a number", "GET", "/subscribe?since=x", "", http.StatusBadRequest},
		{"publish without message", "POST", "/publish", "", http.StatusBadRequest},
		{"publish too long", "POST", "/publish", "message=" + strings.Repeat("a", maxMessage+1), http.StatusRequestEntityTooLarge},
		{"publish with GET", "GET", "/publish", "", http.StatusMethodNotAllowed},
		{"unknown path", "GET", "/nope", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, c.url+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode)
		})
	}
	assert.Zero(t, c.stats(t).Subscribers)
}

func TestIndexPage(t *testing.T) {
	c := startComet(t)
	resp, err := http.Get(c.url + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(b), `fetch("/subscribe"`)
	assert.Contains(t, string(b), `"/publish"`)
}

func TestDisconnectedClientsAreDropped(t *testing.T) {
	// Errors left unhandled in a Deferred would be reported when it is
	// collected; count them to prove that cancelled subscribers are
	// handled, not just forgotten.
	var unhandled atomic.Int64
	prev := deferred.SetUnhandledErrorHandler(func(deferred.UnhandledError) { unhandled.Add(1) })
	t.Cleanup(func() { deferred.SetUnhandledErrorHandler(prev) })

	c := startComet(t)
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	client := &http.Client{Transport: tr}
	c.stats(t) // warm up the default client's connection
	baseline := runtime.NumGoroutine()

	const n = 50
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := subscribe(ctx, client, c.url+"/subscribe")
			assert.ErrorIs(t, r.err, context.Canceled)
		})
	}
	c.waitSubscribers(t, n)
	assert.Greater(t, runtime.NumGoroutine(), baseline+n, "each waiting request holds goroutines")

	cancel() // every client hangs up
	wg.Wait()
	tr.CloseIdleConnections()
	c.waitSubscribers(t, 0)
	// Poll on this goroutine: testify's Eventually runs the condition on a
	// goroutine of its own, which would count.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > baseline; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}

	assert.Zero(t, c.publish(t, "anyone?").Delivered)
	runtime.GC()
	runtime.GC()
	assert.Zero(t, unhandled.Load(), "no cancelled Deferred was left with an unhandled error")
}

func TestShutdownReleasesWaitingSubscribers(t *testing.T) {
	c := startComet(t) // the default 30 s hold
	got := make(chan subscribeResult, 3)
	for range 3 {
		go func() { got <- subscribe(context.Background(), http.DefaultClient, c.url+"/subscribe") }()
	}
	c.waitSubscribers(t, 3)
	start := time.Now()
	require.NoError(t, c.stop())
	for range 3 {
		r := <-got
		require.NoError(t, r.err)
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
	}
	assert.Less(t, time.Since(start), 5*time.Second, "not held until the 30 s timeout")
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-timeout", "0"}, {"-addr", "256.0.0.1:x"}, {"-bogus"}} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			assert.Error(t, run(context.Background(), args, io.Discard))
		})
	}
}
