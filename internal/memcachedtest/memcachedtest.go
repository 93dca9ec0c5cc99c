// Package memcachedtest starts real memcached processes for tests: one
// server, or a cluster for sharding tests, with the means to stop, restart
// and pause one of them for fault tests.
//
// Each server listens on a free 127.0.0.1 port with UDP off (-U 0) and a
// small memory limit, and is killed in t.Cleanup. The process also gets
// SIGKILL from the kernel when the test binary dies (Pdeathsig), so no
// memcached outlives the test binary even when a test fails or panics.
//
// Without a memcached binary on PATH, Start skips the test with a message
// naming the install command, unless the environment variable
// TWINE_REQUIRE_MEMCACHED is set to 1 (as CI does): then it fails the test.
package memcachedtest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/twine-go/twine/internal/testserver"
)

// RequireEnv is the environment variable that turns a missing server or
// tool from a skipped test into a failed one.
const RequireEnv = testserver.RequireEnv

// InstallHint is the command that installs memcached on Debian and Ubuntu.
const InstallHint = "sudo apt-get install memcached"

// Required reports whether missing servers must fail tests instead of
// skipping them (TWINE_REQUIRE_MEMCACHED=1).
func Required() bool { return testserver.Required() }

// Unavailable ends the test because something it needs is missing: with
// t.Skip normally, with t.Fatal when Required() is true. The message should
// say what is missing and how to install it.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testserver.Unavailable(t, format, args...)
}

// Option configures a server started by Start or Cluster.
type Option func(*config)

type config struct {
	memoryMB    int
	maxItemSize int
	args        []string
}

// MemoryMB sets the server's memory limit in megabytes (-m). The default
// is 16.
func MemoryMB(mb int) Option { return func(c *config) { c.memoryMB = mb } }

// MaxItemSize sets the server's largest item size in bytes (-I). The
// default is memcached's, 1 MiB. memcached accepts sizes from 1 KiB up to
// half of its memory limit.
func MaxItemSize(n int) Option { return func(c *config) { c.maxItemSize = n } }

// Args appends raw command-line arguments for memcached.
func Args(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// Server is one memcached process started for a test: Addr, Stop, Restart,
// Pause, Resume, Running, Paused and Pid come from the embedded
// testserver.Process. Its methods are safe for concurrent use by multiple
// goroutines; they fail the test (t.Fatal) when the process cannot be
// controlled, so call them from the test's goroutine.
type Server struct {
	*testserver.Process
	cfg config
}

// Start starts one memcached on a free loopback port, waits until it
// answers, and registers its end in t.Cleanup.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		Unavailable(t, "memcachedtest: memcached not found on PATH; install it with: %s", InstallHint)
	}
	cfg := config{memoryMB: 16, maxItemSize: 1 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	p := testserver.Start(t, testserver.Config{
		Name:  "memcachedtest",
		Bin:   bin,
		Args:  cfg.commandLine,
		Hello: "version",
		Reply: "VERSION ",
	})
	return &Server{Process: p, cfg: cfg}
}

// commandLine is memcached's command line for a server on port.
func (c config) commandLine(port int) []string {
	args := []string{
		"-l", "127.0.0.1",
		"-p", strconv.Itoa(port),
		"-U", "0",
		"-m", strconv.Itoa(c.memoryMB),
		"-I", strconv.Itoa(c.maxItemSize),
		"-c", "1024",
	}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses root without -u
	}
	return append(args, c.args...)
}

// Cluster starts n servers with the same options.
func Cluster(t testing.TB, n int, opts ...Option) []*Server {
	t.Helper()
	servers := make([]*Server, n)
	for i := range servers {
		servers[i] = Start(t, opts...)
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

// MaxItemSize returns the server's largest item size in bytes (-I).
func (s *Server) MaxItemSize() int { return s.cfg.maxItemSize }

// MemoryMB returns the server's memory limit in megabytes (-m).
func (s *Server) MemoryMB() int { return s.cfg.memoryMB }
