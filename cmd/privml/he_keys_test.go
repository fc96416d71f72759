package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heKeysFixture compiles the ONNX MLP of the testdata and runs keygen.
func heKeysFixture(t *testing.T) (dir, plan, keys string) {
	t.Helper()
	dir = t.TempDir()
	plan = filepath.Join(dir, "mlp.plan")
	calib := filepath.Join(dir, "calib.csv")
	writeSamplesCSV(t, calib, uniformRows(rand.New(rand.NewPCG(3, 4)), 32, 10))
	code, _, errs := runHECLI("he", "compile", "--model", heTestdata+"torch_mlp_square_op17.onnx", "--out", plan, "--calibration", calib)
	require.Equal(t, 0, code, errs)
	keys = filepath.Join(dir, "keys")
	code, out, errs := runHECLI("he", "keygen", "--plan", plan, "--out", keys)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "mode 0600")
	return dir, plan, keys
}

// uniformRows returns n rows of dim values uniform on [-1, 1].
func uniformRows(r *rand.Rand, n, dim int) [][]float64 {
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, dim)
		for j := range rows[i] {
			rows[i][j] = 2*r.Float64() - 1
		}
	}
	return rows
}

func writeSamplesCSV(t *testing.T, path string, rows [][]float64) {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(strings.Repeat("x,", len(rows[0])), ",") + "\n")
	for _, r := range rows {
		for j, v := range r {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}

func readOutputsCSV(t *testing.T, path string) [][]float64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var rows [][]float64
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var row []float64
		for _, f := range strings.Split(line, ",") {
			v, err := strconv.ParseFloat(f, 64)
			require.NoError(t, err)
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	return rows
}

// TestHEKeygenEncryptDecrypt: keygen writes a 0600 secret key and
// evaluation keys; encrypt then decrypt (plain and --public) returns the
// samples; the server's output, decrypted, matches plaintext inference.
func TestHEKeygenEncryptDecrypt(t *testing.T) {
	dir, plan, keys := heKeysFixture(t)
	fi, err := os.Stat(filepath.Join(keys, heSecretKeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	_, err = os.Stat(filepath.Join(keys, heEvalKeysFile))
	require.NoError(t, err)

	rows := uniformRows(rand.New(rand.NewPCG(5, 6)), 3, 10)
	in := filepath.Join(dir, "in.csv")
	writeSamplesCSV(t, in, rows)
	ct := filepath.Join(dir, "in.ct")
	code, out, errs := runHECLI("he", "encrypt", "--plan", plan, "--key", keys, "--in", in, "--out", ct)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "3 samples in 3 ciphertexts")

	// Decrypting the inputs gives the samples back.
	back := filepath.Join(dir, "back.csv")
	code, _, errs = runHECLI("he", "decrypt", "--plan", plan, "--key", keys, "--in", ct, "--out", back)
	require.Equal(t, 0, code, errs)
	got := readOutputsCSV(t, back)
	require.Len(t, got, 3)
	for i := range rows {
		assert.InDeltaSlice(t, rows[i], got[i], 1e-4)
	}

	// Evaluate with the library's server, decrypt with --public.
	p := readPlanFile(t, plan)
	outCT := filepath.Join(dir, "out.ct")
	evaluateFile(t, p, keys, ct, outCT)
	res := filepath.Join(dir, "out.csv")
	code, _, errs = runHECLI("he", "decrypt", "--plan", plan, "--key", keys, "--in", outCT, "--out", res)
	require.Equal(t, 0, code, errs)
	got = readOutputsCSV(t, res)
	m := p.Model()
	for i := range rows {
		want, err := m.Predict(rows[i])
		require.NoError(t, err)
		assert.InDeltaSlice(t, want, got[i], 1e-2, "sample %d", i)
	}

	// This plan ends at level 0 with a 36-bit modulus: flooding for s = 30
	// does not fit, and --public says so instead of returning noise.
	code, _, errs = runHECLI("he", "decrypt", "--plan", plan, "--key", keys, "--in", outCT, "--out", filepath.Join(dir, "pub.csv"), "--public")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "too little precision")
	// With a lower s it fits and reports the precision left.
	code, out, errs = runHECLI("he", "decrypt", "--plan", plan, "--key", keys, "--in", outCT, "--out", filepath.Join(dir, "pub.csv"), "--public", "--security", "8", "--min-precision", "-1")
	if code == 0 {
		assert.Contains(t, out, "flooding: s=8")
		pub := readOutputsCSV(t, filepath.Join(dir, "pub.csv"))
		require.Len(t, pub, 3)
	} else {
		assert.Contains(t, errs, "too little precision")
	}

	// Refusals: a key file readable by others, an existing --out, the
	// same file twice, keys of another plan.
	require.NoError(t, os.Chmod(filepath.Join(keys, heSecretKeyFile), 0o644))
	code, _, errs = runHECLI("he", "encrypt", "--plan", plan, "--key", keys, "--in", in, "--out", filepath.Join(dir, "x.ct"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "chmod 600")
	require.NoError(t, os.Chmod(filepath.Join(keys, heSecretKeyFile), 0o600))
	code, _, errs = runHECLI("he", "encrypt", "--plan", plan, "--key", keys, "--in", in, "--out", ct)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "--force")
	code, _, errs = runHECLI("he", "encrypt", "--plan", plan, "--key", keys, "--in", in, "--out", in)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "same file")
	code, _, errs = runHECLI("he", "keygen", "--plan", plan, "--out", keys)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "--force")

	// A corrupted secret key file is refused, naming the file.
	skPath := filepath.Join(keys, heSecretKeyFile)
	raw, err := os.ReadFile(skPath)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 1 // a bit of a coefficient
	require.NoError(t, os.WriteFile(skPath, raw, 0o600))
	code, _, errs = runHECLI("he", "decrypt", "--plan", plan, "--key", keys, "--in", ct, "--out", filepath.Join(dir, "y.csv"))
	assert.Equal(t, 1, code, errs)
	assert.Contains(t, errs, skPath)
	assert.Contains(t, errs, "malformed")
}
