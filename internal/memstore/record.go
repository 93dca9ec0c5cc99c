package memstore

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/twine-go/twine/internal/memcache"
)

// A record is everything a reader needs to know about an item, in one
// allocation: a fixed header, then the key, then the value.
//
//	offset  0  CAS         uint64
//	offset  8  expiry      int64, Unix nanoseconds; 0 = never
//	offset 16  flags       uint32
//	offset 20  value size  uint32
//	offset 24  key size    uint8
//	offset 25  state       stale and won bits
//
// A record is never modified once its entry publishes it: a write builds
// a new one and publishes that (see entry). So a reader that loaded a
// record may read it without the shard's lock. The header's fields are
// read with encoding/binary, which compiles to plain loads. The key comes
// right after the header so that a hit's key comparison reads the header's
// cache line; kept because gets measured faster than with the key after
// the value (BENCHMARKS.md).
type record []byte

const (
	// headerSize is the size of a record's header.
	headerSize = 26
	// maxValueLen is the largest value a record holds (so that its
	// dataLen fits an entry's size).
	maxValueLen = math.MaxUint32 - memcache.MaxKeyLen
)

// The state bits of a record.
const (
	stateStale = 1 << iota // invalidated (mg X)
	stateWon               // a reader holds the right to recompute (mg W sent)
)

// newRecord returns a record of the given key and value, with the given
// flags and expiry, no state and no CAS yet (the caller sets them before
// publishing the record). It is one allocation: the value is copied, and
// the key never pins a larger string of the caller's.
func newRecord(key string, value []byte, flags uint32, exp int64) record {
	r := makeRecord(key, len(value), flags, exp)
	copy(r.value(), value)
	return r
}

// makeRecord is newRecord for a value of valueLen bytes that the caller
// copies into r.value().
func makeRecord(key string, valueLen int, flags uint32, exp int64) record {
	r := make(record, headerSize+len(key)+valueLen)
	r.setHeader(key, valueLen, flags, exp)
	return r
}

// setHeader writes the header and the key of a new record for a value of
// valueLen bytes, CAS and state 0. The key is at most memcache.MaxKeyLen
// bytes and the value at most maxValueLen.
func (r record) setHeader(key string, valueLen int, flags uint32, exp int64) {
	binary.LittleEndian.PutUint64(r[0:], 0)
	binary.LittleEndian.PutUint64(r[8:], uint64(exp))
	binary.LittleEndian.PutUint32(r[16:], flags)
	binary.LittleEndian.PutUint32(r[20:], uint32(valueLen))
	r[24] = byte(len(key))
	r[25] = 0
	copy(r[headerSize:], key)
}

// setCAS and setState set the CAS and the state bits of a record that is
// not published yet.
func (r record) setCAS(cas uint64)    { binary.LittleEndian.PutUint64(r[0:], cas) }
func (r record) setState(state byte)  { r[25] = state }
func (r record) setExp(exp int64)     { binary.LittleEndian.PutUint64(r[8:], uint64(exp)) }
func (r record) cas() uint64          { return binary.LittleEndian.Uint64(r[0:]) }
func (r record) exp() int64           { return int64(binary.LittleEndian.Uint64(r[8:])) }
func (r record) flags() uint32        { return binary.LittleEndian.Uint32(r[16:]) }
func (r record) valueLen() int        { return int(binary.LittleEndian.Uint32(r[20:])) }
func (r record) keyLen() int          { return int(r[24]) }
func (r record) state() byte          { return r[25] }
func (r record) stale() bool          { return r[25]&stateStale != 0 }
func (r record) won() bool            { return r[25]&stateWon != 0 }
func (r record) key() []byte          { return r[headerSize : headerSize+r.keyLen()] }
func (r record) value() []byte        { return r[headerSize+r.keyLen():] }
func (r record) hasKey(k string) bool { return string(r.key()) == k } // no allocation

// dataLen is the size of the record's key and value: what the item is
// charged against MaxBytes besides entryOverhead (which covers the
// header).
func (r record) dataLen() int { return len(r) - headerSize }

// with returns a copy of r with another CAS, expiry and state: for the
// rare state changes (invalidation, a reader winning a stale item), which
// may allocate.
func (r record) with(cas uint64, exp int64, state byte) record {
	n := append(record(nil), r...)
	n.setCAS(cas)
	n.setExp(exp)
	n.setState(state)
	return n
}

// loadRecord rebuilds the record whose first byte p points to (see
// entry.rec), or returns nil for nil: the header gives its length.
func loadRecord(p *byte) record {
	if p == nil {
		return nil
	}
	h := unsafe.Slice(p, headerSize)
	return unsafe.Slice(p, headerSize+int(h[24])+int(binary.LittleEndian.Uint32(h[20:])))
}
