package transport

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckpointRoundTripAndTamper(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.ckpt")
	c, err := ReadCheckpoint(path)
	require.NoError(t, err)
	assert.Nil(t, c, "no checkpoint yet")

	want := &Checkpoint{Round: 2, Epoch: 3, State: []byte("model and accountant")}
	require.NoError(t, WriteCheckpoint(path, want))
	got, err := ReadCheckpoint(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	// Every single-bit flip and every truncation is detected.
	for i := range raw {
		for bit := range 8 {
			bad := append([]byte(nil), raw...)
			bad[i] ^= 1 << bit
			var c Checkpoint
			require.ErrorIs(t, c.UnmarshalBinary(bad), ErrCheckpoint, "byte %d bit %d", i, bit)
		}
	}
	for n := range len(raw) {
		var c Checkpoint
		require.ErrorIs(t, c.UnmarshalBinary(raw[:n]), ErrCheckpoint, "truncated to %d", n)
	}
	require.NoError(t, os.WriteFile(path, raw[:len(raw)-1], 0o600))
	_, err = ReadCheckpoint(path)
	require.ErrorIs(t, err, ErrCheckpoint)
	assert.Contains(t, err.Error(), path)

	// A failed write leaves the previous checkpoint intact.
	require.NoError(t, WriteCheckpoint(path, want))
	require.Error(t, WriteCheckpoint(filepath.Join(path, "x"), want))
	got, err = ReadCheckpoint(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// FuzzCheckpoint: decoding never panics, and whatever decodes re-encodes
// to the same bytes (one encoding per checkpoint).
func FuzzCheckpoint(f *testing.F) {
	for _, c := range []*Checkpoint{{}, {Round: 7, Epoch: 1, State: []byte{1, 2, 3}}} {
		b, _ := c.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("privmlCP"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Checkpoint
		if err := c.UnmarshalBinary(data); err != nil {
			assert.ErrorIs(t, err, ErrCheckpoint)
			return
		}
		b, err := c.MarshalBinary()
		require.NoError(t, err)
		assert.Equal(t, data, b)
	})
}
