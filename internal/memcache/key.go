package memcache

import "encoding/base64"

// MaxKeyLen is the longest key memcached accepts on the wire, in bytes.
const MaxKeyLen = 250

// MaxBinaryKeyLen is the longest key, in bytes, that can be sent base64
// encoded: memcached applies its 250-byte limit to the encoded form, and
// the padded base64 of 186 bytes is 248 bytes long.
const MaxBinaryKeyLen = 186

// CheckKey reports whether key can be sent: it returns nil or ErrInvalidKey.
// A text key is 1 to MaxKeyLen bytes without spaces or control characters
// (bytes up to 0x20, and 0x7f). With binary set, any other non-empty key of
// at most MaxBinaryKeyLen bytes is valid too: it is sent base64 encoded
// (meta flag b), so it can never inject a command.
func CheckKey(key string, binary bool) error {
	_, err := checkKey(key, binary)
	return err
}

// checkKey is CheckKey, also reporting whether key is a text key (sent as
// is, not base64 encoded).
func checkKey(key string, binary bool) (text bool, err error) {
	switch {
	case len(key) == 0:
		return false, ErrInvalidKey
	case textKey(key):
		return true, nil
	case binary && len(key) <= MaxBinaryKeyLen:
		return false, nil
	}
	return false, ErrInvalidKey
}

// textKey reports whether key can be sent as is: at most MaxKeyLen bytes,
// none of them a control character, a space or DEL.
func textKey(key string) bool {
	if len(key) > MaxKeyLen {
		return false
	}
	i := 0
	// Eight bytes at a time: every key of a multi-get is checked.
	for ; i+8 <= len(key); i += 8 {
		w := uint64(key[i]) | uint64(key[i+1])<<8 | uint64(key[i+2])<<16 | uint64(key[i+3])<<24 |
			uint64(key[i+4])<<32 | uint64(key[i+5])<<40 | uint64(key[i+6])<<48 | uint64(key[i+7])<<56
		if hasByteBelow(w, '!') || hasByteBelow(w^(ones*0x7f), 1) {
			return false
		}
	}
	for ; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// ones has 1 in each byte of a word.
const ones = 0x0101010101010101

// hasByteBelow reports whether a byte of w is less than n (n ≤ 128): the
// subtraction sets a byte's top bit where it borrows, and a byte below n
// borrows (only a byte below n starts a borrow, so there is no false
// report).
func hasByteBelow(w uint64, n byte) bool {
	return (w-ones*uint64(n))&^w&(ones*0x80) != 0
}

// appendKey appends key as sent on the wire and reports whether it is
// base64 encoded (then the request needs the b flag). The key must have
// passed CheckKey.
func appendKey(b []byte, key string) ([]byte, bool) {
	if textKey(key) {
		return append(b, key...), false
	}
	return base64.StdEncoding.AppendEncode(b, []byte(key)), true
}
