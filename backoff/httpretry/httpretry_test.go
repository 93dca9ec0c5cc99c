package httpretry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/backoff"
)

// quick retries at once, so that loopback tests take no time.
var quick = backoff.Constant{}

func TestRetryableStatuses(t *testing.T) {
	tests := []struct {
		code  int
		retry bool
	}{
		{http.StatusTooManyRequests, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusGatewayTimeout, true},
		{http.StatusInternalServerError, false},
		{http.StatusNotImplemented, false},
		{http.StatusRequestTimeout, false},
		{http.StatusNotFound, false},
		{http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			srv := newScript(status(tt.code), status(http.StatusOK))
			url, base := loopback(t, srv)
			code, body := get(t, &Transport{Base: base, Policy: quick}, url)
			if tt.retry {
				assert.Equal(t, http.StatusOK, code)
				assert.Equal(t, "200", body)
				assert.Equal(t, 2, srv.Hits())
			} else {
				assert.Equal(t, tt.code, code, "handed over as it is")
				assert.Equal(t, 1, srv.Hits())
			}
		})
	}
}

func TestConnectionErrors(t *testing.T) {
	t.Run("hang-up then success", func(t *testing.T) {
		srv := newScript(hangUp, hangUp, status(http.StatusOK))
		url, base := loopback(t, srv)
		// A fresh connection per request: net/http retries by itself a
		// request whose reused connection was closed before it was sent.
		base.DisableKeepAlives = true
		code, _ := get(t, &Transport{Base: base, Policy: quick}, url)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, 3, srv.Hits())
	})
	t.Run("refused until attempts run out", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		url := ts.URL
		ts.Close() // every dial is now refused
		var attempts []Attempt
		tr := &Transport{Policy: quick, MaxAttempts: 3, OnAttempt: func(a Attempt) { attempts = append(attempts, a) }}
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		resp, err := tr.RoundTrip(req)
		require.Nil(t, resp)
		require.ErrorIs(t, err, backoff.ErrMaxAttempts)
		var stop *backoff.StopError
		require.ErrorAs(t, err, &stop)
		assert.Equal(t, 3, stop.Attempts)
		require.Error(t, stop.Err, "the last connection error")
		require.Len(t, attempts, 3)
		assert.True(t, attempts[1].Retry)
		assert.False(t, attempts[2].Retry)
		assert.ErrorIs(t, attempts[2].Stop, backoff.ErrMaxAttempts)
	})
	t.Run("a context end is not retried", func(t *testing.T) {
		calls := 0
		tr := &Transport{Policy: quick, Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
			calls++
			return nil, context.Canceled
		})}
		req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
		require.NoError(t, err)
		_, err = tr.RoundTrip(req)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, calls)
		var stop *backoff.StopError
		assert.False(t, errors.As(err, &stop), "the connection error as it is")
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRepeatable(t *testing.T) {
	tests := []struct {
		method string
		keyed  bool
		retry  bool
	}{
		{http.MethodGet, false, true},
		{http.MethodHead, false, true},
		{http.MethodOptions, false, true},
		{http.MethodTrace, false, true},
		{http.MethodPut, false, true},
		{http.MethodDelete, false, true},
		{http.MethodPost, false, false},
		{http.MethodPatch, false, false},
		{http.MethodPost, true, true},
		{http.MethodPatch, true, true},
	}
	for _, tt := range tests {
		name := tt.method
		if tt.keyed {
			name += " with Idempotency-Key"
		}
		t.Run(name, func(t *testing.T) {
			srv := newScript(status(http.StatusServiceUnavailable), status(http.StatusOK))
			url, base := loopback(t, srv)
			req, err := http.NewRequest(tt.method, url, strings.NewReader("payload"))
			require.NoError(t, err)
			if tt.keyed {
				req.Header.Set("Idempotency-Key", "k1")
			}
			code, _ := do(t, &Transport{Base: base, Policy: quick}, req)
			if tt.retry {
				assert.Equal(t, http.StatusOK, code)
				assert.Equal(t, 2, srv.Hits())
			} else {
				assert.Equal(t, http.StatusServiceUnavailable, code)
				assert.Equal(t, 1, srv.Hits())
			}
		})
	}
	t.Run("configurable", func(t *testing.T) {
		srv := newScript(status(http.StatusServiceUnavailable), status(http.StatusOK))
		url, base := loopback(t, srv)
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("x"))
		require.NoError(t, err)
		tr := &Transport{Base: base, Policy: quick, Repeatable: func(*http.Request) bool { return true }}
		code, _ := do(t, tr, req)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, 2, srv.Hits())
		// And the other way round: no GET is repeated.
		srv = newScript(status(http.StatusServiceUnavailable), status(http.StatusOK))
		url, base = loopback(t, srv)
		tr = &Transport{Base: base, Policy: quick, Repeatable: func(*http.Request) bool { return false }}
		code, _ = get(t, tr, url)
		assert.Equal(t, http.StatusServiceUnavailable, code)
		assert.Equal(t, 1, srv.Hits())
	})
}

