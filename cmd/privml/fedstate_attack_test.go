package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/transport"
	"github.com/privml/privml/internal/mtls"
)

// TestFedServerRefusesTamperedCheckpoint: a server whose checkpoint was
// corrupted (one bit of the round number flipped, as a tamperer who does
// not recompute the checksum would) refuses to start, names the file and
// leaves it as it was: it never starts afresh with epsilon at zero.
func TestFedServerRefusesTamperedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	pki := filepath.Join(dir, "tls")
	require.NoError(t, mtls.WriteDevPKI(pki, mtls.DevPKI{Clients: 2}))
	state := filepath.Join(dir, "state")
	require.NoError(t, os.Mkdir(state, 0o700))
	path := filepath.Join(state, checkpointFile)
	raw, err := (&transport.Checkpoint{Round: 5, Epoch: 2, State: []byte(`{"task":"logreg"}`)}).MarshalBinary()
	require.NoError(t, err)
	raw[17] ^= 1 // the round's last byte: round 4
	require.NoError(t, os.WriteFile(path, raw, 0o600))

	code, _, errs := runHECLI("fed", "server", "--listen", "127.0.0.1:0", "--tls", pki, "--clients", "2", "--rounds", "10", "--dim", "2", "--state", state)
	require.NotEqual(t, 0, code)
	assert.Contains(t, errs, path)
	assert.Contains(t, errs, "checksum")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, raw, after, "the corrupted checkpoint was replaced")
}

// TestFedServerRefusesEpochWrap: a checkpoint at the largest start count
// is refused rather than wrapped to zero (which would reuse the secagg
// Sequences of earlier starts).
func TestFedServerRefusesEpochWrap(t *testing.T) {
	dir := t.TempDir()
	pki := filepath.Join(dir, "tls")
	require.NoError(t, mtls.WriteDevPKI(pki, mtls.DevPKI{Clients: 2}))
	state := filepath.Join(dir, "state")
	require.NoError(t, os.Mkdir(state, 0o700))
	path := filepath.Join(state, checkpointFile)
	require.NoError(t, transport.WriteCheckpoint(path, &transport.Checkpoint{Round: 1, Epoch: math.MaxUint32}))
	code, _, errs := runHECLI("fed", "server", "--listen", "127.0.0.1:0", "--tls", pki, "--clients", "2", "--rounds", "3", "--dim", "2", "--state", state)
	require.NotEqual(t, 0, code)
	assert.Contains(t, errs, "start count")
	ck, err := transport.ReadCheckpoint(path)
	require.NoError(t, err)
	assert.Equal(t, uint32(math.MaxUint32), ck.Epoch)
}
