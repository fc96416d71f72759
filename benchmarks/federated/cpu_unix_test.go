//go:build linux

package fedbench

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time of the calling thread (RUSAGE_THREAD),
// which other load on the machine does not inflate; the caller locks its
// goroutine to the thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
