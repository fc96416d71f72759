//go:build unix

package sim

import (
	"syscall"
	"time"
)

// cpuNow returns the CPU time (user + system) the process has used so far.
// The simulation runs on one goroutine, so differences of cpuNow measure
// its compute (garbage collection included) independently of how loaded
// the machine is.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
