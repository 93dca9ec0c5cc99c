package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary run the comet server instead of the tests:
// the load test measures the server's memory in a process of its own, free
// of the 1,000 clients' connections and goroutines.
const childEnv = "TWINE_COMET_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := run(ctx, []string{"-addr", "127.0.0.1:0", "-timeout", "1m"}, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startChild starts this test binary as a comet server and returns its URL.
func startChild(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "comet: listening on ")
	require.True(t, ok, "unexpected first line %q", line)
	return u
}

func childStats(t *testing.T, base string) stats {
	t.Helper()
	resp, err := http.Get(base + "/stats?gc")
	require.NoError(t, err)
	defer resp.Body.Close()
	var s stats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// TestThousandSubscribers holds 1,000 long polls over loopback, publishes
// one message and checks that every subscriber receives it. It logs the
// server's memory per waiting subscriber and the publish-to-all latency
// (quoted in BENCHMARKS.md; not asserted: the machine is shared).
func TestThousandSubscribers(t *testing.T) {
	const n = 1000
	base := startChild(t)
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	before := childStats(t, base)

	type got struct {
		r  subscribeResult
		at time.Time
	}
	results := make(chan got, n)
	for range n {
		go func() {
			r := subscribe(context.Background(), client, base+"/subscribe")
			results <- got{r, time.Now()}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	var loaded stats
	for {
		loaded = childStats(t, base)
		if loaded.Subscribers == n {
			break
		}
		require.False(t, time.Now().After(deadline), "only %d of %d subscribers waiting", loaded.Subscribers, n)
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	resp, err := http.PostForm(base+"/publish", url.Values{"message": {"to all"}})
	require.NoError(t, err)
	var reply publishReply
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reply))
	resp.Body.Close()
	assert.Equal(t, n, reply.Delivered)

	latencies := make([]time.Duration, 0, n)
	for range n {
		g := <-results
		require.NoError(t, g.r.err)
		require.Equal(t, http.StatusOK, g.r.status)
		require.Equal(t, Message{ID: 1, Text: "to all"}, g.r.msg)
		latencies = append(latencies, g.at.Sub(start))
	}
	slices.Sort(latencies)
	p50, p99, all := latencies[n/2], latencies[n*99/100], latencies[n-1]
	after := childStats(t, base)
	assert.Zero(t, after.Subscribers)

	mem := float64((loaded.HeapInuse+loaded.StackInuse)-(before.HeapInuse+before.StackInuse)) / n
	heap := float64(loaded.HeapInuse-before.HeapInuse) / n
	stack := float64(loaded.StackInuse-before.StackInuse) / n
	goroutines := float64(loaded.Goroutines-before.Goroutines) / n
	t.Logf("comet, %d waiting subscribers over loopback (server in its own process):", n)
	t.Logf("  server memory per waiting subscriber: %.1f KiB (heap %.1f KiB + stacks %.1f KiB), %.2f goroutines",
		mem/1024, heap/1024, stack/1024, goroutines)
	t.Logf("  publish-to-all latency (POST sent → last subscriber has the message): %v (median subscriber %v, p99 %v); server fan-out (fire all Deferreds): %d µs",
		all.Round(100*time.Microsecond), p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), reply.FanoutUS)
}
