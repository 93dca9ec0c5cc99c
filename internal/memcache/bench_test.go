package memcache

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkReadReply measures parsing one mg reply with a value of each
// size (no I/O: the reply is replayed from memory).
func BenchmarkReadReply(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			in := []byte(fmt.Sprintf("VA %d f5 c123456 t3600\r\n%s\r\n", size, strings.Repeat("x", size)))
			rd := bytes.NewReader(in)
			br := bufio.NewReaderSize(rd, 16<<10)
			var r reply
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				rd.Reset(in)
				br.Reset(rd)
				if err := readReply(br, &r, 1<<20, nil, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendRequest measures formatting requests into a reused
// buffer.
func BenchmarkAppendRequest(b *testing.B) {
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:session:%d", i)
	}
	value := make([]byte, 100)
	for _, tt := range []struct {
		name string
		r    req
	}{
		{"op=mg", req{op: 'g', key: "user:session:42"}},
		{"op=ms", req{op: 's', key: "user:session:42", value: value, ttl: 3600, flags: 1}},
		{"op=multi/keys=100", req{op: 'm', keys: keys}},
		{"op=gets/keys=100", req{op: 'G', keys: keys}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			buf := make([]byte, 0, 8192)
			b.ReportAllocs()
			for b.Loop() {
				buf = tt.r.appendTo(buf[:0])
			}
		})
	}
}

// BenchmarkReadMulti measures parsing the replies of a 100-key multi-get
// (100-byte values, every tenth key a miss) into the caller's hit function,
// from memory: the client's CPU cost per batch, without I/O.
func BenchmarkReadMulti(b *testing.B) {
	var in []byte
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:key:%d", i)
		if i%10 == 9 {
			in = append(in, "EN\r\n"...)
			continue
		}
		in = fmt.Appendf(in, "VA 100 f0 c%d t-1\r\n%s\r\n", 1000000+i, strings.Repeat("v", 100))
	}
	rd := bytes.NewReader(in)
	br := bufio.NewReaderSize(rd, 16<<10)
	hits := 0
	cl := &call{kind: kindMulti, keys: keys}
	cl.sink = func(string, Item) { hits++ }
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		rd.Reset(in)
		br.Reset(rd)
		if err := readMulti(br, cl, 1<<20, true); err != nil {
			b.Fatal(err)
		}
	}
	if hits == 0 {
		b.Fatal("no hits")
	}
}

// BenchmarkReadGets is BenchmarkReadMulti for the reply of a classic
// gets of the same 100 keys.
func BenchmarkReadGets(b *testing.B) {
	var in []byte
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:key:%d", i)
		if i%10 != 9 {
			in = fmt.Appendf(in, "VALUE %s 0 100 %d\r\n%s\r\n", keys[i], 1000000+i, strings.Repeat("v", 100))
		}
	}
	in = append(in, "END\r\n"...)
	rd := bytes.NewReader(in)
	br := bufio.NewReaderSize(rd, 16<<10)
	hits := 0
	cl := &call{kind: kindGets, keys: keys}
	cl.sink = func(string, Item) { hits++ }
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		rd.Reset(in)
		br.Reset(rd)
		if err := readGets(br, cl, 1<<20, true); err != nil {
			b.Fatal(err)
		}
	}
	if hits == 0 {
		b.Fatal("no hits")
	}
}
