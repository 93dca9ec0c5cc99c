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
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing server or
// tool from a skipped test into a failed one.
const RequireEnv = "TWINE_REQUIRE_MEMCACHED"

// InstallHint is the command that installs memcached on Debian and Ubuntu.
const InstallHint = "sudo apt-get install memcached"

// startTimeout bounds how long Start waits for a new process to answer.
const startTimeout = 10 * time.Second

// Required reports whether missing servers must fail tests instead of
// skipping them (TWINE_REQUIRE_MEMCACHED=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Unavailable ends the test because something it needs is missing: with
// t.Skip normally, with t.Fatal when Required() is true. The message should
// say what is missing and how to install it.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1: required)", msg, RequireEnv)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", msg, RequireEnv)
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

// Server is one memcached process started for a test. Its methods are safe
// for concurrent use by multiple goroutines; they fail the test (t.Fatal)
// when the process cannot be controlled, so call them from the test's
// goroutine.
type Server struct {
	t    testing.TB
	bin  string
	port int
	cfg  config

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd's process has been reaped
	paused bool
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
	s := &Server{t: t, bin: bin, cfg: cfg}
	t.Cleanup(s.kill)

	// A free port can be taken by another process between our probe and
	// memcached's bind, so try a few ports.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err == nil {
			err = s.start()
		}
		if err == nil {
			return s
		}
		if attempt == 4 {
			t.Fatalf("memcachedtest: cannot start memcached: %v", err)
		}
	}
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

// Addr returns the server's address, "127.0.0.1:port". It stays the same
// across Stop and Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// MaxItemSize returns the server's largest item size in bytes (-I).
func (s *Server) MaxItemSize() int { return s.cfg.maxItemSize }

// MemoryMB returns the server's memory limit in megabytes (-m).
func (s *Server) MemoryMB() int { return s.cfg.memoryMB }

// Stop kills the server and waits until it is gone. Connections to Addr are
// refused until Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.kill()
}

// Restart starts a stopped server again, empty, on the same port, and waits
// until it answers. It stops the server first if it is running.
func (s *Server) Restart() {
	s.t.Helper()
	s.kill()
	// The old listening socket may linger for a moment after the process
	// is reaped; memcached binds with SO_REUSEADDR, so retrying is enough.
	var err error
	for range 5 {
		if err = s.start(); err == nil {
			return
		}
	}
	s.t.Fatalf("memcachedtest: restart %s: %v", s.Addr(), err)
}

// Pause stops the process with SIGSTOP: the kernel still accepts
// connections on its port, but nothing answers, as with a hung server.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP, true)
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() {
	s.t.Helper()
	s.signal(syscall.SIGCONT, false)
}

// Running reports whether the process is alive (paused or not).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Paused reports whether the server is paused.
func (s *Server) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

func (s *Server) signal(sig syscall.Signal, paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("memcachedtest: %s is not running", s.Addr())
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("memcachedtest: signal %v to %s: %v", sig, s.Addr(), err)
	}
	s.paused = paused
}

// start launches the process on s.port and waits until it answers. On
// failure the process is killed and the error says why.
func (s *Server) start() error {
	args := []string{
		"-l", "127.0.0.1",
		"-p", strconv.Itoa(s.port),
		"-U", "0",
		"-m", strconv.Itoa(s.cfg.memoryMB),
		"-I", strconv.Itoa(s.cfg.maxItemSize),
		"-c", "1024",
	}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses root without -u
	}
	args = append(args, s.cfg.args...)
	cmd := exec.Command(s.bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// Pdeathsig kills the server if the test binary dies without running
	// its cleanups (a crash, a timeout, a kill).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()

	if err := waitReady(s.Addr(), exited); err != nil {
		s.kill()
		return fmt.Errorf("%w; stderr: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// kill ends the process with SIGKILL (which also ends a paused one) and
// waits until it is reaped.
func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited, s.paused = nil, nil, false
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// waitReady polls addr with a version command until memcached answers,
// the process exits, or startTimeout passes.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := ping(addr)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("memcached on %s exited during start: %v", addr, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("memcached on %s did not answer within %v: %v", addr, startTimeout, err)
		}
		time.Sleep(delay)
	}
}

// ping sends "version" and checks the answer.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("version\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return errors.New("unexpected answer to version: " + strings.TrimSpace(line))
	}
	return nil
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