func TestBodyReplay(t *testing.T) {
	t.Run("replayed through GetBody", func(t *testing.T) {
		srv := newScript(status(http.StatusServiceUnavailable), hangUp, status(http.StatusOK))
		url, base := loopback(t, srv)
		req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader([]byte("payload")))
		require.NoError(t, err)
		code, _ := do(t, &Transport{Base: base, Policy: quick}, req)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, []string{"payload", "payload", "payload"}, srv.Bodies())
	})
	t.Run("never retried without GetBody", func(t *testing.T) {
		srv := newScript(status(http.StatusServiceUnavailable), status(http.StatusOK))
		url, base := loopback(t, srv)
		req, err := http.NewRequest(http.MethodPut, url, io.MultiReader(strings.NewReader("payload")))
		require.NoError(t, err)
		require.Nil(t, req.GetBody)
		code, _ := do(t, &Transport{Base: base, Policy: quick, Repeatable: func(*http.Request) bool { return true }}, req)
		assert.Equal(t, http.StatusServiceUnavailable, code)
		assert.Equal(t, 1, srv.Hits())
	})
	t.Run("GetBody fails", func(t *testing.T) {
		srv := newScript(status(http.StatusServiceUnavailable), status(http.StatusOK))
		url, base := loopback(t, srv)
		req, err := http.NewRequest(http.MethodPut, url, strings.NewReader("payload"))
		require.NoError(t, err)
		req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
		code, body := do(t, &Transport{Base: base, Policy: quick}, req)
		assert.Equal(t, http.StatusServiceUnavailable, code, "the last answer, still readable")
		assert.Equal(t, "503", body)
		assert.Equal(t, 1, srv.Hits())
	})
	t.Run("the caller's request is not changed", func(t *testing.T) {
		srv := newScript(status(http.StatusServiceUnavailable), status(http.StatusOK))
		url, base := loopback(t, srv)
		req, err := http.NewRequest(http.MethodPut, url, strings.NewReader("payload"))
		require.NoError(t, err)
		before := *req
		_, _ = do(t, &Transport{Base: base, Policy: quick, AttemptTimeout: time.Minute}, req)
		assert.Equal(t, before.Context(), req.Context())
		assert.Equal(t, before.Body, req.Body)
		assert.Equal(t, before.Header, req.Header)
	})
}

func TestRetryableReplaceable(t *testing.T) {
	srv := newScript(status(http.StatusInternalServerError), status(http.StatusServiceUnavailable), status(http.StatusOK))
	url, base := loopback(t, srv)
	var seen []int
	tr := &Transport{Base: base, Policy: quick, Retryable: func(resp *http.Response, err error) bool {
		require.NoError(t, err)
		seen = append(seen, resp.StatusCode)
		return resp.StatusCode == http.StatusInternalServerError // and not 503
	}}
	code, _ := get(t, tr, url)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, []int{500, 503}, seen)
	assert.Equal(t, 2, srv.Hits())
}

