package cachestruct

import "encoding/binary"

// frame reads the binary values the structures write (the Cache's header,
// tagged entries, event-log chunks, the dirty lists and batches of Stats):
// uvarints, varints and fields, a field being a uvarint length followed by
// that many bytes. A read that finds a malformed number or runs past the
// end makes the frame bad and returns zero, and so does every later read;
// so a decoder reads all it expects and checks bad once. Nothing panics on
// any input.
type frame struct {
	b   []byte // what is left to read
	bad bool
}

// openFrame returns a frame over what follows the first byte of b; the
// frame is bad unless that byte is magic.
func openFrame(b []byte, magic byte) frame {
	if len(b) == 0 || b[0] != magic {
		return frame{bad: true}
	}
	return frame{b: b[1:]}
}

// more reports whether the frame is good and has bytes left.
func (f *frame) more() bool { return !f.bad && len(f.b) > 0 }

// fail makes f bad.
func (f *frame) fail() {
	f.b, f.bad = nil, true
}

// uvarint reads a uvarint.
func (f *frame) uvarint() uint64 { return readNumber(f, binary.Uvarint) }

// varint reads a varint.
func (f *frame) varint() int64 { return readNumber(f, binary.Varint) }

// readNumber reads a number of f with decode, binary.Uvarint or
// binary.Varint.
func readNumber[T uint64 | int64](f *frame, decode func([]byte) (T, int)) T {
	v, n := decode(f.b)
	if n <= 0 {
		f.fail()
		return 0
	}
	f.b = f.b[n:]
	return v
}

// field reads a field and returns its bytes, which alias the frame's.
func (f *frame) field() []byte {
	l := f.uvarint()
	if l > uint64(len(f.b)) {
		f.fail()
	}
	if f.bad {
		return nil
	}
	v := f.b[:l:l]
	f.b = f.b[l:]
	return v
}

// count reads the uvarint number of the elements that follow, each at
// least one byte long: a count larger than the bytes left makes the
// frame bad, so that a decoder may allocate room for count elements.
func (f *frame) count() uint64 {
	n := f.uvarint()
	if n > uint64(len(f.b)) {
		f.fail()
		return 0
	}
	return n
}

// appendField appends s to b as a field.
func appendField(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}
