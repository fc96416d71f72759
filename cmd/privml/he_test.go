package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/he"
)

const heTestdata = "../../he/testdata/onnx/"

func runHECLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func readPlanFile(t *testing.T, path string) *he.Plan {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	p, err := he.ReadPlan(f, he.Require128)
	require.NoError(t, err)
	return p
}

func TestHECompileONNX(t *testing.T) {
	dir := t.TempDir()
	planPath := filepath.Join(dir, "mlp.plan")
	code, out, errs := runHECLI("he", "compile", "--model", heTestdata+"torch_mlp_square_op17.onnx", "--out", planPath)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "depth=3")
	assert.Contains(t, out, "10 -> 8")
	assert.Contains(t, out, "square")
	// The plan's explanation: per-layer estimates and why a public
	// decryption would be refused (no input range, too small a scale).
	assert.Contains(t, out, "expected err")
	assert.Contains(t, out, "no input range")
	assert.Contains(t, out, "DecryptPublic (s = 30")

	p := readPlanFile(t, planPath)
	assert.Equal(t, 3, p.Depth())
	assert.Equal(t, he.Latency, p.Mode())
	f, err := os.Open(heTestdata + "torch_mlp_square_op17.onnx")
	require.NoError(t, err)
	defer f.Close()
	m, err := he.ReadONNX(f)
	require.NoError(t, err)
	assert.Equal(t, m.Layers[0].Weights, p.Model().Layers[0].Weights)
	assert.Equal(t, m.Layers[1].Bias, p.Model().Layers[1].Bias)

	// Without --force an existing plan is left alone.
	before, err := os.ReadFile(planPath)
	require.NoError(t, err)
	code, _, errs = runHECLI("he", "compile", "--model", heTestdata+"torch_cnn_square_reshape_op18.onnx", "--out", planPath)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "--force")
	after, err := os.ReadFile(planPath)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	code, out, errs = runHECLI("he", "compile", "--model", heTestdata+"torch_cnn_square_reshape_op18.onnx", "--out", planPath,
		"--force", "--conv", "direct")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "conv=direct")
	assert.Contains(t, out, "conv 1x8x8 k=3 s=2 p=1 -> 2 channels")
	assert.Equal(t, 3, readPlanFile(t, planPath).Depth())
}

// TestHECompileJSONCalibrated compiles the JSON form of an ONNX model with
// a sigmoid, whose interval the calibration CSV sets.
func TestHECompileJSONCalibrated(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Open(heTestdata + "torch_mlp_bn_pow_sigmoid_op21.onnx")
	require.NoError(t, err)
	defer f.Close()
	m, err := he.ReadONNX(f)
	require.NoError(t, err)
	var js bytes.Buffer
	require.NoError(t, m.WriteJSON(&js))
	jsonPath := filepath.Join(dir, "model.json")
	require.NoError(t, os.WriteFile(jsonPath, js.Bytes(), 0o600))
	csvPath := filepath.Join(dir, "calib.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte("a,b,c,d,e,f\n0.1,0.2,-0.3,0.4,0.5,-0.6\n-10,10,-10,10,-10,10\n"), 0o600))
	planPath := filepath.Join(dir, "m.plan")
	code, out, errs := runHECLI("he", "compile", "--model", jsonPath, "--out", planPath, "--calibration", csvPath, "--mode", "batch")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "mode=batch")
	p := readPlanFile(t, planPath)
	iv := p.Model().Layers[1].Interval
	// 1.25 times the largest sigmoid input over the two samples, rounded
	// up to an integer (at least 1).
	peak := 0.0
	for _, x := range [][]float64{{0.1, 0.2, -0.3, 0.4, 0.5, -0.6}, {-10, 10, -10, 10, -10, 10}} {
		pre := *m
		pre.Layers = []he.Dense{m.Layers[0], m.Layers[1]}
		pre.Layers[1].Activation = he.ActNone
		y, err := pre.Predict(x)
		require.NoError(t, err)
		peak = max(peak, y[0], -y[0])
	}
	assert.Equal(t, max(1, math.Ceil(1.25*peak)), iv)
	assert.NotEqual(t, he.DefaultInterval, iv)
	t.Logf("peak %g interval %g", peak, iv)
	assert.Contains(t, out, "degree 7 on [-")
}

func TestHECompileErrors(t *testing.T) {
	dir := t.TempDir()
	model := heTestdata + "torch_mlp_square_op17.onnx"
	badCSV := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(badCSV, []byte("1,2,3\n"), 0o600))
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"he", "compile", "--model", model}, 2, "required"},
		{[]string{"he", "compile", "--model", model, "--out", model}, 2, "name the same file"},
		{[]string{"he", "compile", "--model", model, "--out", "./" + model}, 2, "name the same file"},
		{[]string{"he", "compile", "--model", model, "--out", filepath.Join(dir, "p"), "--mode", "fast"}, 2, "--mode"},
		{[]string{"he", "compile", "--model", model, "--out", filepath.Join(dir, "p"), "--conv", "fft"}, 2, "--conv"},
		{[]string{"he", "compile", "--model", heTestdata + "skl2onnx_logreg_op13.onnx", "--out", filepath.Join(dir, "p")}, 1,
			`node "LinearClassifier" (ai.onnx.ml.LinearClassifier)`},
		{[]string{"he", "compile", "--model", heTestdata + "README.md", "--out", filepath.Join(dir, "p")}, 1, "malformed"},
		{[]string{"he", "compile", "--model", model, "--out", filepath.Join(dir, "p"), "--calibration", badCSV}, 1, "line 1: 3 values, the model takes 10"},
		{[]string{"he", "compile", "--model", filepath.Join(dir, "missing.onnx"), "--out", filepath.Join(dir, "p")}, 1, "missing.onnx"},
		{[]string{"he", "frobnicate"}, 2, "unknown subcommand"},
	} {
		code, _, errs := runHECLI(c.args...)
		assert.Equal(t, c.code, code, "%v: %s", c.args, errs)
		assert.Contains(t, errs, c.msg, "%v", c.args)
		_, err := os.Stat(filepath.Join(dir, "p"))
		assert.True(t, os.IsNotExist(err), "%v left a plan file", c.args)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.Contains(e.Name(), ".tmp"), "temporary file %s left", e.Name())
	}
}
