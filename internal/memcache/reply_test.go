package memcache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, in string) (reply, error) {
	t.Helper()
	var r reply
	err := readReply(bufio.NewReader(strings.NewReader(in)), &r, 1024, nil, 0)
	return r, err
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want reply
	}{
		{"value", "VA 3 c12 t-1 f5\r\nabc\r\n", reply{code: codeVA, value: []byte("abc"), cas: 12, ttl: -1, flags: 5, opaque: -1}},
		{"empty value win", "VA 0 c1 t30 W\r\n\r\n", reply{code: codeVA, value: []byte{}, cas: 1, ttl: 30, win: true, opaque: -1}},
		{"flags any order", "VA 1 Z X t30 O7\r\nx\r\n", reply{code: codeVA, value: []byte("x"), ttl: 30, stale: true, busy: true, opaque: 7}},
		{"stored", "HD c99\r\n", reply{code: codeHD, cas: 99, opaque: -1}},
		{"miss", "EN\r\n", reply{code: codeEN, opaque: -1}},
		{"not found", "NF\r\n", reply{code: codeNF, opaque: -1}},
		{"not stored", "NS\r\n", reply{code: codeNS, opaque: -1}},
		{"exists", "EX\r\n", reply{code: codeEX, opaque: -1}},
		{"noop", "MN\r\n", reply{code: codeMN, opaque: -1}},
		{"unknown flags ignored", "HD k/key b s3\r\n", reply{code: codeHD, opaque: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parse(t, tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, r)
		})
	}
}

func TestReadReplyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", io.EOF},
		{"truncated line", "VA 3", io.ErrUnexpectedEOF},
		{"truncated block", "VA 3\r\nab", io.ErrUnexpectedEOF},
		{"block without crlf", "VA 3\r\nabcXY", ErrProtocol},
		{"oversized length", "VA 99999999999\r\n", ErrProtocol},
		{"negative length", "VA -1\r\n", ErrProtocol},
		{"no length", "VA\r\n", ErrProtocol},
		{"bare lf", "HD\n", ErrProtocol},
		{"unknown code", "ZZ\r\n", ErrProtocol},
		{"glued code", "HDX\r\n", ErrProtocol},
		{"bad cas", "HD cX\r\n", ErrProtocol},
		{"cas overflow", "HD c18446744073709551616\r\n", ErrProtocol},
		{"flags overflow", "HD f4294967296\r\n", ErrProtocol},
		{"long line", "HD " + strings.Repeat("k", 5000) + "\r\n", ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.in)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestReadReplyServerErrors(t *testing.T) {
	for in, want := range map[string]ServerError{
		"ERROR\r\n": {Kind: "ERROR"},
		"CLIENT_ERROR bad command line format\r\n": {Kind: "CLIENT_ERROR", Message: "bad command line format"},
		"SERVER_ERROR out of memory\r\n":           {Kind: "SERVER_ERROR", Message: "out of memory"},
	} {
		_, err := parse(t, in)
		var se *ServerError
		require.ErrorAs(t, err, &se, in)
		assert.Equal(t, want, *se)
		assert.Contains(t, se.Error(), want.Kind)
	}
}

func TestReadStats(t *testing.T) {
	st, err := readStats(bufio.NewReader(strings.NewReader("STAT item_size_max 1048576\r\nSTAT a b c\r\nEND\r\n")))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"item_size_max": "1048576", "a": "b c"}, st)
	_, err = readStats(bufio.NewReader(strings.NewReader("STAT x 1\r\nBOGUS\r\n")))
	require.ErrorIs(t, err, ErrProtocol)
}

