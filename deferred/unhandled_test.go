package deferred

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	// Many tests leave errors unhandled on purpose; keep tracking on (so
	// every test exercises it) but do not log them.
	SetUnhandledErrorHandler(func(UnhandledError) {})
	os.Exit(m.Run())
}

// unhandledCapture records every unhandled-error report while installed.
type unhandledCapture struct {
	mu  sync.Mutex
	got []UnhandledError
}

// captureUnhandled installs a recording handler until the end of the test.
// It first flushes the reports of Deferreds earlier tests dropped.
func captureUnhandled(t *testing.T) *unhandledCapture {
	c := &unhandledCapture{}
	prev := SetUnhandledErrorHandler(func(u UnhandledError) {
		c.mu.Lock()
		c.got = append(c.got, u)
		c.mu.Unlock()
	})
	t.Cleanup(func() { SetUnhandledErrorHandler(prev) })
	c.settle(t)
	c.mu.Lock()
	c.got = nil
	c.mu.Unlock()
	return c
}

// matching returns the reports whose error matches target.
func (c *unhandledCapture) matching(target error) []UnhandledError {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []UnhandledError
	for _, u := range c.got {
		if errors.Is(u.Err, target) {
			out = append(out, u)
		}
	}
	return out
}

// collect runs the garbage collector until a report matching target
// arrived, and returns those reports.
func (c *unhandledCapture) collect(t *testing.T, target error) []UnhandledError {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.matching(target)) == 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond) // let the cleanup goroutine run
	}
	return c.matching(target)
}

// settle makes an unhandled failing Deferred after the ones under test
// became unreachable and waits for its report: by then the collections
// that found the others have run too. It runs a few more cycles for luck.
func (c *unhandledCapture) settle(t *testing.T) {
	t.Helper()
	errSentinel := errors.New("sentinel")
	failUnhandled(errSentinel)
	require.NotEmpty(t, c.collect(t, errSentinel), "the sentinel must be reported")
	for range 3 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// failUnhandled makes a Deferred whose chain ends with err, and drops it.
func failUnhandled(err error) {
	d := New[int]()
	d.AddCallback(func(int) (int, error) { return 0, err })
	_ = d.Callback(1)
}

func TestErrorLog(t *testing.T) {
	errZero := errors.New("division by zero")
	c := captureUnhandled(t)
	failUnhandled(errZero)
	got := c.collect(t, errZero)
	require.Len(t, got, 1)
	assert.Empty(t, got[0].Created, "no debug info outside debug mode")
}

func TestErrorLogDebugInfo(t *testing.T) {
	errZero := errors.New("division by zero (debug)")
	c := captureUnhandled(t)
	SetDebug(true)
	failUnhandled(errZero)
	SetDebug(false)
	got := c.collect(t, errZero)
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Created, "failUnhandled")
}

// TestErrorLogWithCycle is Twisted's test_errorLogWithInnerFrameCycle: a
// failed Deferred that is part of a reference cycle (here a callback still
// pending on the paused chain refers back to it) is still collected and its
// error reported.
func TestErrorLogWithCycle(t *testing.T) {
	errCycle := errors.New("division by zero (cycle)")
	c := captureUnhandled(t)
	func() {
		d := New[int]()
		d.AddCallback(func(int) (int, error) { return 0, errCycle })
		_ = d.Callback(1)
		d.Pause()
		d.AddCallback(func(v int) (int, error) { _ = d.String(); return v, nil })
	}()
	got := c.collect(t, errCycle)
	require.Len(t, got, 1)
}

func TestErrorLogPanic(t *testing.T) {
	errBoom := errors.New("boom")
	c := captureUnhandled(t)
	func() {
		d := New[int]()
		d.AddCallback(func(int) (int, error) { panic(errBoom) })
		_ = d.Callback(1)
	}()
	got := c.collect(t, errBoom)
	require.Len(t, got, 1)
	var pe *PanicError
	assert.ErrorAs(t, got[0].Err, &pe)
}

func TestHandledErrorsNotReported(t *testing.T) {
	errHandled := errors.New("handled")
	c := captureUnhandled(t)
	cases := map[string]func(){
		"errback recovers": func() {
			Fail[int](errHandled).AddErrback(func(error) (int, error) { return 0, nil })
		},
		"read with Result": func() { _, _, _ = Fail[int](errHandled).Result() },
		"read with Wait":   func() { _, _ = Fail[int](errHandled).Wait(t.Context()) },
		"consumed by List": func() {
			d := New[int]()
			List([]*Deferred[int]{d}, ListOptions{}).AddErrback(func(error) ([]Outcome[int], error) { return nil, nil })
			_ = d.Errback(errHandled)
		},
		"consumed by Gather": func() {
			d := New[int]()
			Gather([]*Deferred[int]{d}, ListOptions{}).AddErrback(func(error) ([]int, error) { return nil, nil })
			_ = d.Errback(errHandled)
		},
		"Gather read with Wait (issue 17)": func() {
			d := New[int]()
			g := Gather([]*Deferred[int]{New[int](), d}, ListOptions{})
			_ = d.Errback(errHandled)
			_, _ = g.Wait(t.Context())
		},
		"First read with Wait": func() {
			d := New[int]()
			g := First([]*Deferred[int]{d}, ListOptions{})
			_ = d.Errback(errHandled)
			_, _ = g.Wait(t.Context())
		},
		"handed to Then": func() {
			Then(Fail[int](errHandled), func(v int) (string, error) { return "", nil }).
				AddErrback(func(error) (string, error) { return "", nil })
		},
		"errback waits on an unfired Deferred": func() {
			Fail[int](errHandled).AddErrbackDeferred(func(error) (*Deferred[int], error) { return New[int](), nil })
		},
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) { run() })
	}
	c.settle(t)
	assert.Empty(t, c.matching(errHandled))
}

