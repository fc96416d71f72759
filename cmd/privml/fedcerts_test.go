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
