package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// TestRunOnce runs the workload once on the memory store and checks the
// exported counts: every operation of the workload is counted under its
// outcome.
func TestRunOnce(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(context.Background(), []string{"-once"}, &out))
	text := out.String()
	for _, want := range []string{
		`cachestruct_ops_total{op="get",outcome="miss",server=""} `,
		`cachestruct_ops_total{op="get",outcome="hit",server=""} `,
		`cachestruct_ops_total{op="set",outcome="ok",server=""} `,
		`cachestruct_ops_total{op="delete",outcome="ok",server=""} 1`,
		`cachestruct_op_duration_seconds_count{op="get",server=""} `,
	} {
		assert.Contains(t, text, want)
	}
}

// TestServeMemcached serves the metrics of a workload on real memcached
// over HTTP, then stops the server and waits for the ejection to show.
func TestServeMemcached(t *testing.T) {
	srv := memcachedtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() {
		err := run(ctx, []string{"-memcached", srv.Addr(), "-listen", "127.0.0.1:0", "-every", "20ms"}, pw)
		assert.NoError(t, err)
		pw.Close()
	})
	defer func() {
		cancel()
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		wg.Wait()
	}()
	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan())
	url, ok := strings.CutPrefix(lines.Text(), "serving ")
	require.True(t, ok, lines.Text())
	go func() {
		for lines.Scan() { // drain the workload's messages
		}
	}()

	scrape := func() string {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	hit := `cachestruct_ops_total{op="get",outcome="hit",server="` + srv.Addr() + `"}`
	require.Eventually(t, func() bool { return strings.Contains(scrape(), hit) }, 5*time.Second, 20*time.Millisecond)

	srv.Stop()
	ejected := `cachestruct_server_ejected{server="` + srv.Addr() + `"} 1`
	require.Eventually(t, func() bool { return strings.Contains(scrape(), ejected) }, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, scrape(), `cachestruct_server_events_total{event="ejected",server="`+srv.Addr()+`"} 1`)
}
