package cachestruct

import (
	"runtime"
	"syscall"
	"testing"
)

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1

// threadCPU returns the CPU time the calling thread has used, in
// nanoseconds. The caller must be locked to its thread.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuPerOp runs loop (which returns the number of operations it did) on a
// locked thread and reports its CPU time per operation as the cpu-ns/op
// metric. On a machine shared with other work, wall-clock ns/op counts the
// time the thread waited for a core; cpu-ns/op does not.
func cpuPerOp(b *testing.B, loop func() int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	n := loop()
	if used := threadCPU() - start; n > 0 && used > 0 {
		b.ReportMetric(float64(used)/float64(n), "cpu-ns/op")
	}
}
