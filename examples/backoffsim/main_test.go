package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutageDefaults runs the backoff article's experiment with the defaults, through
// the command line, and checks the claim: a fixed 100 ms retry interval
// keeps the server down, exponential backoff lets it recover.
func TestOutageDefaults(t *testing.T) {
	t.Parallel()
	svg := filepath.Join(t.TempDir(), "plot.svg")
	var out bytes.Buffer
	require.NoError(t, run([]string{"-json", "-plot", svg}, &out))

	results := map[string]map[string]any{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		for _, field := range []string{"strategy", "recovered", "recovery_seconds", "peak_rps", "requests"} {
			require.Contains(t, r, field)
		}
		results[r["strategy"].(string)] = r
	}
	require.Len(t, results, len(strategies()))

	for _, name := range []string{"fixed 100ms", "fixed 1s"} {
		assert.Equal(t, false, results[name]["recovered"], name)
		assert.Equal(t, -1.0, results[name]["recovery_seconds"], name)
		// 1000 clients every timeout + interval: far above 300 req/s.
		assert.Greater(t, results[name]["peak_rps"], 300.0, name)
	}
	for _, name := range []string{"exponential", "full jitter", "equal jitter", "decorrelated jitter", "grpc", "fixed 100ms + budget", "full jitter + budget", "fixed 100ms + rate budget"} {
		r := results[name]
		require.Equal(t, true, r["recovered"], name)
		assert.Greater(t, r["recovery_seconds"], 0.0, name)
		assert.Less(t, r["recovery_seconds"], 90.0, name)
		assert.Less(t, r["requests"], results["fixed 100ms"]["requests"], name)
	}
	// A retry budget turns the fixed interval from never into about as fast
	// as exponential backoff.
	assert.Less(t, results["fixed 100ms + budget"]["recovery_seconds"], results["full jitter"]["recovery_seconds"])
	// A shared rate budget holds retries to a fifth of the traffic plus
	// 10/s: the load never goes near capacity.
	assert.Less(t, results["fixed 100ms + rate budget"]["peak_rps"], 250.0)
	assert.Less(t, results["fixed 100ms + rate budget"]["recovery_seconds"], 10.0)

	data, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.True(t, bytes.Contains(data, []byte("<svg")))
	assert.True(t, bytes.Contains(data, []byte("never recovered")))
}

func TestOutageDeterministic(t *testing.T) {
	t.Parallel()
	cfg := defaultOutage()
	cfg.Duration = cfg.Duration / 2
	s := strategies()[3]
	a, b := runOutage(cfg, s), runOutage(cfg, s)
	assert.Equal(t, a, b)
	cfg.Seed++
	c := runOutage(cfg, s)
	assert.NotEqual(t, a.Requests, c.Requests)
}

// TestOutageDropExpired checks the other half of the backoff article's lesson: a
// server that skips requests its clients have given up on recovers at once,
// whatever the clients do.
func TestOutageDropExpired(t *testing.T) {
	cfg := defaultOutage()
	cfg.DropExpired = true
	cfg.Duration = time.Minute
	for _, s := range strategies()[:2] {
		r := runOutage(cfg, s)
		require.True(t, r.Recovered, s.Name)
		assert.Less(t, r.RecoverySeconds, 5.0, s.Name)
	}
}

// TestContention reproduces the AWS blog's shape at 100 clients: full
// jitter makes about 2.3× fewer calls than exponential backoff without
// jitter and finishes about 13× sooner.
func TestContention(t *testing.T) {
	t.Parallel()
	cfg := defaultContention()
	res := map[string]contentionResult{}
	for _, s := range contentionStrategies() {
		res[s.Name] = runContention(cfg, s)
	}
	exp, full := res["exponential"], res["full jitter"]
	assert.InDelta(t, 2.3, exp.Calls/full.Calls, 0.3, "calls ratio")
	assert.InDelta(t, 13, exp.Seconds/full.Seconds, 3, "time ratio")
	// The blog's absolute figures, within 10 %.
	for name, want := range map[string]float64{"no backoff": 2426, "exponential": 1857, "full jitter": 795, "equal jitter": 812, "decorrelated jitter": 1002} {
		assert.InEpsilon(t, want, res[name].Calls, 0.1, name)
	}
	// No backoff finishes fast but makes the most calls.
	assert.Greater(t, res["no backoff"].Calls, exp.Calls)
	assert.Less(t, res["no backoff"].Seconds, full.Seconds)
}

func TestRunTables(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run([]string{"-mode", "aws", "-runs", "5"}, &out))
	assert.Contains(t, out.String(), "full jitter")
	assert.Contains(t, out.String(), "calls vs exponential")

	out.Reset()
	require.NoError(t, run([]string{"-clients", "100", "-duration", "30s", "-plot", filepath.Join(t.TempDir(), "p.png")}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Len(t, lines, 3+len(strategies()))
	assert.Contains(t, out.String(), "p99 completion")
}

func TestRunErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "nope"},
		{"-clients", "0"},
		{"-capacity", "-1"},
		{"-slowdown-max", "0.5"},
		{"-plot", filepath.Join(os.TempDir(), "p.gif"), "-duration", "1s"},
		{"-mode", "aws", "-runs", "0"},
		{"extra"},
		{"-no-such-flag"},
	} {
		var out bytes.Buffer
		assert.Error(t, run(args, &out), "%q", args)
	}
}
