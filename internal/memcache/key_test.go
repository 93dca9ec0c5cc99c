package memcache

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		name         string
		key          string
		text, binary bool // valid without / with binary keys
	}{
		{"plain", "user:42", true, true},
		{"utf8", "clé", true, true},
		{"250 bytes", strings.Repeat("k", 250), true, true},
		{"empty", "", false, false},
		{"251 bytes", strings.Repeat("k", 251), false, false},
		{"space", "a b", false, true},
		{"crlf injection", "k\r\nflush_all", false, true},
		{"tab", "a\tb", false, true},
		{"nul", "a\x00", false, true},
		{"del", "a\x7f", false, true},
		{"binary at limit", strings.Repeat("\x01", MaxBinaryKeyLen), false, true},
		{"binary over limit", strings.Repeat("\x01", MaxBinaryKeyLen+1), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.text, CheckKey(tt.key, false) == nil)
			assert.Equal(t, tt.binary, CheckKey(tt.key, true) == nil)
			if err := CheckKey(tt.key, false); err != nil {
				require.ErrorIs(t, err, ErrInvalidKey)
			}
		})
	}
}

func TestRequestFormat(t *testing.T) {
	c := New("x", Config{})
	c.now = func() time.Time { return time.Unix(1_000_000_000, 0) }
	tests := []struct {
		name string
		r    req
		want string
	}{
		{"get", req{op: 'g', key: "k"}, "mg k v f c t\r\n"},
		{"lease", req{op: 'g', key: "k", hasVivify: true, vivify: 30, recache: 5}, "mg k v f c t N30 R5\r\n"},
		{"binary key", req{op: 'g', key: "a b"}, "mg YSBi b v f c t\r\n"},
		{"set", req{op: 's', key: "k", value: []byte("v"), ttl: 10, flags: 3, cas: 7, mode: 'E', invalidate: true},
			"ms k 1 c T10 F3 C7 ME I\r\nv\r\n"},
		{"set binary", req{op: 's', key: "\x00", value: nil}, "ms AA== 0 b c\r\n\r\n"},
		{"delete stale", req{op: 'd', key: "k", cas: 2, invalidate: true, ttl: 30}, "md k C2 I T30\r\n"},
		{"decr vivify", req{op: 'a', key: "k", delta: 2, decr: true, hasVivify: true, vivify: 0, initial: 9},
			"ma k v N0 J9 D2 MD\r\n"},
		{"multi", req{op: 'm', keys: []string{"a", "b"}}, "mg a v f c t\r\nmg b v f c t\r\n"},
		{"gets", req{op: 'G', keys: []string{"a", "b", "a"}}, "gets a b a\r\n"},
		{"stats", req{op: 't', key: "settings"}, "stats settings\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(tt.r.appendTo(nil)))
		})
	}
	assert.Equal(t, int64(0), c.ttl(0))
	assert.Equal(t, int64(-1), c.ttl(-time.Second))
	assert.Equal(t, int64(1), c.ttl(time.Millisecond), "rounded up to a second")
	assert.Equal(t, int64(30*24*3600), c.ttl(30*24*time.Hour), "30 days is still relative")
	assert.Equal(t, int64(1_000_000_000+30*24*3600+1), c.ttl(30*24*time.Hour+time.Second), "beyond: absolute")
}

// FuzzCheckKey checks that whatever CheckKey accepts goes on the wire as a
// single token of at most 250 bytes without spaces or control characters.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"k", "a b", "x\r\nflush_all", strings.Repeat("k", 251), "\x00\xff"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, key string, binary bool) {
		if CheckKey(key, binary) != nil {
			return
		}
		wire, b64 := appendKey(nil, key)
		if len(wire) == 0 || len(wire) > MaxKeyLen {
			t.Fatalf("wire key of %d bytes", len(wire))
		}
		for _, c := range wire {
			if c <= ' ' || c == 0x7f {
				t.Fatalf("wire key %q holds %q", wire, c)
			}
		}
		if b64 {
			require.True(t, binary)
			dec, err := base64.StdEncoding.DecodeString(string(wire))
			require.NoError(t, err)
			require.Equal(t, key, string(dec))
		} else {
			require.Equal(t, key, string(wire))
		}
	})
}

func TestWholeSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2},
		{30 * 24 * time.Hour, 30 * 24 * 3600}, {-time.Nanosecond, 0}, {-1500 * time.Millisecond, -1},
		{math.MaxInt64, math.MaxInt64/int64(time.Second) + 1},
	} {
		assert.Equal(t, tt.want, WholeSeconds(tt.d), "%v", tt.d)
	}
}

// TestTextKeyEveryByte: the word-at-a-time check agrees with a check of
// each byte for every byte value at every position of keys of 1 to 17
// bytes (both sides of each 8-byte word), among valid bytes of either
// half of the byte range.
func TestTextKeyEveryByte(t *testing.T) {
	for n := 1; n <= 17; n++ {
		for _, fill := range []byte{'k', 0x80, 0xff, '!', 0x7e} {
			key := []byte(strings.Repeat(string(fill), n))
			for pos := range n {
				for c := range 256 {
					key[pos] = byte(c)
					want := c > ' ' && c != 0x7f
					if got := textKey(string(key)); got != want {
						t.Fatalf("textKey(%q) = %v, want %v", key, got, want)
					}
				}
				key[pos] = fill
			}
		}
	}
}

func BenchmarkCheckKey(b *testing.B) {
	b.ReportAllocs()
	keys := []string{"bench:paired:42", "user:1234567:profile:avatar", "k"}
	for b.Loop() {
		for _, k := range keys {
			if CheckKey(k, false) != nil {
				b.Fatal(k)
			}
		}
	}
}
