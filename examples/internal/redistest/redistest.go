// Package redistest starts real redis-server processes for the tests of the
// example programs, as internal/memcachedtest does for memcached: one
// server, or a cluster for sharding tests, with the means to stop, restart
// and pause one of them.
//
// Each server listens on a free 127.0.0.1 port, keeps nothing on disk (no
// RDB snapshots, no AOF, its working directory is t.TempDir()), and is
// killed in t.Cleanup. The process also gets SIGKILL from the kernel when
// the test binary dies (Pdeathsig), so no redis-server outlives the test
// binary even when a test fails or panics.
//
// Without a redis-server binary on PATH, Start skips the test with a
// message naming the install command, unless the environment variable
// TWINE_REQUIRE_MEMCACHED is set to 1 (as CI does, for all real servers):
// then it fails the test.
package redistest

import (
	"os/exec"
	"strconv"
	"testing"

	"github.com/twine-go/twine/internal/testserver"
)

// InstallHint is the command that installs redis-server on Debian and
// Ubuntu.
const InstallHint = "sudo apt-get install redis-server"

// Server is one redis-server process started for a test: Addr, Stop,
// Restart, Pause, Resume, Running, Paused and Pid come from the embedded
// testserver.Process. Its methods are safe for concurrent use by multiple
// goroutines; they fail the test (t.Fatal) when the process cannot be
// controlled, so call them from the test's goroutine.
type Server struct {
	*testserver.Process
}

// Start starts one redis-server on a free loopback port, waits until it
// answers PING, and registers its end in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testserver.Unavailable(t, "redistest: redis-server not found on PATH; install it with: %s", InstallHint)
	}
	dir := t.TempDir()
	p := testserver.Start(t, testserver.Config{
		Name: "redistest",
		Bin:  bin,
		Args: func(port int) []string {
			return []string{
				"--bind", "127.0.0.1",
				"--port", strconv.Itoa(port),
				"--dir", dir,
				"--save", "",
				"--appendonly", "no",
				"--daemonize", "no",
				"--protected-mode", "no",
				"--maxmemory", "32mb",
				"--loglevel", "warning",
				"--logfile", "",
			}
		},
		Hello: "PING",
		Reply: "+PONG",
	})
	return &Server{Process: p}
}

// Cluster starts n servers.
func Cluster(t testing.TB, n int) []*Server {
	t.Helper()
	servers := make([]*Server, n)
	for i := range servers {
		servers[i] = Start(t)
	}
	return servers
}

// Addrs returns the addresses of servers, in order.
func Addrs(servers []*Server) []string {
	addrs := make([]string, len(servers))
	for i, s := range servers {
		addrs[i] = s.Addr()
	}
	return addrs
}
