package main

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// runWatched runs the program in a goroutine and calls onLine, on the test
// goroutine, for each line it prints. It returns the whole output and
// run's error.
func runWatched(t *testing.T, args []string, onLine func(string)) (string, error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(context.Background(), args, pw)
		pw.Close()
		done <- err
	}()
	var out strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		onLine(sc.Text())
	}
	require.NoError(t, sc.Err())
	return out.String(), <-done
}

func TestRunWithFailover(t *testing.T) {
	servers := memcachedtest.Cluster(t, 3)
	addrs := memcachedtest.Addrs(servers)
	victim := servers[1]
	out, err := runWatched(t, []string{"-servers", strings.Join(addrs, ","), "-keys", "600", "-wait", "20s"}, func(line string) {
		if strings.Contains(line, failoverPrompt) {
			victim.Stop()
		}
	})
	t.Log("\n" + out)
	require.NoError(t, err)

	spread := regexp.MustCompile(`(?m)^\s+(127\.0\.0\.1:\d+)\s+(\d+) keys$`).FindAllStringSubmatch(out, -1)
	require.Len(t, spread, 3)
	for _, row := range spread {
		assert.NotEqual(t, "0", row[2], "server %s owns keys", row[1])
	}
	for _, want := range []string{
		"written by gomemcache, read by cachestruct: 300/300",
		"written by cachestruct, read by gomemcache: 300/300",
		"asked each server alone: 600/600 keys on the ring's server, 0 anywhere else",
		": 100 after 10×10 concurrent increments",
		"second: cachestruct: locked",
		"hit true, after Invalidate hit false",
		"): 1 compute; story ",
		victim.Addr() + " stopped answering: ejected after",
		"cachestruct: 600/600 writes succeeded",
	} {
		assert.Contains(t, out, want)
	}
	moved := regexp.MustCompile(`(\d+)/(\d+) of ` + regexp.QuoteMeta(victim.Addr()) + `'s keys are on their ring successor`).FindStringSubmatch(out)
	require.NotNil(t, moved)
	assert.Equal(t, moved[2], moved[1], "every key of the dead server went to its successor")
	assert.NotEqual(t, "0", moved[1])
	failed := regexp.MustCompile(`no ejection: (\d+)/(\d+) of those keys fail`).FindStringSubmatch(out)
	require.NotNil(t, failed)
	assert.Equal(t, failed[2], failed[1], "gomemcache still picks the dead server")
	if ketama(t, addrs).Get("sc:views:home") == victim.Addr() {
		assert.Contains(t, out, "it restarts on its successor at 1")
	} else {
		assert.Contains(t, out, "keeps counting on ")
		assert.Contains(t, out, ": 101\n")
	}
}

func TestRunWithoutFailover(t *testing.T) {
	servers := memcachedtest.Cluster(t, 2)
	out, err := runWatched(t, []string{"-servers", strings.Join(memcachedtest.Addrs(servers), ","), "-keys", "50", "-wait", "0"}, func(string) {})
	require.NoError(t, err)
	assert.Contains(t, out, "asked each server alone: 50/50")
	assert.NotContains(t, out, failoverPrompt)
}

func TestRunNoServerStops(t *testing.T) {
	servers := memcachedtest.Cluster(t, 2)
	out, err := runWatched(t, []string{"-servers", strings.Join(memcachedtest.Addrs(servers), ","), "-keys", "50", "-wait", "200ms"}, func(string) {})
	require.NoError(t, err)
	assert.Contains(t, out, "no server stopped; skipping the failover step")
}

func TestRunServerDownAtStart(t *testing.T) {
	servers := memcachedtest.Cluster(t, 2)
	servers[0].Stop()
	err := run(context.Background(), []string{"-servers", strings.Join(memcachedtest.Addrs(servers), ",")}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a server does not answer")
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-servers", "127.0.0.1:1"},
		{"-servers", "a:1,a:1"},
		{"-keys", "0"},
		{"-wait", "-1s"},
		{"-bogus"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			assert.Error(t, run(context.Background(), args, io.Discard))
		})
	}
}
