package cachestruct

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"time"
)

// Codec converts the values of a Cache to and from bytes. Implementations
// must be safe for concurrent use by multiple goroutines. Decode receives
// only what Encode produced (the Cache adds and strips its own header), and
// may keep a reference to it: the Cache never reuses the slice.
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(b []byte) (T, error)
}

// BytesCodec is the Codec of []byte values: the bytes themselves. Encode
// does not copy the value.
type BytesCodec struct{}

// Encode returns v.
func (BytesCodec) Encode(v []byte) ([]byte, error) { return v, nil }

// Decode returns b.
func (BytesCodec) Decode(b []byte) ([]byte, error) { return b, nil }

// StringCodec is the Codec of string values.
type StringCodec struct{}

// Encode returns the bytes of v.
func (StringCodec) Encode(v string) ([]byte, error) { return []byte(v), nil }

// Decode returns b as a string.
func (StringCodec) Decode(b []byte) (string, error) { return string(b), nil }

// JSONCodec is the Codec of values of any type encoding/json handles.
type JSONCodec[T any] struct{}

// Encode marshals v with encoding/json.
func (JSONCodec[T]) Encode(v T) ([]byte, error) { return json.Marshal(v) }

// Decode unmarshals b with encoding/json.
func (JSONCodec[T]) Decode(b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// CodecFuncs is a Codec made of two functions, for user-supplied formats.
type CodecFuncs[T any] struct {
	// EncodeFunc implements Encode.
	EncodeFunc func(T) ([]byte, error)
	// DecodeFunc implements Decode.
	DecodeFunc func([]byte) (T, error)
}

// Encode calls c.EncodeFunc.
func (c CodecFuncs[T]) Encode(v T) ([]byte, error) { return c.EncodeFunc(v) }

// Decode calls c.DecodeFunc.
func (c CodecFuncs[T]) Decode(b []byte) (T, error) { return c.DecodeFunc(b) }

// cacheMagic is the first byte of a value written by Cache.
const cacheMagic = 0xC4

// encodeCached returns payload prefixed by its header: cacheMagic, uvarint
// expiry in Unix milliseconds (0: none), uvarint computation time in
// microseconds.
func encodeCached(payload []byte, exp, delta time.Duration) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(payload))
	b = append(b, cacheMagic)
	b = binary.AppendUvarint(b, uint64(exp/time.Millisecond))
	b = binary.AppendUvarint(b, uint64(max(delta, 0)/time.Microsecond))
	return append(b, payload...)
}

// decodeCached splits a value written by encodeCached; it reports
// ErrCorrupt for anything else and never panics.
func decodeCached(b []byte) (payload []byte, exp, delta time.Duration, err error) {
	f := openFrame(b, cacheMagic)
	e, d := f.uvarint(), f.uvarint()
	if f.bad || e > math.MaxInt64/uint64(time.Millisecond) || d > math.MaxInt64/uint64(time.Microsecond) {
		return nil, 0, 0, ErrCorrupt
	}
	return f.b, time.Duration(e) * time.Millisecond, time.Duration(d) * time.Microsecond, nil
}
