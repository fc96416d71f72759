//go:build !unix

package federated

import "time"

func stratCPUTime() (time.Duration, bool) { return 0, false }
