//go:build !unix

package sim

import "time"

// cpuNow is not available on this platform; CPU times read as zero.
func cpuNow() time.Duration { return 0 }