func TestDiscardedResponsesReuseConnections(t *testing.T) {
	srv := newScript(status(http.StatusServiceUnavailable), status(http.StatusBadGateway), status(http.StatusOK))
	ts := httptest.NewUnstartedServer(srv)
	var conns atomic.Int32
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	code, _ := get(t, &Transport{Base: base, Policy: quick}, ts.URL)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, 3, srv.Hits())
	assert.Equal(t, int32(1), conns.Load(), "three attempts over one connection")
}

func TestDrainIsBounded(t *testing.T) {
	// A 503 whose body never ends: the transport reads DrainLimit bytes,
	// closes it and retries, instead of reading forever.
	var written atomic.Int64
	endless := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		chunk := bytes.Repeat([]byte("x"), 4096)
		for {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil || written.Load() > 64<<20 {
				return
			}
		}
	}
	srv := newScript(endless, status(http.StatusOK))
	url, base := loopback(t, srv)
	code, _ := get(t, &Transport{Base: base, Policy: quick}, url)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, 2, srv.Hits())
	assert.Less(t, written.Load(), int64(64<<20), "the server's writes failed once the client hung up")
}

func TestNoRetryOnceHandedOver(t *testing.T) {
	t.Run("a 200 whose body breaks off", func(t *testing.T) {
		srv := newScript(cutBody(http.StatusOK), status(http.StatusOK))
		url, base := loopback(t, srv)
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		resp, err := (&http.Client{Transport: &Transport{Base: base, Policy: quick}}).Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, "0123456789", string(body))
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, 1, srv.Hits(), "the caller had the response: no retry")
	})
	t.Run("a discarded 503 whose body breaks off", func(t *testing.T) {
		srv := newScript(cutBody(http.StatusServiceUnavailable), status(http.StatusOK))
		url, base := loopback(t, srv)
		code, _ := get(t, &Transport{Base: base, Policy: quick}, url)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, 2, srv.Hits())
	})
}

func TestStopsReturnTheLastAnswer(t *testing.T) {
	srv := newScript(status(http.StatusServiceUnavailable))
	url, base := loopback(t, srv)
	var last Attempt
	tr := &Transport{Base: base, Policy: quick, OnAttempt: func(a Attempt) { last = a }}
	code, body := get(t, tr, url)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "503", body)
	assert.Equal(t, DefaultMaxAttempts, srv.Hits())
	assert.Equal(t, DefaultMaxAttempts, last.Number)
	assert.False(t, last.Retry)
	require.ErrorIs(t, last.Stop, backoff.ErrMaxAttempts)
	var se *StatusError
	require.ErrorAs(t, last.Stop, &se)
	assert.Equal(t, http.StatusServiceUnavailable, se.StatusCode)
	assert.Equal(t, "httpretry: 503 Service Unavailable", se.Error())
}

func TestBudgets(t *testing.T) {
	t.Run("Budget", func(t *testing.T) {
		srv := newScript(status(http.StatusServiceUnavailable))
		url, base := loopback(t, srv)
		budget := &backoff.Budget{}
		tr := &Transport{Base: base, Policy: quick, Budget: budget}
		var stops []error
		tr.OnAttempt = func(a Attempt) {
			if a.Stop != nil {
				stops = append(stops, a.Stop)
			}
		}
		for range 20 {
			code, _ := get(t, tr, url)
			require.Equal(t, http.StatusServiceUnavailable, code)
		}
		// 10 tokens, retries refused at 5 or fewer: the first request makes
		// its 4 attempts, the second fails once more and is refused, and so
		// is every later one.
		assert.Equal(t, 4+19, srv.Hits())
		require.Len(t, stops, 20)
		assert.ErrorIs(t, stops[0], backoff.ErrMaxAttempts)
		assert.ErrorIs(t, stops[19], backoff.ErrBudgetExhausted)
	})
	t.Run("RateBudget", func(t *testing.T) {
		srv := newScript(status(http.StatusServiceUnavailable))
		url, base := loopback(t, srv)
		rb := &backoff.RateBudget{Percent: 0.5, MinPerSecond: 0.1, TTL: time.Minute}
		tr := &Transport{Base: base, Policy: quick, RateBudget: rb}
		for range 10 {
			_, _ = get(t, tr, url)
		}
		// Reserve 6 tokens, plus 0.5 per request: 10 first attempts, at most 11 retries.
		assert.LessOrEqual(t, srv.Hits(), 10+11)
		assert.Less(t, rb.Tokens(), 1.0)
	})
}

