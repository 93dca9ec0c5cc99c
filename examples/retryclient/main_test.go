package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunDemo(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(context.Background(), []string{"-jitter", "none", "-base", "1ms"}, &out))
	got := out.String()
	t.Log("\n" + got)
	for _, want := range []string{
		"attempt 1: 503 Service Unavailable; retrying in 1ms",
		"attempt 2: 503 Service Unavailable; retrying in 2ms",
		`-> 200 OK "ok" after 3 attempt(s)`,
		"attempt 1: 429 Too Many Requests; retrying in 1s",
		`-> 400 Bad Request "bad request" after 1 attempt(s)`,
		`-> 503 Service Unavailable "busy" after 1 attempt(s)`,
		`-> 200 OK "hello" after 2 attempt(s)`,
		"attempt 4: 503 Service Unavailable; stopped: backoff: attempts exhausted",
		`-> 503 Service Unavailable "busy" after 4 attempt(s)`,
		"attempt 1: 429 Too Many Requests; stopped: backoff: retry-after hint beyond MaxHint",
		`-> 429 Too Many Requests "slow down" after 1 attempt(s)`,
		"without a budget:                       80 requests reached the server",
		"23 requests reached the server",
	} {
		assert.Contains(t, got, want)
	}
}

func TestRunURL(t *testing.T) {
	calls := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, "healthy")
	}))
	t.Cleanup(ts.Close)
	var out strings.Builder
	require.NoError(t, run(context.Background(), []string{"-url", ts.URL, "-base", "1ms"}, &out))
	assert.Contains(t, out.String(), "attempt 1: 502 Bad Gateway; retrying in")
	assert.Contains(t, out.String(), `-> 200 OK "healthy" after 2 attempt(s)`)
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-jitter", "wobbly"},
		{"-attempts", "0"},
		{"-nosuchflag"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			assert.Error(t, run(context.Background(), args, io.Discard))
		})
	}
}
