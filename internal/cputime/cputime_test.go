//go:build unix

package cputime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProcessCountsWork: busy work on this goroutine for 50 ms of wall
// time adds CPU time, never less than zero and not more than the wall time
// times the number of threads that could run (a loose bound: the test
// goroutine alone spins).
func TestProcessCountsWork(t *testing.T) {
	c0 := Process()
	require.Positive(t, c0)
	start := time.Now()
	x := uint64(1)
	for time.Since(start) < 50*time.Millisecond {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	wall := time.Since(start)
	d := Process() - c0
	assert.NotZero(t, x)
	assert.Greater(t, d, 10*time.Millisecond, "50 ms of spinning used %v of CPU", d)
	assert.Less(t, d, 4*wall+100*time.Millisecond)
}