func TestOnAttempt(t *testing.T) {
	srv := newScript(status(http.StatusServiceUnavailable), hangUp, status(http.StatusOK))
	url, base := loopback(t, srv)
	base.DisableKeepAlives = true // see TestConnectionErrors
	var got []Attempt
	tr := &Transport{Base: base, Policy: backoff.Constant{Delay: time.Millisecond}, OnAttempt: func(a Attempt) { got = append(got, a) }}
	code, _ := get(t, tr, url)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, got, 3)
	for i, a := range got {
		assert.Equal(t, i+1, a.Number)
		assert.NotNil(t, a.Request)
		assert.Nil(t, a.Stop)
	}
	assert.Equal(t, http.StatusServiceUnavailable, got[0].Response.StatusCode)
	assert.True(t, got[0].Retry)
	assert.Equal(t, time.Millisecond, got[0].Delay)
	assert.Nil(t, got[1].Response)
	assert.Error(t, got[1].Err)
	assert.True(t, got[1].Retry)
	assert.Equal(t, http.StatusOK, got[2].Response.StatusCode)
	assert.False(t, got[2].Retry)

	// A request that may not be repeated makes one attempt, reported too.
	got = nil
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("x"))
	require.NoError(t, err)
	_, _ = do(t, tr, req)
	require.Len(t, got, 1)
	assert.False(t, got[0].Retry)
}

func TestRetryAfter(t *testing.T) {
	t.Run("seconds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := newScript(status(http.StatusServiceUnavailable, "Retry-After", "2"), status(http.StatusOK))
			base := pipeServer(t, srv)
			// The policy's Max is 10 ms; the server asked for 2 s.
			tr := &Transport{Base: base, Policy: backoff.Constant{Delay: 10 * time.Millisecond}}
			start := time.Now()
			code, _ := get(t, tr, "http://pipe/")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, 2*time.Second, time.Since(start), "never before the hint")
			assert.Equal(t, 2, srv.Hits())
		})
	})
	t.Run("HTTP-date", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The bubble's clock starts on a whole second.
			at := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
			srv := newScript(status(http.StatusTooManyRequests, "Retry-After", at), status(http.StatusOK))
			base := pipeServer(t, srv)
			start := time.Now()
			code, _ := get(t, &Transport{Base: base, Policy: quick}, "http://pipe/")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, 3*time.Second, time.Since(start))
		})
	})
	t.Run("beyond MaxHint", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := newScript(status(http.StatusServiceUnavailable, "Retry-After", "120"), status(http.StatusOK))
			base := pipeServer(t, srv)
			var last Attempt
			tr := &Transport{Base: base, Policy: quick, OnAttempt: func(a Attempt) { last = a }}
			start := time.Now()
			code, body := get(t, tr, "http://pipe/")
			assert.Equal(t, http.StatusServiceUnavailable, code, "the answer that carried the hint")
			assert.Equal(t, "503", body)
			assert.Zero(t, time.Since(start))
			assert.Equal(t, 1, srv.Hits())
			assert.ErrorIs(t, last.Stop, backoff.ErrHintTooLong)
		})
	})
	t.Run("MaxHint raised", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := newScript(status(http.StatusServiceUnavailable, "Retry-After", "120"), status(http.StatusOK))
			base := pipeServer(t, srv)
			start := time.Now()
			code, _ := get(t, &Transport{Base: base, Policy: quick, MaxHint: 5 * time.Minute}, "http://pipe/")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, 2*time.Minute, time.Since(start))
		})
	})
}

