package memcache

import (
	"errors"
	"os"
)

// Errors reported by Client. Replies that are not errors of the request
// itself (a miss, a failed condition) are reported with these sentinels; the
// server's own error lines come back as *ServerError and network failures as
// *NetError.
var (
	// ErrCacheMiss reports that Get found no item.
	ErrCacheMiss = errors.New("memcache: cache miss")
	// ErrNotStored reports that a Set's mode condition failed (NS): add of
	// an existing item, replace/append/prepend of a missing one.
	ErrNotStored = errors.New("memcache: not stored")
	// ErrCASConflict reports that the item's CAS did not match (EX).
	ErrCASConflict = errors.New("memcache: cas conflict")
	// ErrNotFound reports that the item of a Delete, an Incr/Decr without
	// vivify, or a Set with a CAS was missing (NF).
	ErrNotFound = errors.New("memcache: not found")
	// ErrNotNumber reports Incr or Decr on an item whose value is not a
	// decimal number.
	ErrNotNumber = errors.New("memcache: value is not a number")
	// ErrInvalidKey reports a key that cannot be sent: empty, longer than
	// 250 bytes, or holding spaces or control characters when binary keys
	// are off (longer than MaxBinaryKeyLen bytes when they are on and the
	// key needs base64).
	ErrInvalidKey = errors.New("memcache: invalid key")
	// ErrValueTooLarge reports a value that does not fit the server's item
	// size (checked before sending, or SERVER_ERROR object too large).
	ErrValueTooLarge = errors.New("memcache: value too large")
	// ErrUnavailable is matched by every *NetError: the server could not
	// be reached, closed the connection, or did not answer in time.
	ErrUnavailable = errors.New("memcache: server unavailable")
	// ErrProtocol reports a reply that does not follow the protocol. The
	// connection it came from is closed.
	ErrProtocol = errors.New("memcache: protocol error")
	// ErrClosed reports a call on a closed Client.
	ErrClosed = errors.New("memcache: client closed")
)

// ServerError is an error line sent by the server: ERROR, CLIENT_ERROR or
// SERVER_ERROR, with the server's message.
type ServerError struct {
	// Kind is "ERROR", "CLIENT_ERROR" or "SERVER_ERROR".
	Kind string
	// Message is the rest of the line, without the line end.
	Message string
}

// Error returns the error line as the server sent it.
func (e *ServerError) Error() string {
	if e.Message == "" {
		return "memcache: " + e.Kind
	}
	return "memcache: " + e.Kind + " " + e.Message
}

// NetError is a failure to exchange with a server: dial error, connection
// refused or reset, closed by the peer, or no reply within the client's
// Timeout. errors.Is(err, ErrUnavailable) holds for every NetError, and
// errors.Is(err, os.ErrDeadlineExceeded) holds when it was a timeout.
type NetError struct {
	// Addr is the server's address.
	Addr string
	// Op is what failed: "dial", "write" or "read".
	Op string
	// Err is the underlying error.
	Err error
}

// Error describes the failure.
func (e *NetError) Error() string {
	return "memcache: " + e.Op + " " + e.Addr + ": " + e.Err.Error()
}

// Unwrap returns ErrUnavailable and the underlying error, so that errors.Is
// matches both.
func (e *NetError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Timeout reports whether the failure was a timeout.
func (e *NetError) Timeout() bool { return errors.Is(e.Err, os.ErrDeadlineExceeded) }
