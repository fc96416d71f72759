//go:build unix

package federated

import (
	"syscall"
	"time"
)

// stratCPUTime returns the user plus system CPU time of the process, so
// that benchmarks can report CPU per operation on a shared machine, where
// wall time depends on the other jobs.
func stratCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
