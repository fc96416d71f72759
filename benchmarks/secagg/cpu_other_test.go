//go:build !unix

package secaggbench

import "time"

func cpuNow() time.Duration { return 0 }
