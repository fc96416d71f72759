package main

import (
	"bufio"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/privml/privml/he"
)

// evaluateFile evaluates the ciphertexts of in with the keys of the key
// folder and writes the outputs to out, as a server would.
func evaluateFile(t *testing.T, plan *he.Plan, keyDir, in, out string) {
	t.Helper()
	keys, err := readEvalKeys(keyDir, plan)
	require.NoError(t, err)
	srv, err := he.NewServer(plan, keys)
	require.NoError(t, err)
	cts, err := readCiphertexts(in, plan.Parameters())
	require.NoError(t, err)
	f, err := os.Create(out)
	require.NoError(t, err)
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, ct := range cts {
		o, err := srv.Evaluate(ct)
		require.NoError(t, err)
		_, err = o.WriteTo(w)
		require.NoError(t, err)
	}
	require.NoError(t, w.Flush())
}
