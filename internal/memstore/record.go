package memstore

import (
	"encoding/binary"
	"unsafe"
)

// A record is everything a reader needs to know about an item, in one
// allocation: a fixed header, then the value, then the key.
//
//	offset  0  CAS        uint64
//	offset  8  expiry     int64, Unix nanoseconds; 0 = never
//	offset 16  value size uint64
//	offset 24  flags      uint32
//	offset 28  key size   uint16
//	offset 30  state      stale and won bits
//	offset 31  unused
//
// A record is never modified once its entry publishes it: a write builds
// a new one and publishes that (see entry). So a reader that loaded a
// record may read it without the shard's lock. The header's fields are
// read with encoding/binary, which compiles to plain loads.
type record []byte

// headerSize is the size of a record's header.
const headerSize = 32

// The state bits of a record.
const (
	stateStale = 1 << iota // invalidated (mg X)
	stateWon               // a reader holds the right to recompute (mg W sent)
)

// newRecord returns a record of the given value and key, with the given
// flags and expiry, no state and no CAS yet (the caller sets it with
// setCAS before publishing the record). It is one allocation: the value
// is copied, and the key never pins a larger string of the caller's.
func newRecord(key string, value []byte, flags uint32, exp int64) record {
	r := make(record, headerSize+len(value)+len(key))
	r.setHeader(0, exp, len(value), flags, len(key), 0)
	copy(r[headerSize+copy(r[headerSize:], value):], key)
	return r
}

func (r record) setHeader(cas uint64, exp int64, valueLen int, flags uint32, keyLen int, state byte) {
	binary.LittleEndian.PutUint64(r[0:], cas)
	binary.LittleEndian.PutUint64(r[8:], uint64(exp))
	binary.LittleEndian.PutUint64(r[16:], uint64(valueLen))
	binary.LittleEndian.PutUint32(r[24:], flags)
	binary.LittleEndian.PutUint16(r[28:], uint16(keyLen))
	r[30] = state
}

// setCAS sets the CAS of a record that is not published yet.
func (r record) setCAS(cas uint64) { binary.LittleEndian.PutUint64(r[0:], cas) }

// setState sets the state bits of a record that is not published yet.
func (r record) setState(state byte) { r[30] = state }

func (r record) cas() uint64   { return binary.LittleEndian.Uint64(r[0:]) }
func (r record) exp() int64    { return int64(binary.LittleEndian.Uint64(r[8:])) }
func (r record) valueLen() int { return int(binary.LittleEndian.Uint64(r[16:])) }
func (r record) flags() uint32 { return binary.LittleEndian.Uint32(r[24:]) }
func (r record) keyLen() int   { return int(binary.LittleEndian.Uint16(r[28:])) }
func (r record) state() byte   { return r[30] }
func (r record) stale() bool   { return r[30]&stateStale != 0 }
func (r record) won() bool     { return r[30]&stateWon != 0 }
func (r record) value() []byte { return r[headerSize : headerSize+r.valueLen()] }
func (r record) key() []byte   { return r[headerSize+r.valueLen():] }
func (r record) hasKey(k string) bool {
	// The conversion in a comparison does not allocate.
	return string(r[headerSize+r.valueLen():]) == k
}

// dataLen is the size of the record's value and key: what the item is
// charged against MaxBytes besides entryOverhead (which covers the
// header).
func (r record) dataLen() int { return len(r) - headerSize }

// with returns a copy of r with another CAS, expiry and state: for the
// rare state changes (invalidation, a reader winning a stale item), which
// may allocate.
func (r record) with(cas uint64, exp int64, state byte) record {
	n := append(record(nil), r...)
	n.setHeader(cas, exp, r.valueLen(), r.flags(), r.keyLen(), state)
	return n
}

// loadRecord rebuilds the record whose first byte p points to (see
// entry.rec), or returns nil for nil: the header gives its length.
func loadRecord(p *byte) record {
	if p == nil {
		return nil
	}
	h := unsafe.Slice(p, headerSize)
	n := headerSize + int(binary.LittleEndian.Uint64(h[16:])) + int(binary.LittleEndian.Uint16(h[28:]))
	return unsafe.Slice(p, n)
}
