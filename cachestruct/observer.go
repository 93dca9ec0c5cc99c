package cachestruct

import (
	"sort"
	"sync"
)

// Letter is one event of a structure on one key, named by the letter an
// old memcached debugging trick writes for it, so that the story of a key
// reads as a word: "MLWUHHHH" is a miss, a lock try, a rebuild written, an
// unlock and four hits.
//
// Letters tell the structures' story; for every Store operation (with its
// server, duration and outcome) use a Hook.
type Letter byte

// The letters reported to an Observer.
const (
	// LetterMiss: the key was missing, expired or stale.
	LetterMiss Letter = 'M'
	// LetterLockTry: the caller tried to take the key's lock or lease.
	LetterLockTry Letter = 'L'
	// LetterWritten: the caller rebuilt the value and wrote it.
	LetterWritten Letter = 'W'
	// LetterUnlock: the caller released the key's lock or lease.
	LetterUnlock Letter = 'U'
	// LetterHit: the caller read a usable value.
	LetterHit Letter = 'H'
)

// String returns the letter as a one-character string.
func (l Letter) String() string { return string(rune(l)) }

// Observer receives the events of the structures, for debugging (see
// Recorder) and for metrics. Observe runs synchronously on the goroutine
// that called the structure's method, so it must be quick and must not call
// back into the structure; it must be safe for concurrent use.
type Observer interface {
	Observe(key string, l Letter)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(key string, l Letter)

// Observe calls f(key, l).
func (f ObserverFunc) Observe(key string, l Letter) { f(key, l) }

// observe reports l for key to o when o is not nil.
func observe(o Observer, key string, l Letter) {
	if o != nil {
		o.Observe(key, l)
	}
}

// Recorder is an Observer that keeps, per key, the letters observed in
// order: the debugging log of the trick. Its zero value is ready to use
// and it is safe for concurrent use by multiple goroutines. It keeps at most
// the last 64 letters of each key, but every key it has seen until Reset: it
// is a debugging aid, not for a long-running process with unbounded keys.
type Recorder struct {
	mu   sync.Mutex
	keys map[string][]byte
}

// recorderMax is the number of letters a Recorder keeps per key.
const recorderMax = 64

// Observe appends l to the story of key.
func (r *Recorder) Observe(key string, l Letter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = make(map[string][]byte)
	}
	s := append(r.keys[key], byte(l))
	if len(s) > recorderMax {
		s = append(s[:0], s[len(s)-recorderMax:]...)
	}
	r.keys[key] = s
}

// Story returns the letters observed for key, oldest first ("" if none).
func (r *Recorder) Story(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.keys[key])
}

// Keys returns the keys with at least one letter, sorted.
func (r *Recorder) Keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.keys))
	for k := range r.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Reset forgets every story.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.keys)
}
