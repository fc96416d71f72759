//go:build unix

package cputime

import (
	"syscall"
	"time"
)

// Process returns the CPU time (user + system, getrusage RUSAGE_SELF) the
// process has used so far, every goroutine and the garbage collector
// included, or 0 if the system call fails.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
