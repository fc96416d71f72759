package secagg

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFileSequenceStoreConcurrentAdvance: two clients of one process that
// share a sequence file (or one client started twice) must not both join
// the session with the same Sequence. Advance reads, checks and renames:
// without serialising those steps, concurrent calls with the same value
// all pass the check.
func TestFileSequenceStoreConcurrentAdvance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq")
	require.NoError(t, FileSequenceStore{Path: path}.Advance(6))
	const callers = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	start := make(chan struct{})
	for range callers {
		wg.Go(func() {
			<-start
			if err := (FileSequenceStore{Path: path}).Advance(7); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else {
				assert.ErrorIs(t, err, ErrReplay)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, ok, "exactly one caller may take part in session 7")
	last, set, err := FileSequenceStore{Path: path}.Last()
	require.NoError(t, err)
	assert.True(t, set)
	assert.Equal(t, uint64(7), last)
}
