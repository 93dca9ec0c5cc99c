package fnv

import (
	stdfnv "hash/fnv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMatchesHashFNV checks both widths against the standard library.
func TestMatchesHashFNV(t *testing.T) {
	for _, s := range []string{"", "a", "foobar", "user:42:profile", "\x00\xff key with spaces", string(make([]byte, 300))} {
		h32, h64 := stdfnv.New32a(), stdfnv.New64a()
		h32.Write([]byte(s))
		h64.Write([]byte(s))
		assert.Equal(t, h32.Sum32(), Sum32a(s), "Sum32a(%q)", s)
		assert.Equal(t, h64.Sum64(), Sum64a(s), "Sum64a(%q)", s)
	}
}

var sink uint64

func TestNoAllocations(t *testing.T) {
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		sink += uint64(Sum32a("user:42:profile")) + Sum64a("user:42:profile")
	}))
}
