package memcachedtest

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrip sends one request line and returns the reply lines up to and
// including the terminator line (END, STORED, a meta status ...).
func roundTrip(t *testing.T, addr, req string, timeout time.Duration) ([]string, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(timeout)))
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(conn)
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		switch {
		case line == "END", line == "STORED", line == "EN", strings.HasPrefix(line, "VERSION"),
			strings.HasPrefix(line, "HD"), strings.HasPrefix(line, "ERROR"):
			return lines, nil
		case strings.HasPrefix(line, "VA "):
			value, err := r.ReadString('\n')
			return append(lines, strings.TrimRight(value, "\r\n")), err
		}
	}
}

func TestStartTalkStopRestart(t *testing.T) {
	s := Start(t)
	require.True(t, s.Running())

	lines, err := roundTrip(t, s.Addr(), "set k 0 0 5\r\nhello\r\n", 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"STORED"}, lines)
	lines, err = roundTrip(t, s.Addr(), "mg k v\r\n", 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"VA 5", "hello"}, lines)

	s.Stop()
	require.False(t, s.Running())
	_, err = net.DialTimeout("tcp", s.Addr(), time.Second)
	var errno syscall.Errno
	require.ErrorAs(t, err, &errno, "a stopped server must refuse connections")
	assert.Equal(t, syscall.ECONNREFUSED, errno)
	s.Stop() // stopping twice is harmless

	addr := s.Addr()
	s.Restart()
	require.Equal(t, addr, s.Addr(), "Restart keeps the address")
	lines, err = roundTrip(t, s.Addr(), "mg k v\r\n", 2*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"EN"}, lines, "a restarted server is empty")
}

func TestPauseResume(t *testing.T) {
	s := Start(t)
	s.Pause()
	require.True(t, s.Paused())

	// A paused server accepts the connection (the kernel does) but never
	// answers: the read times out.
	_, err := roundTrip(t, s.Addr(), "version\r\n", 200*time.Millisecond)
	var nerr net.Error
	require.ErrorAs(t, err, &nerr)
	require.True(t, nerr.Timeout(), "want a timeout from a paused server, got %v", err)

	s.Resume()
	require.False(t, s.Paused())
	lines, err := roundTrip(t, s.Addr(), "version\r\n", 2*time.Second)
	require.NoError(t, err)
	require.Len(t, lines, 1)
	require.True(t, strings.HasPrefix(lines[0], "VERSION "))
}

func TestClusterAndOptions(t *testing.T) {
	servers := Cluster(t, 3, MaxItemSize(2<<20), MemoryMB(32))
	addrs := Addrs(servers)
	require.Len(t, addrs, 3)
	seen := map[string]bool{}
	for i, s := range servers {
		require.False(t, seen[addrs[i]], "addresses must differ")
		seen[addrs[i]] = true
		require.Equal(t, 2<<20, s.MaxItemSize())
		require.Equal(t, 32, s.MemoryMB())
		lines, err := roundTrip(t, s.Addr(), "stats settings\r\n", 2*time.Second)
		require.NoError(t, err)
		require.Contains(t, lines, "STAT item_size_max "+strconv.Itoa(2<<20))
		require.Contains(t, lines, "STAT maxbytes "+strconv.Itoa(32<<20))
		require.Contains(t, lines, "STAT udpport 0")
	}

	// Each server is its own process: stopping one leaves the others up.
	servers[1].Stop()
	_, err := roundTrip(t, servers[0].Addr(), "version\r\n", 2*time.Second)
	require.NoError(t, err)
	_, err = roundTrip(t, servers[2].Addr(), "version\r\n", 2*time.Second)
	require.NoError(t, err)
}

// alive reports whether a process with this pid still exists (and is not a
// zombie waiting to be reaped by us).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestCleanupKillsProcess(t *testing.T) {
	var pid int
	t.Run("inner", func(t *testing.T) {
		s := Start(t)
		s.Pause() // even a paused server must be killed
		pid = s.Pid()
		require.True(t, alive(pid))
	})
	require.NotZero(t, pid)
	require.False(t, alive(pid), "the server must not outlive its test")
}

// The child-process tests re-run this test binary with childEnv set to pick
// a scenario; the parent checks the outcome.
const childEnv = "MEMCACHEDTEST_CHILD"

func TestChild(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("helper for the child-process tests")
	case "crash":
		s := Start(t)
		os.Stdout.WriteString("PID " + strconv.Itoa(s.Pid()) + "\n")
		os.Exit(3) // no cleanups run
	case "missing":
		Start(t)
		t.Fatal("Start returned without a memcached binary")
	}
}

func runChild(t *testing.T, scenario string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v")
	cmd.Env = append(os.Environ(), append(env, childEnv+"="+scenario)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestNoProcessOutlivesCrashedTestBinary(t *testing.T) {
	if _, err := exec.LookPath("memcached"); err != nil {
		Unavailable(t, "memcachedtest: memcached not found on PATH; install it with: %s", InstallHint)
	}
	out, err := runChild(t, "crash")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, out)
	require.Equal(t, 3, exit.ExitCode(), out)
	i := strings.Index(out, "PID ")
	require.GreaterOrEqual(t, i, 0, out)
	pid, err := strconv.Atoi(strings.Fields(out[i+4:])[0])
	require.NoError(t, err)

	// The kernel delivers the death signal as the child exits; reaping
	// the orphan by init can take a moment.
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.False(t, alive(pid), "memcached %d outlived the crashed test binary", pid)
}

func TestMissingBinary(t *testing.T) {
	t.Run("skips", func(t *testing.T) {
		out, err := runChild(t, "missing", "PATH=/nonexistent", RequireEnv+"=0")
		require.NoError(t, err, out)
		require.Contains(t, out, "--- SKIP: TestChild")
		require.Contains(t, out, InstallHint)
	})
	t.Run("fails when required", func(t *testing.T) {
		out, err := runChild(t, "missing", "PATH=/nonexistent", RequireEnv+"=1")
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "want a failing child, got %v\n%s", err, out)
		require.Contains(t, out, "--- FAIL: TestChild")
		require.Contains(t, out, InstallHint)
	})
}
