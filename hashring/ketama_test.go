package hashring

import (
	"bufio"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenConfig is one server list of testdata/ketama_golden.txt.gz with the
// server libmemcached chose for each key.
type goldenConfig struct {
	family  string
	servers []goldenServer
	want    []int // index into servers, per key
}

type goldenServer struct {
	host   string
	port   int
	weight int
}

// readGolden parses the vectors written by testdata/gen_ketama.c.
func readGolden(t testing.TB) (version string, keys []string, configs []goldenConfig) {
	t.Helper()
	f, err := os.Open("testdata/ketama_golden.txt.gz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var cur *goldenConfig
	for sc.Scan() {
		line := sc.Text()
		tag, rest, _ := strings.Cut(line, " ")
		switch tag {
		case "V":
			version = rest
		case "K":
			if rest == "-" {
				keys = append(keys, "")
				continue
			}
			b, err := hex.DecodeString(rest)
			require.NoError(t, err)
			keys = append(keys, string(b))
		case "C":
			family, _, _ := strings.Cut(rest, " ")
			configs = append(configs, goldenConfig{family: family})
			cur = &configs[len(configs)-1]
		case "S":
			f := strings.Fields(rest)
			require.Len(t, f, 3)
			port, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			w, err := strconv.Atoi(f[2])
			require.NoError(t, err)
			cur.servers = append(cur.servers, goldenServer{host: f[0], port: port, weight: w})
		case "M":
			b, err := hex.DecodeString(rest)
			require.NoError(t, err)
			for _, x := range b {
				cur.want = append(cur.want, int(x))
			}
		default:
			t.Fatalf("bad line %q", line)
		}
	}
	require.NoError(t, sc.Err())
	return version, keys, configs
}

// nodeName writes a golden server as a Node name, varying the spelling of
// the default port (left out, or written) to test both.
func nodeName(s goldenServer, i int) string {
	if s.port == DefaultPort && i%2 == 0 {
		if strings.Contains(s.host, ":") {
			if i%4 == 0 {
				return s.host // bare IPv6 literal
			}
			return "[" + s.host + "]"
		}
		return s.host
	}
	return net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

func TestKetamaGolden(t *testing.T) {
	version, keys, configs := readGolden(t)
	require.True(t, strings.HasPrefix(version, "1.1."), "vectors from libmemcached %s", version)
	require.Greater(t, len(keys), 1000)
	// The odd keys the vectors must cover.
	has := func(pred func(string) bool) bool { return slices.ContainsFunc(keys, pred) }
	assert.True(t, has(func(k string) bool { return k == "" }), "empty key")
	assert.True(t, has(func(k string) bool { return strings.Contains(k, "\x00") }), "NUL")
	assert.True(t, has(func(k string) bool { return strings.Contains(k, "\r\n") }), "CR LF")
	assert.True(t, has(func(k string) bool { return !utf8.ValidString(k) }), "invalid UTF-8")
	assert.True(t, has(func(k string) bool { return utf8.ValidString(k) && utf8.RuneCountInString(k) < len(k) }), "unicode")
	assert.True(t, has(func(k string) bool { return len(k) > 250 && len(k) < 4096 }), "250+ bytes")
	assert.True(t, has(func(k string) bool { return len(k) == 4096 }), "4 KiB")
	families := map[string][]int{}
	for _, c := range configs {
		families[c.family] = append(families[c.family], len(c.servers))
	}
	require.Len(t, families, 8)
	for fam, counts := range families {
		require.Len(t, counts, 100, fam)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range configs {
		if raceEnabled && len(c.servers) > 10 && len(c.servers)%10 != 0 {
			// The race detector has nothing to find here; the full set runs
			// without it.
			continue
		}
		t.Run(fmt.Sprintf("%s/n=%d", c.family, len(c.servers)), func(t *testing.T) {
			require.Len(t, c.want, len(keys))
			nodes := make([]Node, len(c.servers))
			byName := map[string]int{}
			for i, s := range c.servers {
				nodes[i] = Node{Name: nodeName(s, i), Weight: s.weight}
				byName[nodes[i].Name] = i
			}
			// Our mapping does not depend on the input order.
			rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
			r, err := NewKetama(nodes...)
			require.NoError(t, err)
			mismatches := 0
			for k, key := range keys {
				got, ok := r.Lookup(key)
				require.True(t, ok)
				if byName[got] != c.want[k] {
					mismatches++
					if mismatches <= 3 {
						t.Errorf("key %q: got %s, libmemcached %s", key, got, nodes[c.want[k]].Name)
					}
				}
			}
			require.Zero(t, mismatches, "keys mapped differently from libmemcached")
		})
	}
}

func TestKetamaPoints(t *testing.T) {
	// float32 arithmetic gives fewer than 160 points at some equal-weight
	// server counts, as libmemcached does.
	short := 0
	for n := 1; n <= 100; n++ {
		p := ketamaPoints(1, uint64(n), n)
		require.Contains(t, []int{156, 160}, p, "n=%d", n)
		if p == 156 {
			short++
		}
	}
	assert.Positive(t, short, "some counts must round down in float32")
	assert.Equal(t, 160, ketamaPoints(1, 1, 1))
	assert.Equal(t, 0, ketamaPoints(1, 100000, 2))
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		name string
		host string
		port int
		err  error
	}{
		{"10.0.0.1", "10.0.0.1", 11211, nil},
		{"10.0.0.1:11212", "10.0.0.1", 11212, nil},
		{"cache.example.com:1", "cache.example.com", 1, nil},
		{"h:65535", "h", 65535, nil},
		{"[::1]", "::1", 11211, nil},
		{"[::1]:11300", "::1", 11300, nil},
		{"2001:db8::1", "2001:db8::1", 11211, nil},
		{"[fe80::1%eth0]:11211", "fe80::1%eth0", 11211, nil},
		{"h:0", "", 0, ErrBadAddress},
		{"h:65536", "", 0, ErrBadAddress},
		{"h:", "", 0, ErrBadAddress},
		{"h:-1", "", 0, ErrBadAddress},
		{"h:+1", "", 0, ErrBadAddress},
		{"h:port", "", 0, ErrBadAddress},
		{":11211", "", 0, ErrBadAddress},
		{"[::1", "", 0, ErrBadAddress},
		{"[::1]x", "", 0, ErrBadAddress},
		{"[10.0.0.1]:11211", "", 0, ErrBadAddress},
		{"[]:1", "", 0, ErrBadAddress},
		{"a:b:c", "", 0, ErrBadAddress},
		{"host name", "", 0, ErrBadAddress},
		{"host\n", "", 0, ErrBadAddress},
		{"/tmp/memcached.sock", "", 0, ErrBadAddress},
		{"h:1:2", "", 0, ErrBadAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port, err := parseAddress(tt.name)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.host, host)
			assert.Equal(t, tt.port, port)
		})
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"h", "h:1", "[::1]:2", "::1", "[x]", "h:99999", "", ":", "[", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		host, port, err := parseAddress(name)
		if err != nil {
			require.True(t, errors.Is(err, ErrBadAddress))
			return
		}
		require.NotEmpty(t, host)
		require.True(t, port >= 1 && port <= 65535)
		// A parsed address round-trips through its canonical form.
		h2, p2, err := parseAddress(net.JoinHostPort(host, strconv.Itoa(port)))
		require.NoError(t, err)
		require.Equal(t, host, h2)
		require.Equal(t, port, p2)
	})
}