func TestReadMulti(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		nkeys   int
		hits    []int // indexes of the hits
		errIs   error
		srvErr  bool
		trailer string // what must be left unread
	}{
		{name: "hits and misses in order", in: "VA 1 f3 c1 t-1\r\na\r\nEN\r\nVA 2 c2 t5\r\nbb\r\nHD\r\n", nkeys: 3,
			hits: []int{0, 2}, trailer: "HD\r\n"},
		{name: "error line answers one key", in: "VA 1\r\na\r\nCLIENT_ERROR bad\r\nVA 2\r\nbb\r\n", nkeys: 3,
			hits: []int{0, 2}, srvErr: true},
		{name: "ERROR breaks the batch", in: "VA 1\r\na\r\nERROR\r\nVA 2\r\nbb\r\n", nkeys: 3, srvErr: true,
			hits: []int{0}},
		{name: "unexpected code", in: "HD\r\n", nkeys: 1, errIs: ErrProtocol},
		{name: "short batch", in: "EN\r\n", nkeys: 2, errIs: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := getCall(kindMulti)
			cl.keys = make([]string, tt.nkeys)
			br := bufio.NewReader(strings.NewReader(tt.in))
			err := readMulti(br, cl, 100, false)
			switch {
			case tt.errIs != nil:
				require.ErrorIs(t, err, tt.errIs)
			case tt.srvErr:
				var se *ServerError
				require.ErrorAs(t, err, &se)
			default:
				require.NoError(t, err)
			}
			var got []int
			for _, h := range cl.multi {
				got = append(got, h.index)
			}
			assert.Equal(t, tt.hits, got)
			if tt.trailer != "" {
				rest, _ := io.ReadAll(br)
				assert.Equal(t, tt.trailer, string(rest), "only nkeys replies are read")
			}
		})
	}
	cl := getCall(kindMulti)
	cl.keys = []string{"k"}
	require.NoError(t, readMulti(bufio.NewReader(strings.NewReader("VA 2 f7 c9 t12 W X\r\nab\r\n")), cl, 100, false))
	require.Len(t, cl.multi, 1)
	assert.Equal(t, Item{Value: []byte("ab"), Flags: 7, CAS: 9, TTL: 12, Won: true, Stale: true}, cl.multi[0].item)

	// The caller reading its own reply takes each hit directly, in
	// request order; another reader leaves its sink alone.
	in := "VA 1 W\r\nx\r\nEN\r\nVA 1 Z\r\ny\r\n"
	type sunk struct {
		key  string
		item Item
	}
	for _, own := range []bool{true, false} {
		var got []sunk
		cl := getCall(kindMulti)
		cl.keys = []string{"a", "b", "a"}
		cl.sink = func(k string, it Item) { got = append(got, sunk{k, it}) }
		require.NoError(t, readMulti(bufio.NewReader(strings.NewReader(in)), cl, 100, own))
		if own {
			assert.Empty(t, cl.multi)
			assert.Equal(t, []sunk{
				{"a", Item{Value: []byte("x"), Won: true}},
				{"a", Item{Value: []byte("y"), Busy: true}},
			}, got)
		} else {
			assert.Empty(t, got)
			require.Len(t, cl.multi, 2)
			assert.Equal(t, 0, cl.multi[0].index)
			assert.Equal(t, 2, cl.multi[1].index)
		}
	}
}

func TestParseNumbers(t *testing.T) {
	n, ok := parseUint([]byte("18446744073709551615"))
	assert.True(t, ok)
	assert.Equal(t, uint64(1<<64-1), n)
	for _, bad := range []string{"", "-1", "1a", "18446744073709551616", "123456789012345678901"} {
		_, ok := parseUint([]byte(bad))
		assert.False(t, ok, bad)
	}
	i, ok := parseInt([]byte("-9223372036854775808"))
	assert.True(t, ok)
	assert.Equal(t, int64(-1<<63), i)
	_, ok = parseInt([]byte("9223372036854775808"))
	assert.False(t, ok)
}

