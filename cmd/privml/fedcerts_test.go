package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/internal/mtls"
)

func TestFedCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	var out, errb bytes.Buffer
	code := run([]string{"fed", "certs", "--out", dir, "--clients", "4"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "4 client certificates")
	for _, f := range []string{mtls.CAKeyFile, mtls.ServerKeyFile, mtls.ClientKeyFile(3)} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	roster, err := mtls.LoadRoster(dir, 4)
	require.NoError(t, err)
	assert.Len(t, roster, 4)

	// A second run refuses to overwrite the keys; --force replaces them.
	out.Reset()
	errb.Reset()
	code = run([]string{"fed", "certs", "--out", dir, "--clients", "4"}, &out, &errb)
	assert.Equal(t, 1, code)
	assert.Contains(t, errb.String(), "already exists")
	code = run([]string{"fed", "certs", "--out", dir, "--clients", "4", "--force", "--key", "ecdsa-p256"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	_, err = mtls.LoadRoster(dir, 4)
	assert.ErrorIs(t, err, mtls.ErrIdentity, "ECDSA keys are no secure-aggregation identities")
}

func TestFedCertsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"fed", "certs"},
		{"fed", "certs", "--out", t.TempDir()},
		{"fed", "certs", "--out", t.TempDir(), "--clients", "0"},
		{"fed", "certs", "--out", t.TempDir(), "--clients", "2", "--key", "rsa"},
		{"fed", "certs", "--out", t.TempDir(), "--clients", "2", "--days", "0"},
		{"fed", "certs", "--out", t.TempDir(), "--clients", "2", "extra"},
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errb), "%q", args)
		assert.NotEmpty(t, errb.String(), "%q", args)
	}
	var out, errb bytes.Buffer
	assert.Equal(t, 0, run([]string{"fed", "certs", "-h"}, &out, &errb))
	assert.Contains(t, errb.String(), "-clients")
	assert.Equal(t, 2, run([]string{"fed", "nosuch"}, &out, &errb))
	assert.Contains(t, errb.String(), "certs")
}

func TestFedServerClientFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"fed", "server"},
		{"fed", "server", "--tls", dir, "--clients", "1", "--rounds", "1", "--dim", "2"},
		{"fed", "server", "--tls", dir, "--clients", "3", "--rounds", "0", "--dim", "2"},
		{"fed", "server", "--tls", dir, "--clients", "3", "--rounds", "1"},
		{"fed", "server", "--tls", dir, "--clients", "3", "--rounds", "1", "--dim", "2", "--threat", "paranoid"},
		{"fed", "server", "--tls", dir, "--clients", "3", "--rounds", "1", "--dim", "2", "--scale", "-1"},
		{"fed", "client"},
		{"fed", "client", "--tls", dir, "--id", "0"},
		{"fed", "client", "--tls", dir, "--data", "x.csv"},
		{"fed", "client", "--tls", dir, "--id", "0", "--data", "x.csv", "--clip", "0"},
		{"fed", "client", "--tls", dir, "--id", "0", "--data", "x.csv", "extra"},
		// The malicious model needs a seed source the server does not
		// control, and a roster with it.
		{"fed", "server", "--tls", dir, "--clients", "3", "--rounds", "1", "--dim", "2", "--threat", "malicious"},
		{"fed", "client", "--tls", dir, "--id", "0", "--data", "x.csv", "--roster", "3"},
		{"fed", "client", "--tls", dir, "--id", "0", "--data", "x.csv", "--beacon", "b"},
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errb), "%q", args)
		assert.NotEmpty(t, errb.String(), "%q", args)
	}
	for _, sub := range []string{"server", "client"} {
		var out, errb bytes.Buffer
		assert.Equal(t, 0, run([]string{"fed", sub, "-h"}, &out, &errb), sub)
	}
	// Missing certificate files are named.
	var out, errb bytes.Buffer
	code := run([]string{"fed", "server", "--tls", dir, "--clients", "3", "--rounds", "1", "--dim", "2", "--listen", "127.0.0.1:0"}, &out, &errb)
	assert.Equal(t, 1, code)
	assert.Contains(t, errb.String(), "ca.crt")
	// A shard that is not numeric is refused with its line and column.
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("a,b\n1,2\n3,x\n"), 0o600))
	_, _, err := readShard(bad, 1000, 1e6)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `line 3, column "b"`)
	_, _, err = parseCrashAt("2:bogus")
	assert.Error(t, err)
	r, st, err := parseCrashAt("2:masked_input")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), r)
	assert.Equal(t, "STAGE_MASKED_INPUT", st.String())
}
