package deferred

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func call1(d *Deferred[string]) error { return d.Callback("hello") }
func call2(d *Deferred[string]) error { return d.Callback("twice") }
func err1(d *Deferred[string]) error  { return d.Errback(errGeneric) }
func err2(d *Deferred[string]) error  { return d.Errback(errGeneric) }

var alreadyCalledCases = []struct {
	name          string
	first, second func(*Deferred[string]) error
	firstName     string
	secondName    string
}{
	{"CC", call1, call2, "call1", "call2"},
	{"CE", call1, err2, "call1", "err2"},
	{"EC", err1, call2, "err1", "call2"},
	{"EE", err1, err2, "err1", "err2"},
}

// TestAlreadyCalled covers Twisted's testAlreadyCalled_CC, _CE, _EC and _EE.
func TestAlreadyCalled(t *testing.T) {
	for _, tc := range alreadyCalledCases {
		t.Run(tc.name, func(t *testing.T) {
			d := New[string]()
			d.AddCallbacks(func(v string) (string, error) { return v, nil }, func(error) (string, error) { return "", nil })
			require.NoError(t, tc.first(d))
			err := tc.second(d)
			assert.ErrorIs(t, err, ErrAlreadyCalled)
			assert.Equal(t, ErrAlreadyCalled, err, "outside debug mode the bare sentinel, no allocation")
		})
	}
}

// sections splits a debug-mode ErrAlreadyCalled message into its creation
// and first-fire stacks.
func sections(t *testing.T, msg string) (created, fired string) {
	t.Helper()
	_, rest, ok := strings.Cut(msg, "created at:\n")
	require.True(t, ok, msg)
	created, fired, ok = strings.Cut(rest, "first fired at:\n")
	require.True(t, ok, msg)
	return created, fired
}

// TestAlreadyCalledDebug covers Twisted's testAlreadyCalledDebug_CC, _CE,
// _EC and _EE: the message names the creator and the first firer, never
// the second.
func TestAlreadyCalledDebug(t *testing.T) {
	SetDebug(true)
	defer SetDebug(false)
	for _, tc := range alreadyCalledCases {
		t.Run(tc.name, func(t *testing.T) {
			d := New[string]()
			d.AddCallbacks(func(v string) (string, error) { return v, nil }, func(error) (string, error) { return "", nil })
			require.NoError(t, tc.first(d))
			err := tc.second(d)
			require.ErrorIs(t, err, ErrAlreadyCalled)
			created, fired := sections(t, err.Error())
			assert.Contains(t, created, "TestAlreadyCalledDebug")
			for _, name := range []string{"call1", "call2", "err1", "err2"} {
				assert.NotContains(t, created, "deferred."+name+"\n")
			}
			assert.Contains(t, fired, "deferred."+tc.firstName+"\n")
			assert.NotContains(t, fired, "deferred."+tc.secondName+"\n")
		})
	}
}

func TestNoDebugging(t *testing.T) {
	SetDebug(false)
	d := New[string]()
	require.NoError(t, call1(d))
	err := call2(d)
	require.ErrorIs(t, err, ErrAlreadyCalled)
	assert.NotContains(t, err.Error(), "created at")
}

func TestSwitchDebugging(t *testing.T) {
	// Debug mode is read when the Deferred is created and fired: switching
	// it off afterwards keeps what was recorded, and a Deferred created with
	// it off records only what happened after it was switched on.
	SetDebug(false)
	d := New[string]()
	SetDebug(true)
	require.NoError(t, call1(d))
	SetDebug(false)
	assert.False(t, Debugging())
	err := call2(d)
	require.ErrorIs(t, err, ErrAlreadyCalled)
	assert.Contains(t, err.Error(), "first fired at")
	assert.NotContains(t, err.Error(), "created at")

	SetDebug(true)
	assert.True(t, Debugging())
	d = New[string]()
	SetDebug(false)
	require.NoError(t, call1(d))
	err = call2(d)
	assert.Contains(t, err.Error(), "created at")
	assert.NotContains(t, err.Error(), "first fired at")
}
