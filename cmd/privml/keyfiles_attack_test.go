package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/internal/mtls"
)

// plantLink makes name a symlink to a victim file outside the folder and
// returns the victim's path.
func plantLink(t *testing.T, name string) string {
	t.Helper()
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("victim"), 0o644))
	require.NoError(t, os.Symlink(victim, name))
	return victim
}

func requireRegular0600(t *testing.T, path, victim string) {
	t.Helper()
	st, err := os.Lstat(path)
	require.NoError(t, err)
	assert.True(t, st.Mode().IsRegular(), "%s is %v, not a regular file", path, st.Mode())
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), path)
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "victim", string(b), "a key was written through the symlink")
}

// TestFedCertsSymlinkedKey: a symlink planted where a key goes is
// refused; with --force it is replaced by the key file, never written
// through. The folder is 0700.
func TestFedCertsSymlinkedKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	require.NoError(t, os.Mkdir(dir, 0o700))
	key := filepath.Join(dir, mtls.ClientKeyFile(1))
	victim := plantLink(t, key)
	code, _, errs := runHECLI("fed", "certs", "--out", dir, "--clients", "2")
	require.Equal(t, 1, code)
	assert.Contains(t, errs, "refusing to overwrite")
	_, err := os.Stat(filepath.Join(dir, mtls.CAKeyFile))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing is written when refusing")

	code, _, errs = runHECLI("fed", "certs", "--out", dir, "--clients", "2", "--force")
	require.Equal(t, 0, code, errs)
	requireRegular0600(t, key, victim)

	fresh := filepath.Join(t.TempDir(), "new", "tls")
	code, _, errs = runHECLI("fed", "certs", "--out", fresh, "--clients", "1")
	require.Equal(t, 0, code, errs)
	st, err := os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
}

// TestHEKeygenSymlinkedKey: the same for `privml he keygen`, whose
// folder is 0700 and secret key 0600.
func TestHEKeygenSymlinkedKey(t *testing.T) {
	_, plan, keys := heKeysFixture(t)
	st, err := os.Stat(keys)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	out := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.Mkdir(out, 0o700))
	sk := filepath.Join(out, heSecretKeyFile)
	victim := plantLink(t, sk)
	code, _, errs := runHECLI("he", "keygen", "--plan", plan, "--out", out)
	require.Equal(t, 1, code)
	assert.Contains(t, errs, "exists")
	code, _, errs = runHECLI("he", "keygen", "--plan", plan, "--out", out, "--force")
	require.Equal(t, 0, code, errs)
	requireRegular0600(t, sk, victim)
}
