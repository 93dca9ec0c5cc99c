// Package testserver runs a real server process (memcached, redis-server)
// for tests: on a free 127.0.0.1 port, started and probed until it answers,
// stopped, restarted on the same port, paused with SIGSTOP to play a hung
// server, and killed in t.Cleanup. The process also gets SIGKILL from the
// kernel when the test binary dies (Pdeathsig), so no server outlives the
// test binary even when a test fails or panics.
//
// internal/memcachedtest, internal/redistest and the examples' redistest
// are built on it; their tests (start, stop, restart, pause, cleanup, a
// crashed test binary, a missing binary) exercise this package against the
// real programs.
package testserver

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

// startTimeout bounds how long a start waits for the process to answer.
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

// Config describes a server program.
type Config struct {
	// Name prefixes messages, e.g. "memcachedtest".
	Name string
	// Bin is the path of the program.
	Bin string
	// Args returns the command line for a server listening on
	// 127.0.0.1:port.
	Args func(port int) []string
	// Hello is the request line (without CRLF) that probes readiness, and
	// Reply the prefix of the answer that means ready.
	Hello, Reply string
}

// Process is one server process. Its methods are safe for concurrent use by
// multiple goroutines; they fail the test (t.Fatal) when the process cannot
// be controlled, so call them from the test's goroutine.
type Process struct {
	t    testing.TB
	cfg  Config
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd's process has been reaped
	paused bool
}

// Start starts the server on a free loopback port, waits until it answers,
// and registers its end in t.Cleanup.
func Start(t testing.TB, cfg Config) *Process {
	t.Helper()
	p := &Process{t: t, cfg: cfg}
	t.Cleanup(p.kill)
	// A free port can be taken by another process between our probe and
	// the server's bind, so try a few ports.
	var err error
	for range 5 {
		if p.port, err = freePort(); err == nil {
			if err = p.start(); err == nil {
				return p
			}
		}
	}
	t.Fatalf("%s: cannot start %s: %v", cfg.Name, cfg.Bin, err)
	return nil
}

// Addr returns the server's address, "127.0.0.1:port". It stays the same
// across Stop and Restart.
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// Pid returns the process id, or 0 when the server is stopped.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Stop kills the server and waits until it is gone. Connections to Addr are
// refused until Restart. Stopping a stopped server does nothing.
func (p *Process) Stop() { p.kill() }

// Restart starts a stopped server again, empty, on the same port, and waits
// until it answers. It stops the server first if it is running.
func (p *Process) Restart() {
	p.t.Helper()
	p.kill()
	// The old listening socket may linger for a moment after the process
	// is reaped; the servers bind with SO_REUSEADDR, so retrying is enough.
	var err error
	for range 5 {
		if err = p.start(); err == nil {
			return
		}
	}
	p.t.Fatalf("%s: restart %s: %v", p.cfg.Name, p.Addr(), err)
}

// Pause stops the process with SIGSTOP: the kernel still accepts
// connections on its port, but nothing answers, as with a hung server.
func (p *Process) Pause() {
	p.t.Helper()
	p.signal(syscall.SIGSTOP, true)
}

// Resume continues a paused server with SIGCONT.
func (p *Process) Resume() {
	p.t.Helper()
	p.signal(syscall.SIGCONT, false)
}

// Running reports whether the process is alive (paused or not).
func (p *Process) Running() bool { return p.Pid() != 0 }

// Paused reports whether the server is paused.
func (p *Process) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

func (p *Process) signal(sig syscall.Signal, paused bool) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		p.t.Fatalf("%s: %s is not running", p.cfg.Name, p.Addr())
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: signal %v to %s: %v", p.cfg.Name, sig, p.Addr(), err)
	}
	p.paused = paused
}

// start launches the process on p.port and waits until it answers. On
// failure the process is killed and the error says why.
func (p *Process) start() error {
	cmd := exec.Command(p.cfg.Bin, p.cfg.Args(p.port)...)
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
	p.mu.Lock()
	p.cmd, p.exited, p.paused = cmd, exited, false
	p.mu.Unlock()

	if err := p.waitReady(exited); err != nil {
		p.kill()
		return fmt.Errorf("%w; output: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// kill ends the process with SIGKILL (which also ends a paused one) and
// waits until it is reaped.
func (p *Process) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd, p.exited, p.paused = nil, nil, false
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// waitReady probes the server until it answers, the process exits, or
// startTimeout passes.
func (p *Process) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := p.ping()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s on %s exited during start: %v", p.cfg.Bin, p.Addr(), err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s on %s did not answer within %v: %v", p.cfg.Bin, p.Addr(), startTimeout, err)
		}
		time.Sleep(delay)
	}
}

// ping sends the Hello line and checks the answer's prefix.
func (p *Process) ping() error {
	conn, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte(p.cfg.Hello + "\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, p.cfg.Reply) {
		return errors.New("unexpected answer to " + p.cfg.Hello + ": " + strings.TrimSpace(line))
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
