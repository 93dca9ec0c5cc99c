package cachestruct

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// The process tests re-run this test binary as several child processes
// (as internal/memcachedtest's and deferred's child-process tests do),
// each with its own Cache and memcached client, so that the right to
// recompute is proved across real processes sharing one memcached server.

// cacheChildEnv holds a child's scenario: "xfetch addr key offset".
const cacheChildEnv = "CACHESTRUCT_CACHE_CHILD"

// cacheChildGoroutines is how many goroutines each child runs.
const cacheChildGoroutines = 50

// TestCacheChild is the child's side: it connects, says "ready", waits for
// a line on stdin, then runs cacheChildGoroutines GetOrCompute calls of
// the key at once, all drawing an early (XFetch) recompute, and prints how
// many computed.
func TestCacheChild(t *testing.T) {
	args := strings.Fields(os.Getenv(cacheChildEnv))
	if len(args) == 0 {
		t.Skip("helper for the process tests")
	}
	require.Len(t, args, 4)
	require.Equal(t, "xfetch", args[0])
	addr, key := args[1], args[2]
	offset, err := strconv.ParseInt(args[3], 10, 64)
	require.NoError(t, err)
	m, err := NewMemcached([]string{addr}, MemcachedOptions{Timeout: 10 * time.Second})
	require.NoError(t, err)
	defer m.Close()
	c := NewCache(m, StringCodec{}, CacheConfig{
		Beta: 1,
		Now:  func() time.Time { return time.Now().Add(time.Duration(offset)) },
		Rand: func() float64 { return 0.1 },
	})
	ctx := context.Background()
	_, _, err = m.Get(ctx, key, GetOptions{}) // open a connection before the start
	require.NoError(t, err)
	fmt.Println("ready")
	_, err = bufio.NewReader(os.Stdin).ReadString('\n')
	require.NoError(t, err)
	var computes atomic.Int64
	var wg sync.WaitGroup
	for range cacheChildGoroutines {
		wg.Go(func() {
			v, err := c.GetOrCompute(ctx, key, time.Minute, func(context.Context) (string, error) {
				computes.Add(1)
				time.Sleep(300 * time.Millisecond) // outlasts the other processes' start
				return "v2", nil
			})
			assert.NoError(t, err)
			assert.Contains(t, []string{"v1", "v2"}, v)
		})
	}
	wg.Wait()
	fmt.Printf("computes %d\n", computes.Load())
}

// TestCacheXFetchOneRecomputeProcesses: 4 processes × 50 goroutines read
// an item on real memcached 2 s before it expires, every reader drawing an
// early recompute (XFetch); exactly one recomputes it.
func TestCacheXFetchOneRecomputeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	const procs = 4
	addr := memcachedtest.Start(t).Addr()
	m, err := NewMemcached([]string{addr}, MemcachedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	var offset atomic.Int64
	seeder := NewCache(m, StringCodec{}, CacheConfig{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	key := fmt.Sprintf("xfetch-procs-%d", time.Now().UnixNano())
	xfetchSeed(t, seeder, key, &offset)

	exe, err := os.Executable()
	require.NoError(t, err)
	type child struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stdout *bufio.Reader
		out    strings.Builder
	}
	children := make([]*child, procs)
	for i := range children {
		c := &child{cmd: exec.Command(exe, "-test.run=^TestCacheChild$", "-test.count=1")}
		c.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=xfetch %s %s %d", cacheChildEnv, addr, key, offset.Load()))
		c.stdin, err = c.cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := c.cmd.StdoutPipe()
		require.NoError(t, err)
		c.stdout = bufio.NewReader(stdout)
		c.cmd.Stderr = &c.out
		require.NoError(t, c.cmd.Start())
		t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
		children[i] = c
	}
	// lines reads c's stdout up to a line starting with prefix.
	lines := func(c *child, prefix string) string {
		for {
			line, err := c.stdout.ReadString('\n')
			c.out.WriteString(line)
			require.NoError(t, err, "child output:\n%s", c.out.String())
			if strings.HasPrefix(line, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(line, prefix))
			}
		}
	}
	for _, c := range children {
		lines(c, "ready")
	}
	for _, c := range children {
		_, err := io.WriteString(c.stdin, "go\n")
		require.NoError(t, err)
	}
	total := 0
	for i, c := range children {
		n, err := strconv.Atoi(lines(c, "computes "))
		require.NoError(t, err)
		_, _ = io.Copy(&c.out, c.stdout)
		require.NoError(t, c.cmd.Wait(), "child %d output:\n%s", i, c.out.String())
		total += n
	}
	assert.Equal(t, 1, total, "early recomputes of %d readers in %d processes", procs*cacheChildGoroutines, procs)
	v, found, err := seeder.Get(context.Background(), key)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "v2", v)
}