func TestAttemptTimeout(t *testing.T) {
	t.Run("a stalled attempt is retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			stall := func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(time.Hour):
				}
			}
			srv := newScript(stall, status(http.StatusOK))
			base := pipeServer(t, srv)
			var first Attempt
			tr := &Transport{Base: base, Policy: quick, AttemptTimeout: time.Second, OnAttempt: func(a Attempt) {
				if a.Number == 1 {
					first = a
				}
			}}
			start := time.Now()
			code, _ := get(t, tr, "http://pipe/")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, time.Second, time.Since(start))
			assert.Equal(t, 2, srv.Hits())
			assert.ErrorIs(t, first.Err, ErrAttemptTimeout)
			assert.True(t, first.Retry)
		})
	})
	t.Run("the body outlives the timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			slowBody := func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, "head ")
				_ = http.NewResponseController(w).Flush()
				time.Sleep(5 * time.Second)
				_, _ = io.WriteString(w, "tail")
			}
			srv := newScript(slowBody)
			base := pipeServer(t, srv)
			start := time.Now()
			code, body := get(t, &Transport{Base: base, Policy: quick, AttemptTimeout: time.Second}, "http://pipe/")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, "head tail", body)
			assert.Equal(t, 5*time.Second, time.Since(start))
			assert.Equal(t, 1, srv.Hits())
		})
	})
}

func TestContext(t *testing.T) {
	t.Run("cancelled during a wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := newScript(status(http.StatusServiceUnavailable, "Retry-After", "10"))
			base := pipeServer(t, srv)
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://pipe/", nil)
			require.NoError(t, err)
			start := time.Now()
			resp, err := (&Transport{Base: base, Policy: quick}).RoundTrip(req)
			assert.Nil(t, resp, "the pending 503 is discarded")
			require.ErrorIs(t, err, context.DeadlineExceeded)
			var se *StatusError
			require.ErrorAs(t, err, &se, "the last failure is reachable")
			assert.Equal(t, 3*time.Second, time.Since(start))
			assert.Equal(t, 1, srv.Hits())
		})
	})
	t.Run("cancelled before", func(t *testing.T) {
		srv := newScript(status(http.StatusOK))
		url, base := loopback(t, srv)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		_, err = (&Transport{Base: base}).RoundTrip(req)
		require.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, srv.Hits())
	})
}

func TestWrap(t *testing.T) {
	srv := newScript(status(http.StatusBadGateway), status(http.StatusOK))
	u, base := loopback(t, srv)
	jar := &nullJar{}
	orig := &http.Client{Transport: base, Jar: jar, Timeout: time.Minute}
	c := Wrap(orig, &Transport{Policy: quick})
	assert.Same(t, base, orig.Transport, "the original is not changed")
	tr, ok := c.Transport.(*Transport)
	require.True(t, ok)
	assert.Same(t, base, tr.Base)
	assert.Same(t, jar, c.Jar)
	assert.Equal(t, time.Minute, c.Timeout)
	resp, err := c.Get(u)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 2, srv.Hits())

	d := Wrap(nil, nil)
	assert.Nil(t, d.Transport.(*Transport).Base, "http.DefaultClient's nil transport")
	c.CloseIdleConnections()
}

type nullJar struct{}

func (*nullJar) SetCookies(*url.URL, []*http.Cookie) {}
func (*nullJar) Cookies(*url.URL) []*http.Cookie     { return nil }

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sunday, 22-Nov-26 06:00:30 GMT", 30 * time.Second, true}, // RFC 850
		{"Sun Nov 22 06:00:10 2026", 10 * time.Second, true},       // asctime
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999", 0, false},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.in, now)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "17", "Sun, 22 Nov 2026 06:00:30 GMT", "", "x", "4294967295", "-3"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if !ok {
			assert.Zero(t, d)
			return
		}
		assert.GreaterOrEqual(t, d, time.Duration(0), "a hint is never negative")
	})
}
