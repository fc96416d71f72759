package secagg

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReconstructionWorkersAgree: Finish tries every secret's first
// reconstruction on all workers and works around corrupted shares on one;
// the Result, holders blamed included, and the error must not depend on
// the number of workers.
func TestReconstructionWorkersAgree(t *testing.T) {
	for _, corrupt := range [][]int{nil, {3}, {0}, {5}, {1, 3}, {4, 0}, {1, 2, 4}} {
		t.Run(fmt.Sprint(corrupt), func(t *testing.T) {
			var first *Result
			var firstErr error
			for i, procs := range []int{1, 2, 4} {
				old := runtime.GOMAXPROCS(procs)
				res, _, err := runCorruptHolders(t, corrupt)
				runtime.GOMAXPROCS(old)
				if i == 0 {
					first, firstErr = res, err
					continue
				}
				require.Equal(t, firstErr, err, "GOMAXPROCS=%d", procs)
				require.Equal(t, first, res, "GOMAXPROCS=%d", procs)
			}
		})
	}
}
