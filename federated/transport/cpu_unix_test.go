//go:build unix

package transport

import (
	"syscall"
	"time"
)

// cpuNow returns the CPU time (user + system) the process has used so
// far: the server and every client of a benchmark run in this process, so
// a difference of cpuNow is the whole federation's compute, which other
// jobs on a shared machine inflate far less than wall time.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
