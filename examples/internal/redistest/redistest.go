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
	"bufio"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// InstallHint is the command that installs redis-server on Debian and
// Ubuntu.
const InstallHint = "sudo apt-get install redis-server"

// startTimeout bounds how long Start waits for a new process to answer.
const startTimeout = 10 * time.Second

// Server is one redis-server process started for a test. Its methods are
// safe for concurrent use by multiple goroutines; they fail the test
// (t.Fatal) when the process cannot be controlled, so call them from the
// test's goroutine.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd's process has been reaped
	paused bool
}

// Start starts one redis-server on a free loopback port, waits until it
// answers PING, and registers its end in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		memcachedtest.Unavailable(t, "redistest: redis-server not found on PATH; install it with: %s", InstallHint)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(s.kill)

	// A free port can be taken by another process between our probe and
	// redis-server's bind, so try a few ports.
	for attempt := 0; ; attempt++ {
		s.port, err = freePort()
		if err == nil {
			err = s.start()
		}
		if err == nil {
			return s
		}
		if attempt == 4 {
			t.Fatalf("redistest: cannot start redis-server: %v", err)
		}
	}
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

// Addr returns the server's address, "127.0.0.1:port". It stays the same
// across Stop and Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

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
	var err error
	for range 5 {
		if err = s.start(); err == nil {
			return
		}
	}
	s.t.Fatalf("redistest: restart %s: %v", s.Addr(), err)
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
		s.t.Fatalf("redistest: %s is not running", s.Addr())
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v to %s: %v", sig, s.Addr(), err)
	}
	s.paused = paused
}

// start launches the process on s.port and waits until it answers. On
// failure the process is killed and the error says why.
func (s *Server) start() error {
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--maxmemory", "32mb",
		"--loglevel", "warning",
		"--logfile", "",
	}
	cmd := exec.Command(s.bin, args...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
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
		return fmt.Errorf("%w; output: %s", err, strings.TrimSpace(out.String()))
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

// waitReady pings addr until redis answers, the process exits, or
// startTimeout passes.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := ping(addr)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited during start: %v", addr, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer within %v: %v", addr, startTimeout, err)
		}
		time.Sleep(delay)
	}
}

// ping sends an inline PING and checks for +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return errors.New("unexpected answer to PING: " + strings.TrimSpace(line))
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
