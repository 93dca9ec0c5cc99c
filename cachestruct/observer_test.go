package cachestruct

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRecorder(t *testing.T) {
	var r Recorder
	assert.Empty(t, r.Story("k"))
	assert.Empty(t, r.Keys())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 10 {
				r.Observe(fmt.Sprint("k", i), LetterHit)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []string{"k0", "k1", "k2", "k3"}, r.Keys())
	assert.Equal(t, "HHHHHHHHHH", r.Story("k2"))

	for range 100 {
		r.Observe("long", LetterMiss)
	}
	r.Observe("long", LetterHit)
	assert.Equal(t, strings.Repeat("M", recorderMax-1)+"H", r.Story("long"), "keeps the last letters")
	r.Reset()
	assert.Empty(t, r.Keys())
}

func TestLetters(t *testing.T) {
	tests := []struct {
		l    Letter
		want string
	}{{LetterMiss, "M"}, {LetterLockTry, "L"}, {LetterWritten, "W"}, {LetterUnlock, "U"}, {LetterHit, "H"}}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) { assert.Equal(t, tt.want, tt.l.String()) })
	}
	var got []string
	o := ObserverFunc(func(key string, l Letter) { got = append(got, key+l.String()) })
	observe(o, "a", LetterHit)
	observe(nil, "a", LetterHit) // a nil Observer is allowed
	assert.Equal(t, []string{"aH"}, got)
}