func TestChainedErrorCleanup(t *testing.T) {
	errZoop := errors.New("zoop")
	c := captureUnhandled(t)
	func() {
		d := New[int]()
		d.AddCallbackDeferred(func(int) (*Deferred[int], error) { return Fail[int](errZoop), nil })
		_ = d.Callback(0)
		var r recorder[int]
		r.attach(d)
		require.Len(t, r.errs, 1)
		assert.ErrorIs(t, r.errs[0], errZoop)
	}()
	c.settle(t)
	assert.Empty(t, c.matching(errZoop), "the inner error moved to the outer Deferred, which handled it")
}

func TestErrorClearedByChaining(t *testing.T) {
	errOhNo := errors.New("oh no")
	c := captureUnhandled(t)
	func() {
		bad := Fail[int](errOhNo)
		good := New[int]()
		bad.AddErrbackDeferred(func(error) (*Deferred[int], error) { return good, nil })
	}()
	c.settle(t)
	assert.Empty(t, c.matching(errOhNo))
}

func TestUnhandledHandlerNilDisablesTracking(t *testing.T) {
	prev := SetUnhandledErrorHandler(nil)
	t.Cleanup(func() { SetUnhandledErrorHandler(prev) })
	d := Fail[int](errGeneric)
	assert.Nil(t, d.extra, "no tracker without a handler")
	assert.Nil(t, SetUnhandledErrorHandler(prev))
}

// TestDefaultHandlerLogsWithSlog checks the default hook: one slog error
// record naming the error.
func TestDefaultHandlerLogsWithSlog(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	prevLogger := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil)))
	t.Cleanup(func() { slog.SetDefault(prevLogger) })
	prev := SetUnhandledErrorHandler(logUnhandled)
	t.Cleanup(func() { SetUnhandledErrorHandler(prev) })

	errLogged := errors.New("logged through slog")
	failUnhandled(errLogged)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		if strings.Contains(out, errLogged.Error()) {
			assert.Contains(t, out, "level=ERROR")
			assert.Contains(t, out, "deferred: unhandled error in Deferred")
			return
		}
	}
	t.Fatal("the default handler logged nothing")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// selfRefError is an error that refers back to the Deferred it fails.
type selfRefError struct{ d *Deferred[int] }

func (e *selfRefError) Error() string { return "refers to its Deferred" }

// failSelfRef fails a Deferred with an error referring to it and returns
// only a weak pointer to the Deferred.
func failSelfRef() weak.Pointer[Deferred[int]] {
	d := New[int]()
	_ = d.Errback(&selfRefError{d: d})
	return weak.Make(d)
}

// handleSelfRef reads the error of the Deferred behind wp, which must still
// be there, and so handles it.
func handleSelfRef(t *testing.T, wp weak.Pointer[Deferred[int]]) {
	t.Helper()
	d := wp.Value()
	require.NotNil(t, d, "the tracker keeps an unhandled self-referencing error, and so its Deferred")
	_, err, ok := d.Result()
	require.True(t, ok)
	var sre *selfRefError
	require.ErrorAs(t, err, &sre)
}

// TestUnhandledSelfReferenceLimit is issue 12, item 3, the documented limit
// of SetUnhandledErrorHandler: to report an error after its Deferred was
// collected the tracker must keep the error, so an unhandled error that
// refers back to its Deferred keeps the Deferred reachable and is never
// reported. Handling the error (here with Result) releases both, and with
// tracking off nothing keeps them.
func TestUnhandledSelfReferenceLimit(t *testing.T) {
	c := captureUnhandled(t)
	wp := failSelfRef()
	for range 3 {
		runtime.GC()
	}
	handleSelfRef(t, wp)
	for range 3 {
		runtime.GC()
	}
	assert.Nil(t, wp.Value(), "once handled, the Deferred is freed")
	c.settle(t)
	var target *selfRefError
	c.mu.Lock()
	for _, u := range c.got {
		assert.False(t, errors.As(u.Err, &target), "a handled error is never reported")
	}
	c.mu.Unlock()

	SetUnhandledErrorHandler(nil)
	wp = failSelfRef()
	for range 3 {
		runtime.GC()
	}
	assert.Nil(t, wp.Value(), "with tracking off nothing keeps the Deferred")
}
