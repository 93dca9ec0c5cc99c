// Package cachestruct: placeholder doc, rewritten below.
package cachestruct

import "errors"

// Errors reported by the structures (the Store's own errors are declared
// with Store).
var (
	// ErrLocked reports that Lock.TryLock found the lock held by another
	// owner.
	ErrLocked = errors.New("cachestruct: locked")
	// ErrNotHeld reports that Held.Unlock or Held.Extend found the lock no
	// longer held by this holder: it expired, was evicted, was taken by
	// another owner since, or was already released.
	ErrNotHeld = errors.New("cachestruct: lock not held")
	// ErrCorrupt reports a stored value that a structure cannot decode: it
	// was not written by this package's structure of that kind, or it was
	// damaged.
	ErrCorrupt = errors.New("cachestruct: corrupt value")
	// ErrNegativeTTL reports a negative TTL passed to a structure's method.
	ErrNegativeTTL = errors.New("cachestruct: negative ttl")
)
