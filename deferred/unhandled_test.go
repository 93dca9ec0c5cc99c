package deferred

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	// Many tests leave errors unhandled on purpose; keep tracking on (so
	// every test exercises it) but do not log them.
	SetUnhandledErrorHandler(func(UnhandledError) {})
	os.Exit(m.Run())
}

// unhandledCapture records the unhandled errors that match one sentinel
// while it is installed.
type unhandledCapture struct {
	mu     sync.Mutex
	match  error
	got    []UnhandledError
	signal chan struct{}
}

// captureUnhandled installs a handler recording reports that match match,
// until the end of the test.
func captureUnhandled(t *testing.T, match error) *unhandledCapture {
	c := &unhandledCapture{match: match, signal: make(chan struct{}, 1)}
	prev := SetUnhandledErrorHandler(func(u UnhandledError) {
		if !errors.Is(u.Err, c.match) {
			return
		}
		c.mu.Lock()
		c.got = append(c.got, u)
		c.mu.Unlock()
		select {
		case c.signal <- struct{}{}:
		default:
		}
	})
	t.Cleanup(func() { SetUnhandledErrorHandler(prev) })
	return c
}

// collect runs the garbage collector until want reports arrived, or a few
// rounds when want is 0, and returns the reports.
func (c *unhandledCapture) collect(t *testing.T, want int) []UnhandledError {
	t.Helper()
	rounds := 5
	if want > 0 {
		rounds = 500
	}
	for range rounds {
		runtime.GC()
		c.mu.Lock()
		n := len(c.got)
		c.mu.Unlock()
		if want > 0 && n >= want {
			break
		}
		select {
		case <-c.signal:
		case <-time.After(2 * time.Millisecond):
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]UnhandledError(nil), c.got...)
}

// sentinel makes an unhandled failing Deferred that will be reported: once
// its report arrives, the cleanups of the Deferreds that became unreachable
// before it have had their chance too.
func failUnhandled(err error) {
	d := New[int]()
	d.AddCallback(func(int) (int, error) { return 0, err })
	_ = d.Callback(1)
}

func TestErrorLog(t *testing.T) {
	errZero := errors.New("division by zero")
	c := captureUnhandled(t, errZero)
	failUnhandled(errZero)
	got := c.collect(t, 1)
	require.Len(t, got, 1)
	assert.ErrorIs(t, got[0].Err, errZero)
	assert.Empty(t, got[0].Created, "no debug info outside debug mode")
}

func TestErrorLogDebugInfo(t *testing.T) {
	errZero := errors.New("division by zero (debug)")
	c := captureUnhandled(t, errZero)
	SetDebug(true)
	failUnhandled(errZero)
	SetDebug(false)
	got := c.collect(t, 1)
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Created, "failUnhandled")
}

func TestErrorLogPanic(t *testing.T) {
	errBoom := errors.New("boom")
	c := captureUnhandled(t, errBoom)
	func() {
		d := New[int]()
		d.AddCallback(func(int) (int, error) { panic(errBoom) })
		_ = d.Callback(1)
	}()
	got := c.collect(t, 1)
	require.Len(t, got, 1)
	var pe *PanicError
	assert.ErrorAs(t, got[0].Err, &pe)
}

func TestHandledErrorsNotReported(t *testing.T) {
	errHandled := errors.New("handled")
	errSentinel := errors.New("sentinel")
	c := captureUnhandled(t, errHandled)
	cases := map[string]func(){
		"errback recovers": func() {
			Fail[int](errHandled).AddErrback(func(error) (int, error) { return 0, nil })
		},
		"read with Result": func() { _, _, _ = Fail[int](errHandled).Result() },
		"read with Wait":   func() { _, _ = Fail[int](errHandled).Wait(t.Context()) },
		"consumed by List": func() {
			d := New[int]()
			List([]*Deferred[int]{d}, ListOptions{ConsumeErrors: true}).AddErrback(func(error) ([]Outcome[int], error) { return nil, nil })
			_ = d.Errback(errHandled)
		},
		"consumed by Gather": func() {
			d := New[int]()
			Gather([]*Deferred[int]{d}, true).AddErrback(func(error) ([]int, error) { return nil, nil })
			_ = d.Errback(errHandled)
		},
		"handed to Then": func() {
			Then(Fail[int](errHandled), func(v int) (string, error) { return "", nil }).
				AddErrback(func(error) (string, error) { return "", nil })
		},
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) { run() })
	}
	sc := captureUnhandled(t, errSentinel)
	failUnhandled(errSentinel)
	require.Len(t, sc.collect(t, 1), 1)
	assert.Empty(t, c.collect(t, 0))
}

func TestChainedErrorCleanup(t *testing.T) {
	errZoop := errors.New("zoop")
	errSentinel := errors.New("sentinel chained")
	c := captureUnhandled(t, errZoop)
	func() {
		d := New[int]()
		d.AddCallbackDeferred(func(int) (*Deferred[int], error) { return Fail[int](errZoop), nil })
		_ = d.Callback(0)
		var r recorder[int]
		r.attach(d)
		require.Len(t, r.errs, 1)
		assert.ErrorIs(t, r.errs[0], errZoop)
	}()
	sc := captureUnhandled(t, errSentinel)
	failUnhandled(errSentinel)
	require.Len(t, sc.collect(t, 1), 1)
	assert.Empty(t, c.collect(t, 0), "the inner error moved to the outer Deferred, which handled it")
}

func TestErrorClearedByChaining(t *testing.T) {
	errOhNo := errors.New("oh no")
	errSentinel := errors.New("sentinel cleared")
	c := captureUnhandled(t, errOhNo)
	func() {
		bad := Fail[int](errOhNo)
		good := New[int]()
		bad.AddErrbackDeferred(func(error) (*Deferred[int], error) { return good, nil })
	}()
	sc := captureUnhandled(t, errSentinel)
	failUnhandled(errSentinel)
	require.Len(t, sc.collect(t, 1), 1)
	assert.Empty(t, c.collect(t, 0))
}

func TestUnhandledHandlerNilDisablesTracking(t *testing.T) {
	prev := SetUnhandledErrorHandler(nil)
	t.Cleanup(func() { SetUnhandledErrorHandler(prev) })
	d := Fail[int](errGeneric)
	assert.Nil(t, d.extra, "no tracker without a handler")
	assert.Nil(t, SetUnhandledErrorHandler(prev))
}
