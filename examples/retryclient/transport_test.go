package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/backoff"
)

// send makes one request through t and returns the status and body.
func send(t *testing.T, tr http.RoundTripper, req *http.Request) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestTransportOverLoopback(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		body       io.Reader
		keyed      bool
		wantStatus int
		wantBody   string
		wantHits   int
	}{
		{"transient 503s then success", "GET", "/flaky/a?fail=2", nil, false, 200, "ok", 3},
		{"503 until attempts run out", "GET", "/flaky/b?fail=10", nil, false, 503, "busy", 4},
		{"400 is permanent", "GET", "/bad", nil, false, 400, "bad request", 1},
		{"429 with Retry-After 0", "GET", "/throttle/a?after=0", nil, false, 200, "ok", 2},
		{"POST is not retried", "POST", "/echo/a", strings.NewReader("hi"), false, 503, "busy", 1},
		{"keyed POST is retried with its body", "POST", "/echo/b", strings.NewReader("hi"), true, 200, "hi", 2},
		{"keyed POST without GetBody is not retried", "POST", "/echo/c",
			io.MultiReader(strings.NewReader("hi")), true, 503, "busy", 1},
	}
	srv := newFlakyServer()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, tt.body)
			require.NoError(t, err)
			if tt.keyed {
				req.Header.Set("Idempotency-Key", "k1")
			}
			tr := &Transport{Base: ts.Client().Transport, Policy: backoff.Constant{}}
			status, body := send(t, tr, req)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantBody, body)
			assert.Equal(t, tt.wantHits, srv.Hits(req.URL.Path))
		})
	}
}

func TestBudgetStopsRetryStorm(t *testing.T) {
	srv := newFlakyServer()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	const requests, attempts = 20, 4
	storm := func(budget *backoff.Budget) int {
		before := srv.Hits("/down")
		tr := &Transport{Base: ts.Client().Transport, Policy: backoff.Constant{}, MaxAttempts: attempts, Budget: budget}
		for range requests {
			req, err := http.NewRequest("GET", ts.URL+"/down", nil)
			require.NoError(t, err)
			status, _ := send(t, tr, req)
			require.Equal(t, http.StatusServiceUnavailable, status, "the last answer is returned as it is")
		}
		return srv.Hits("/down") - before
	}
	without := storm(nil)
	with := storm(new(backoff.Budget))
	t.Logf("a server down hard: %d requests without a budget, %d with one", without, with)
	assert.Equal(t, requests*attempts, without)
	// The default Budget holds 10 tokens and refuses retries at 5 or fewer:
	// the first request makes its 4 attempts (10 → 6 tokens), the second
	// fails once more (5 tokens) and is refused, and so is every later one.
	assert.Equal(t, attempts+requests-1, with)
	assert.Less(t, with, without/3)
}

func TestBudgetRefusalOnNetworkErrors(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close() // now every dial is refused

	budget := &backoff.Budget{MaxTokens: 2}
	tr := &Transport{Policy: backoff.Constant{}, MaxAttempts: 10, Budget: budget}
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, backoff.ErrBudgetExhausted)
}

// inProcess serves requests by calling a handler directly: no sockets, so
// that it runs inside a synctest bubble, where network waits would keep the
// fake clock from advancing.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name  string
		value func(now time.Time) string
		want  time.Duration
	}{
		{"seconds", func(time.Time) string { return "3" }, 3 * time.Second},
		{"HTTP-date", func(now time.Time) string { return now.Add(5 * time.Second).UTC().Format(http.TimeFormat) }, 5 * time.Second},
		{"date in the past", func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }, 0},
		{"capped at the policy's Max", func(time.Time) string { return "3600" }, 8 * time.Second},
		{"garbage falls back to the policy", func(time.Time) string { return "soon" }, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls++
					if calls == 1 {
						w.Header().Set("Retry-After", tt.value(time.Now()))
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					_, _ = io.WriteString(w, "ok")
				})
				policy := backoff.Exponential{Base: 100 * time.Millisecond, Max: 8 * time.Second, Jitter: backoff.NoJitter}
				tr := &Transport{Base: inProcess{h}, Policy: policy}
				req, err := http.NewRequest("GET", "http://service.test/", nil)
				require.NoError(t, err)
				start := time.Now()
				status, body := send(t, tr, req)
				assert.Equal(t, tt.want, time.Since(start))
				assert.Equal(t, http.StatusOK, status)
				assert.Equal(t, "ok", body)
				assert.Equal(t, 2, calls)
			})
		})
	}
}

func TestRetryAfterOverLoopback(t *testing.T) {
	// The same over a real socket: the server is outside the bubble and
	// keep-alives are off, so that no bubbled goroutine is left reading a
	// connection while the fake clock should advance.
	srv := newFlakyServer()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	synctest.Test(t, func(t *testing.T) {
		base := &http.Transport{DisableKeepAlives: true}
		defer base.CloseIdleConnections()
		tr := &Transport{Base: base, Policy: backoff.Exponential{Max: time.Minute}}
		req, err := http.NewRequest("GET", ts.URL+"/throttle/x?after=7", nil)
		require.NoError(t, err)
		start := time.Now()
		status, _ := send(t, tr, req)
		assert.Equal(t, 7*time.Second, time.Since(start))
		assert.Equal(t, http.StatusOK, status)
	})
	assert.Equal(t, 2, srv.Hits("/throttle/x"))
}

func TestContextEndsTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		tr := &Transport{Base: inProcess{h}, Policy: backoff.Exponential{Max: time.Minute}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", "http://service.test/", nil)
		require.NoError(t, err)
		start := time.Now()
		resp, err := tr.RoundTrip(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Nil(t, resp)
		assert.Equal(t, 5*time.Second, time.Since(start), "returns when the context ends, not after Retry-After")
		assert.Equal(t, 1, calls)
	})
}

func TestCancelledContextSendsNothing(t *testing.T) {
	calls := 0
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls++ })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://service.test/", nil)
	require.NoError(t, err)
	_, err = (&Transport{Base: inProcess{h}}).RoundTrip(req)
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, calls)
}

func TestBodyReplayError(t *testing.T) {
	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusBadGateway)
	})
	errGone := errors.New("body gone")
	req, err := http.NewRequest("PUT", "http://service.test/", strings.NewReader("x"))
	require.NoError(t, err)
	req.GetBody = func() (io.ReadCloser, error) { return nil, errGone }
	_, err = (&Transport{Base: inProcess{h}, Policy: backoff.Constant{}}).RoundTrip(req)
	require.ErrorIs(t, err, errGone)
	assert.Equal(t, 1, calls)
}
