package hashring

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twine-go/twine/internal/memcachedtest"
)

// pylibmcPython returns a Python interpreter that imports pylibmc. The
// system interpreter comes first: a pyenv python3 on PATH usually lacks
// the Debian package.
func pylibmcPython() (string, bool) {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import pylibmc").Run() == nil {
			return py, true
		}
	}
	return "", false
}

// TestKetamaEndToEnd writes keys through pylibmc (libmemcached with
// ketama_weighted) to real memcached servers and checks that each key is
// on the server our ketama ring names, and on no other.
func TestKetamaEndToEnd(t *testing.T) {
	py, ok := pylibmcPython()
	if !ok {
		memcachedtest.Unavailable(t, "hashring: pylibmc not importable by /usr/bin/python3 or python3; install it with: sudo apt-get install python3-pylibmc")
	}
	servers := memcachedtest.Cluster(t, 5)
	weights := []int{1, 2, 3, 1, 0}
	specs := make([]string, len(servers))
	nodes := make([]Node, len(servers))
	for i, s := range servers {
		specs[i] = fmt.Sprintf("%s:%d", s.Addr(), max(weights[i], 1))
		nodes[i] = Node{Name: s.Addr(), Weight: weights[i]}
	}

	// Text-protocol keys: printable, unicode (UTF-8 bytes), up to 250 bytes.
	var keys []string
	for i := range 600 {
		keys = append(keys, fmt.Sprintf("user:%d:profile", i))
	}
	keys = append(keys, "ключ", "日本語のキー", "emoji-🙂", strings.Repeat("k", 250), "x", "-", "\xff\xfe")
	keys = append(keys, testKeys(200, 21)...)

	var in strings.Builder
	for _, k := range keys {
		in.WriteString(hex.EncodeToString([]byte(k)) + "\n")
	}
	cmd := exec.Command(py, append([]string{"testdata/pylibmc_set.py"}, specs...)...)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "pylibmc: %s", out)
	require.Equal(t, fmt.Sprintf("ok %d", len(keys)), strings.TrimSpace(string(out)))

	r, err := NewKetama(nodes...)
	require.NoError(t, err)
	conns := map[string]*textConn{}
	for _, s := range servers {
		conns[s.Addr()] = dialText(t, s.Addr())
	}
	perServer := map[string]int{}
	for _, k := range keys {
		want := r.Get(k)
		for addr, c := range conns {
			has := c.has(t, k)
			if addr == want {
				assert.True(t, has, "key %q not on %s, where our ring puts it", k, addr)
				perServer[addr]++
			} else {
				assert.False(t, has, "key %q on %s, our ring says %s", k, addr, want)
			}
		}
	}
	assert.Len(t, perServer, len(servers), "every server got keys: %v", perServer)
}

// textConn speaks just enough of the memcached text protocol to ask
// whether a key is stored.
type textConn struct {
	conn net.Conn
	rd   *bufio.Reader
}

func dialText(t *testing.T, addr string) *textConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &textConn{conn: conn, rd: bufio.NewReader(conn)}
}

func (c *textConn) has(t *testing.T, key string) bool {
	t.Helper()
	require.NoError(t, c.conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := fmt.Fprintf(c.conn, "get %s\r\n", key)
	require.NoError(t, err)
	found := false
	for {
		line, err := c.rd.ReadString('\n')
		require.NoError(t, err)
		switch {
		case line == "END\r\n":
			return found
		case strings.HasPrefix(line, "VALUE "):
			found = true
			_, err := c.rd.ReadString('\n') // the value "v"
			require.NoError(t, err)
		default:
			t.Fatalf("unexpected reply %q", line)
		}
	}
}
