//go:build !linux

package cachestruct

import "testing"

// cpuPerOp runs loop; the cpu-ns/op metric is only measured on Linux.
func cpuPerOp(b *testing.B, loop func() int) { loop() }