// FuzzParseUint: parseUint agrees with strconv.ParseUint on plain decimal
// digits (no sign, no underscores, at most 20), including the 20-digit
// boundary, and refuses everything else.
func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"0", "7", "18446744073709551615", "18446744073709551616", "10000000000000000000",
		"99999999999999999999", "9999999999999999999", "", "1a", "+1", "-1", "1_0", "00000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUint([]byte(s))
		want, err := strconv.ParseUint(s, 10, 64)
		// Plain digits only, and at most 20 of them (a reply never has
		// more: longer runs of leading zeros are refused).
		plain := !strings.ContainsAny(s, "_+-") && len(s) <= 20
		if plain {
			require.Equal(t, err == nil, ok, "%q", s)
		} else {
			require.False(t, ok, "%q", s)
		}
		if ok {
			require.Equal(t, want, got, "%q", s)
		}
	})
}

// TestReadGets: the hits of a gets reply are matched to the keys asked for
// in order (a key asked twice is answered twice, misses are skipped); a
// key not asked for, a bad VALUE line, a value over the limit and a reply
// cut short are protocol errors, an error line ends the reply.
func TestReadGets(t *testing.T) {
	keys := []string{"a", "b", "a", "c"}
	tests := []struct {
		name    string
		in      string
		hits    []int // indexes of the hits
		errIs   error
		srvErr  bool
		trailer string // what must be left unread
	}{
		{name: "hits, duplicates, misses", in: "VALUE a 1 2 10\r\nab\r\nVALUE a 1 2 10\r\nab\r\nVALUE c 0 0 11\r\n\r\nEND\r\nHD\r\n",
			hits: []int{0, 2, 3}, trailer: "HD\r\n"},
		{name: "all misses", in: "END\r\n"},
		{name: "key not asked for", in: "VALUE z 0 1 1\r\nx\r\nEND\r\n", errIs: ErrProtocol},
		{name: "out of order", in: "VALUE c 0 1 1\r\nx\r\nVALUE b 0 1 1\r\nx\r\nEND\r\n", hits: []int{3}, errIs: ErrProtocol},
		{name: "no cas", in: "VALUE a 0 1\r\nx\r\nEND\r\n", errIs: ErrProtocol},
		{name: "flags over 32 bits", in: "VALUE a 4294967296 1 1\r\nx\r\nEND\r\n", errIs: ErrProtocol},
		{name: "value over the limit", in: "VALUE a 0 101 1\r\n", errIs: ErrProtocol},
		{name: "block without line end", in: "VALUE a 0 1 1\r\nxy\r\nEND\r\n", errIs: ErrProtocol},
		{name: "cut short", in: "VALUE a 0 1 1\r\nx\r\n", hits: []int{0}, errIs: io.EOF},
		{name: "meta reply", in: "EN\r\n", errIs: ErrProtocol},
		{name: "error line", in: "VALUE a 0 1 1\r\nx\r\nSERVER_ERROR out of memory writing get response\r\nMN\r\n",
			hits: []int{0}, srvErr: true, trailer: "MN\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := getCall(kindGets)
			cl.keys = keys
			br := bufio.NewReader(strings.NewReader(tt.in))
			err := readGets(br, cl, 100, false)
			switch {
			case tt.errIs != nil:
				require.ErrorIs(t, err, tt.errIs)
			case tt.srvErr:
				var se *ServerError
				require.ErrorAs(t, err, &se)
			default:
				require.NoError(t, err)
			}
			var got []int
			for _, h := range cl.multi {
				got = append(got, h.index)
			}
			assert.Equal(t, tt.hits, got)
			rest, _ := io.ReadAll(br)
			if tt.errIs == nil {
				assert.Equal(t, tt.trailer, string(rest), "the reply is read to its end, no further")
			}
		})
	}
	cl := getCall(kindGets)
	cl.keys = []string{"k"}
	require.NoError(t, readGets(bufio.NewReader(strings.NewReader("VALUE k 7 2 9\r\nab\r\nEND\r\n")), cl, 100, false))
	require.Len(t, cl.multi, 1)
	assert.Equal(t, Item{Value: []byte("ab"), Flags: 7, CAS: 9, TTL: TTLUnknown}, cl.multi[0].item)
}

