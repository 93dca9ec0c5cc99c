package fnv_test

import (
	"fmt"

	"github.com/twine-go/twine/internal/fnv"
)

func ExampleSum32a() {
	fmt.Printf("%#08x\n", fnv.Sum32a("foobar"))
	// Output: 0xbf9cf968
}

func ExampleSum64a() {
	fmt.Printf("%#016x\n", fnv.Sum64a("foobar"))
	// Output: 0x85944171f73967e8
}
