package he

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ClampInput moves exactly the features outside the calibrated range to
// its ends, after which Encrypt's range check accepts the sample.
func TestClampInput(t *testing.T) {
	model, err := NewLogisticRegression([]float64{1, -1}, 0, 3, 0)
	require.NoError(t, err)
	calib := [][]float64{{0, 0}, {4, 2}}
	plan, err := Compile(model, CompileOptions{Calibration: calib})
	require.NoError(t, err)
	lo, hi := plan.InputRange()
	require.Equal(t, []float64{-1, -0.5}, lo)
	require.Equal(t, []float64{5, 2.5}, hi)

	x := []float64{7, 1}
	assert.Equal(t, 1, plan.ClampInput(x))
	assert.Equal(t, []float64{5, 1}, x)
	x = []float64{-3, -9}
	assert.Equal(t, 2, plan.ClampInput(x))
	assert.Equal(t, []float64{-1, -0.5}, x)
	x = []float64{2, 2}
	assert.Zero(t, plan.ClampInput(x))
	assert.Equal(t, []float64{2, 2}, x)
	x = []float64{math.NaN(), 0}
	assert.Zero(t, plan.ClampInput(x))
	assert.True(t, math.IsNaN(x[0]))

	bare, err := Compile(model, CompileOptions{})
	require.NoError(t, err)
	x = []float64{1e30, -1e30}
	assert.Zero(t, bare.ClampInput(x))
	assert.Panics(t, func() { plan.ClampInput([]float64{1}) })
}
