package hestudy

import (
	"io"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/he"
)

// TestMeasureClampsOutOfRangeSamples: a sample beyond the range calibrated
// on the training rows is moved into it, counted, and compared with
// plaintext on the moved input; the task's own samples are left alone.
func TestMeasureClampsOutOfRangeSamples(t *testing.T) {
	m, err := he.NewMLP(
		he.Dense{Weights: [][]float64{{1, -0.5}, {0.25, 0.75}}, Bias: []float64{0.1, -0.1}, Activation: he.ActSquare},
		he.Dense{Weights: [][]float64{{1, 1}, {-1, 0.5}}, Bias: []float64{0, 0}})
	require.NoError(t, err)
	// Calibration in [0, 1]: the range enforced is [-0.25, 1.25].
	calib := [][]float64{{0, 0}, {1, 1}, {0.5, 0.2}}
	samples := [][]float64{{0.3, 0.6}, {3, -2}, {0.9, 4}}
	tk := &task{name: "toy", model: m, samples: slices.Clone(samples), calib: calib}
	p, err := measure(tk, he.PN13)
	require.NoError(t, err)
	require.Empty(t, p.Skipped)
	assert.Equal(t, 2, p.Clamped, "samples moved")
	assert.Equal(t, 3, p.ClampedFeatures, "features moved")
	assert.Equal(t, [][]float64{{0.3, 0.6}, {3, -2}, {0.9, 4}}, tk.samples, "task samples modified")
	assert.Less(t, p.MaxErr, 1e-3, "error against plaintext on the clamped inputs")
	assert.Equal(t, 3, p.Agreed)
}

// TestConvTaskCalibratesOnTrainingRowsOnly: in quick mode the conv net is
// calibrated on its 150 training images, and no test sample is among them.
func TestConvTaskCalibratesOnTrainingRowsOnly(t *testing.T) {
	tk, err := convTask(convOptions{epochs: 1, batch: 16, lr: 0.002, seed: 1, n: 5, calibration: 2000}, io.Discard)
	require.NoError(t, err)
	assert.Len(t, tk.calib, 150)
	assert.Len(t, tk.samples, 5)
	for i, s := range tk.samples {
		for _, c := range tk.calib {
			assert.False(t, slices.Equal(s, c), "test sample %d is a calibration row", i)
		}
	}
}
