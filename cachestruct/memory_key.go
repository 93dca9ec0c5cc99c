package cachestruct

// memMaxKeyLen is the longest key memcached accepts, in bytes.
const memMaxKeyLen = 250

// memMaxBinaryKeyLen is the longest key, in bytes, that memcached accepts in
// base64 mode: its 250-byte limit applies to the encoded key, and the
// padded base64 of 186 bytes is 248 bytes long (checked on 1.6.18).
const memMaxBinaryKeyLen = 186

// memValidKey reports whether key is acceptable: 1 to 250 bytes without
// spaces or control characters (bytes up to 0x20, and 0x7f); with binary
// set, also any other key of 1 to 186 bytes (sent base64-encoded).
func memValidKey(key string, binary bool) bool {
	if len(key) == 0 {
		return false
	}
	if len(key) <= memMaxKeyLen && memTextKey(key) {
		return true
	}
	return binary && len(key) <= memMaxBinaryKeyLen
}

// memTextKey reports whether key has no spaces or control characters.
func memTextKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