// FuzzReadReply feeds arbitrary bytes to every reply parser: they must
// return (never panic, never loop) and respect the size limit.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"VA 3 c12 t-1 f5\r\nabc\r\n", "HD c1\r\n", "EN\r\n", "MN\r\n", "VA 2 O1 q\r\nab\r\nMN\r\n",
		"VA 4294967296\r\n", "VA 5\r\nab", "SERVER_ERROR x\r\n", "STAT a 1\r\nEND\r\n", "VERSION 1\r\n",
		"VA 1 O99999999999\r\nx\r\n", "\r\n", "VA 0\r\n\r\nVA 0\r\n\r\n",
		"VALUE a 1 2 3\r\nab\r\nVALUE k 0 0 9\r\n\r\nEND\r\n", "VALUE b 4294967296 1 1\r\nx\r\nEND\r\n",
	} {
		f.Add([]byte(s))
	}
	const limit = 1 << 12
	f.Fuzz(func(t *testing.T, data []byte) {
		var r reply
		br := bufio.NewReaderSize(bytes.NewReader(data), 64)
		for range 100 {
			if err := readReply(br, &r, limit, nil, 0); err != nil {
				var se *ServerError
				if !errors.As(err, &se) {
					break
				}
			}
			if len(r.value) > limit {
				t.Fatalf("value of %d bytes over the limit", len(r.value))
			}
		}
		cl := getCall(kindMulti)
		cl.keys = make([]string, 100)
		_ = readMulti(bufio.NewReaderSize(bytes.NewReader(data), 64), cl, limit, false)
		cl = getCall(kindGets)
		cl.keys = []string{"a", "b", "a", "k"}
		_ = readGets(bufio.NewReaderSize(bytes.NewReader(data), 64), cl, limit, false)
		_, _ = readStats(bufio.NewReaderSize(bytes.NewReader(data), 64))
	})
}

// FuzzConnReplies runs a real conn against a peer that answers with
// arbitrary bytes and hangs up: every call returns, with a result or an
// error, and the connection is never reused out of step.
func FuzzConnReplies(f *testing.F) {
	f.Add([]byte("MN\r\n"))
	f.Add([]byte("VA 3\r\nabc\r\nHD\r\n"))
	f.Add([]byte("VA 99999999\r\n"))
	f.Add([]byte("garbage"))
	f.Add([]byte("MN\r\nMN\r\nMN\r\n"))
	f.Add([]byte("MN\r\nEN\r\nVALUE k 0 1 1\r\nx\r\nEND\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		go func() {
			_, _ = io.Copy(io.Discard, server) // read the requests
		}()
		go func() {
			_, _ = server.Write(data)
			_ = server.Close()
		}()
		c := New("pipe", Config{Conns: 1, Timeout: time.Second,
			Dial: func(context.Context, string, string) (net.Conn, error) { return client, nil }})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Noop(ctx)
		_, _ = c.Get(ctx, "k", GetOptions{})
		_ = c.GetMulti(ctx, []string{"a", "k"}, GetMultiOptions{Classic: true}, func(string, Item) {})
		if ctx.Err() != nil {
			t.Fatal("a call hung")
		}
	})
}

// TestReadReplyHugeLength: a declared length far beyond the data allocates
// only about what arrives.
func TestReadReplyHugeLength(t *testing.T) {
	in := "VA 500000000\r\n" + strings.Repeat("x", 3<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var r reply
	err := readReply(bufio.NewReader(strings.NewReader(in)), &r, 1<<30, nil, 0)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20), "allocated far more than received")

	big := strings.Repeat("y", 3<<20+5)
	r = reply{}
	err = readReply(bufio.NewReader(strings.NewReader(fmt.Sprintf("VA %d f1\r\n%s\r\n", len(big), big))), &r, 1<<30, nil, 0)
	require.NoError(t, err)
	assert.Equal(t, big, string(r.value))
}
