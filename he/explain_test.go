package he

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoiseEstimateHolds: for models with square, sigmoid and ReLU
// layers, the measured error of encrypted inference against plaintext
// stays within the expected error of Explain, and the measured standard
// deviation of the encryption noise (against the plaintext model with the
// same polynomials) within the estimated one.
func TestNoiseEstimateHolds(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	cases := []struct {
		name  string
		model *Model
		opts  CompileOptions
	}{
		{"batch square", randModel(t, r, []int{8, 6, 3}, []Activation{ActSquare, ActNone}), CompileOptions{Mode: Batch, Parameters: testParams(t, 10, 3)}},
		{"latency sigmoid", randModel(t, r, []int{8, 4, 2}, []Activation{ActSigmoid, ActNone}), CompileOptions{Parameters: testParams(t, 10, 5)}},
		{"batch relu", func() *Model {
			m := randModel(t, r, []int{6, 4, 2}, []Activation{ActReLU, ActNone})
			m.Layers[0].Alpha = 4
			return m
		}(), CompileOptions{Mode: Batch, Parameters: testParams(t, 10, 10)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 64
			if c.opts.Mode == Batch {
				n = 512
			}
			xs := randSamples(r, n, c.model.InputDim)
			c.opts.Calibration = xs
			plan, err := Compile(c.model, c.opts)
			require.NoError(t, err)
			got := runPlan(t, plan, xs)
			ex := plan.Explain()
			last := ex.Layers[len(ex.Layers)-1]
			var maxErr, sum2 float64
			k := 0
			for i, x := range xs {
				want, err := c.model.Predict(x)
				require.NoError(t, err)
				approx, err := plan.predictApprox(x)
				require.NoError(t, err)
				for j := range want {
					maxErr = math.Max(maxErr, math.Abs(got[i][j]-want[j]))
					d := got[i][j] - approx[j]
					sum2 += d * d
					k++
				}
			}
			std := math.Sqrt(sum2 / float64(k))
			t.Logf("max error %.3g ≤ expected %.3g; noise std %.3g ≤ estimated %.3g (ratio %.1f)",
				maxErr, last.ExpectedError, std, last.NoiseStd, last.NoiseStd/std)
			require.LessOrEqual(t, maxErr, last.ExpectedError)
			require.LessOrEqual(t, std, last.NoiseStd)
		})
	}
}

// TestCompileCalibrationNotFinite: NaN, infinite or overflowing
// calibration data is an error, not a panic.
func TestCompileCalibrationNotFinite(t *testing.T) {
	m, err := NewLogisticRegression([]float64{1, -2}, 0.5, 0, 0)
	require.NoError(t, err)
	for _, cal := range [][][]float64{
		{{math.NaN(), 1}},
		{{1, 2}, {math.Inf(1), 0}},
		{{1e308, -1e308}},
		{{1, 2, 3}},
	} {
		require.NotPanics(t, func() {
			_, err = Compile(m, CompileOptions{Parameters: testParams(t, 10, 4), Calibration: cal})
		})
		require.Error(t, err, "calibration %v", cal)
		require.True(t, errors.Is(err, ErrInput) || errors.Is(err, ErrModel), "calibration %v: %v", cal, err)
	}
	_, err = Compile(m, CompileOptions{Parameters: testParams(t, 10, 4), Calibration: [][]float64{{math.NaN(), 1}}})
	require.ErrorContains(t, err, "calibration sample 0 feature 0 is NaN")
}

// TestInputRange: inputs outside the calibrated range are refused with
// the feature and the interval named, in the client and after a round
// trip of the plan; an explicit range applies to every feature.
func TestInputRange(t *testing.T) {
	m, err := NewLogisticRegression([]float64{1, -2}, 0.5, 0, 0)
	require.NoError(t, err)
	cal := [][]float64{{-1, 0}, {1, 2}}
	plan, err := Compile(m, CompileOptions{Parameters: testParams(t, 10, 4), Calibration: cal})
	require.NoError(t, err)
	lo, hi := plan.InputRange()
	require.Equal(t, []float64{-1.5, -0.5}, lo)
	require.Equal(t, []float64{1.5, 2.5}, hi)
	c, err := NewClient(plan.Parameters())
	require.NoError(t, err)
	_, err = c.Encrypt(plan, [][]float64{{1e30, 0}})
	require.ErrorIs(t, err, ErrRange)
	require.ErrorContains(t, err, "feature 0 = 1e+30 is outside [-1.5, 1.5]")
	_, err = c.Encrypt(plan, [][]float64{{0, -0.6}})
	require.ErrorContains(t, err, "feature 1 = -0.6 is outside [-0.5, 2.5]")
	_, err = c.Encrypt(plan, [][]float64{{1.4, 2.4}})
	require.NoError(t, err)

	// The range survives the plan's encoding.
	b := marshal(plan)
	require.Equal(t, byte(3), b[5], "a plan with a range is format version 3")
	back, err := ReadPlan(bytes.NewReader(b), AllowInsecureForTesting)
	require.NoError(t, err)
	require.Equal(t, b, marshal(back))
	_, err = c.Encrypt(back, [][]float64{{1e30, 0}})
	require.ErrorIs(t, err, ErrRange)
	// A corrupted range (lo above hi) is refused.
	bad := append([]byte(nil), b...)
	copy(bad[len(bad)-8:], marshal8(-10))
	_, err = ReadPlan(bytes.NewReader(bad), AllowInsecureForTesting)
	require.ErrorIs(t, err, ErrMalformed)

	explicit, err := Compile(m, CompileOptions{Parameters: testParams(t, 10, 4), InputRange: [2]float64{-3, 3}})
	require.NoError(t, err)
	_, err = c.Encrypt(explicit, [][]float64{{2.9, -3.1}})
	require.ErrorContains(t, err, "feature 1 = -3.1 is outside [-3, 3]")
	_, err = Compile(m, CompileOptions{Parameters: testParams(t, 10, 4), InputRange: [2]float64{3, -3}})
	require.ErrorIs(t, err, ErrInput)
	// Without calibration or range nothing is checked.
	free, err := Compile(m, CompileOptions{Parameters: testParams(t, 10, 4)})
	require.NoError(t, err)
	_, err = c.Encrypt(free, [][]float64{{1e3, 0}})
	require.NoError(t, err)
}

