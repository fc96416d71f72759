//go:build unix

package secaggbench

import (
	"syscall"
	"time"
)

// cpuNow returns the process's CPU time (user + system), which a loaded
// machine does not inflate; the benchmarks run on one goroutine.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
