// Package redistest starts real redis-server processes for tests, as
// internal/memcachedtest does for memcached: one server, several
// independent servers (for go-redis's Ring), or a Redis Cluster created
// with redis-cli, with the means to stop, restart and pause any of them.
//
// Each server listens on a free 127.0.0.1 port, keeps nothing on disk but a
// Cluster's nodes.conf (no RDB snapshots, no AOF; its working directory is
// t.TempDir()), and is killed in t.Cleanup. The process also gets SIGKILL
// from the kernel when the test binary dies (Pdeathsig), so no server
// outlives the test binary even when a test fails or panics.
//
// Without redis-server (or, for a Cluster, redis-cli) on PATH, the start
// functions skip the test with a message naming the install command,
// unless TWINE_REQUIRE_REDIS or TWINE_REQUIRE_MEMCACHED is set to 1 (CI
// sets both): then they fail it.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twine-go/twine/internal/testserver"
)

// InstallHint is the command that installs redis-server and redis-cli on
// Debian and Ubuntu.
const InstallHint = "sudo apt-get install redis-server redis-tools"

// RequireEnv is the environment variable that, set to 1, turns a missing
// redis-server or redis-cli into a test failure (as
// testserver.RequireEnv, TWINE_REQUIRE_MEMCACHED, also does).
const RequireEnv = "TWINE_REQUIRE_REDIS"

// Required reports whether a missing Redis must fail tests.
func Required() bool { return os.Getenv(RequireEnv) == "1" || testserver.Required() }

// unavailable ends the test because a program is missing.
func unavailable(t testing.TB, prog string) {
	t.Helper()
	msg := fmt.Sprintf("redistest: %s not found on PATH; install it with: %s", prog, InstallHint)
	if Required() {
		t.Fatalf("%s (%s=1: required)", msg, RequireEnv)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", msg, RequireEnv)
}

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
	return start(t, nil)
}

// Servers starts n independent servers.
func Servers(t testing.TB, n int) []*Server {
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

func start(t testing.TB, extra func(dir string, port int) []string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server")
	}
	dir := t.TempDir()
	p := testserver.Start(t, testserver.Config{
		Name: "redistest",
		Bin:  bin,
		Args: func(port int) []string {
			args := []string{
				"--bind", "127.0.0.1",
				"--port", strconv.Itoa(port),
				"--dir", dir,
				"--save", "",
				"--appendonly", "no",
				"--daemonize", "no",
				"--protected-mode", "no",
				"--maxmemory", "64mb",
				"--loglevel", "warning",
				"--logfile", "",
			}
			if extra != nil {
				args = append(args, extra(dir, port)...)
			}
			return args
		},
		Hello: "PING",
		Reply: "+PONG",
	})
	return &Server{Process: p}
}

// Do sends one command to the server at addr and returns its reply as
// text: a status or integer line without its prefix, a bulk string's
// contents, or an error ("-ERR ..."). It is for the harness and tests,
// which need no client library; arrays are not supported.
func Do(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case line == "":
		return "", fmt.Errorf("redistest: empty reply")
	case line[0] == '-':
		return line, nil
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}

// Cluster is a Redis Cluster created by redis-cli --cluster create.
type Cluster struct {
	Servers []*Server
}

// StartCluster starts masters×(1+replicas) servers with cluster mode on
// (node timeout 1 s, so that a replica takes over a dead master within a
// few seconds), creates the cluster with redis-cli, and waits until every
// node reports cluster_state:ok.
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		unavailable(t, "redis-cli")
	}
	c := &Cluster{}
	for range masters * (1 + replicas) {
		c.Servers = append(c.Servers, start(t, func(dir string, port int) []string {
			return []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes-"+strconv.Itoa(port)+".conf"),
				"--cluster-node-timeout", "1000",
				"--cluster-require-full-coverage", "yes",
			}
		}))
	}
	args := append([]string{"--cluster", "create"}, Addrs(c.Servers)...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK(t, 30*time.Second)
	return c
}

// Addrs returns the addresses of every node.
func (c *Cluster) Addrs() []string { return Addrs(c.Servers) }

// WaitOK waits until every running node reports cluster_state:ok and
// every replica is in sync with its master, or fails t after timeout.
func (c *Cluster) WaitOK(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, s := range c.Servers {
			if !s.Running() || s.Paused() {
				continue
			}
			info, err := Do(s.Addr(), "CLUSTER", "INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				ok = false
				break
			}
			// A replica that has not synced yet could not take over.
			repl, err := Do(s.Addr(), "INFO", "replication")
			if err != nil || strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not ok after %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Masters returns the running nodes that are masters now.
func (c *Cluster) Masters() []*Server {
	var masters []*Server
	for _, s := range c.Servers {
		if !s.Running() || s.Paused() {
			continue
		}
		info, err := Do(s.Addr(), "INFO", "replication")
		if err == nil && strings.Contains(info, "role:master") {
			masters = append(masters, s)
		}
	}
	return masters
}

// Reshard moves slots hash slots, with their keys, from master from to
// master to with redis-cli --cluster reshard (clients meanwhile get ASK and
// MOVED redirections), then waits until the cluster is ok.
func (c *Cluster) Reshard(t testing.TB, from, to *Server, slots int) {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		unavailable(t, "redis-cli")
	}
	var ids [2]string
	for i, s := range []*Server{from, to} {
		if ids[i], err = Do(s.Addr(), "CLUSTER", "MYID"); err != nil || strings.HasPrefix(ids[i], "-") {
			t.Fatalf("redistest: CLUSTER MYID on %s: %v %s", s.Addr(), err, ids[i])
		}
	}
	out, err := exec.Command(cli, "--cluster", "reshard", from.Addr(),
		"--cluster-from", ids[0], "--cluster-to", ids[1],
		"--cluster-slots", strconv.Itoa(slots), "--cluster-yes").CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster reshard: %v\n%s", err, out)
	}
	c.WaitOK(t, 30*time.Second)
}