func marshal8(v float64) []byte {
	var b bytes.Buffer
	(&encoder{w: &b}).f64(v)
	return b.Bytes()
}

// TestExplain: the report's levels chain from layer to layer and add up
// to the plan's depth; an interval narrower than the inputs can reach is
// flagged; a model too deep is explained with cheaper activations.
func TestExplain(t *testing.T) {
	r := rand.New(rand.NewPCG(83, 84))
	m := randModel(t, r, []int{6, 4, 4, 2}, []Activation{ActSquare, ActSigmoid, ActNone})
	m.Layers[1].Interval = 0.5
	plan, err := Compile(m, CompileOptions{Parameters: testParams(t, 10, 7), InputRange: [2]float64{-4, 4}})
	require.NoError(t, err)
	ex := plan.Explain()
	require.True(t, ex.Fits)
	require.Len(t, ex.Layers, 3)
	level, depth := plan.Parameters().Depth(), 0
	for _, l := range ex.Layers {
		require.Equal(t, level, l.LevelIn)
		require.Equal(t, l.LevelIn-l.Depth, l.LevelOut)
		level = l.LevelOut
		depth += l.Depth
		require.Greater(t, l.ExpectedError, 0.0)
	}
	require.Equal(t, plan.Depth(), depth)
	require.Contains(t, ex.String(), "layer 1: inputs in the range can reach")
	require.Contains(t, ex.String(), "DecryptPublic would refuse")

	// A plan that bootstraps: every layer after a bootstrap restarts at
	// the top level.
	bp := bootPlan(t)
	bex := bp.Explain()
	require.Equal(t, bp.Bootstraps(), func() int {
		n := 0
		for _, l := range bex.Layers {
			if l.Bootstrap {
				n++
				require.Equal(t, bp.Parameters().Depth(), l.LevelIn)
			}
		}
		return n
	}())
	require.Contains(t, bex.String(), "(bootstrap)")

	deep := randModel(t, r, []int{4, 4, 4, 2}, []Activation{ActReLU, ActReLU, ActNone})
	ex, err = Explain(deep, CompileOptions{})
	require.NoError(t, err)
	require.False(t, ex.Fits)
	require.Equal(t, 27, ex.Depth)
	require.Equal(t, 15, ex.Available)
	require.ErrorIs(t, ex.Err, ErrDepth)
	s := ex.String()
	require.Contains(t, s, "layer 0: ReLU with alpha 7 costs 12 levels; alpha 4 costs 8")
	require.Contains(t, s, "CompileOptions.Bootstrap")

	_, err = Explain(m, CompileOptions{Calibration: [][]float64{{math.NaN()}}})
	require.ErrorIs(t, err, ErrInput)
}

func ExampleExplain() {
	// A logistic regression on two features in [-2, 2], compiled for
	// PN13.
	m, err := NewLogisticRegression([]float64{1.5, -0.5}, 0.25, 7, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	p13, err := NewParameters(PN13)
	if err != nil {
		fmt.Println(err)
		return
	}
	ex, err := Explain(m, CompileOptions{Parameters: &p13, InputRange: [2]float64{-2, 2}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprint(os.Stdout, strings.ReplaceAll(ex.String(), "\t", " "))
	// Output:
	// plan: mode=latency depth=4 bootstraps=0 block=2 galois_keys=2 params=[PN13 logN=13 slots=4096 depth=4 logQP=216.0 scale=2^29 (128-bit)]
	// layer  shape  activation     depth  levels  interval  |input|≤  noise std  approx err  expected err
	// 0      2→1    sigmoid deg 7  4      4→0     8         4.2       9.1e-05    0.03        0.032
	// depth 4 of 4
	// DecryptPublic (s = 30, τ = 1): -9.9 bits left
	// - expected output error 0.032: raise the activation degrees or use parameters with a larger scale
	// - DecryptPublic would refuse: its flooding leaves -9.9 bits, below the default minimum 8; it needs a larger scale (PN15: 2^45)
}
