//go:build !linux

package fedbench

import "time"

var start = time.Now()

// threadCPU falls back to the wall clock.
func threadCPU() time.Duration { return time.Since(start) }
