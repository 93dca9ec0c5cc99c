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

// textKey reports whether key can be sent as is.
func textKey(key string) bool {
	if len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
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
