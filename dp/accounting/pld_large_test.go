package accounting

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPLDEpsilonAboveExpRange: ε beyond 709, where e^{-loss} underflows,
// must stay finite and correct. 2000 Gaussians of noise multiplier 1 are one
// Gaussian of multiplier 1/√2000, whose exact ε (Balle and Wang 2018) is
// about 1171 at δ = 1e-5; the PLD answer must be at least the exact value
// (an upper bound) and within 0.05% of it.
func TestPLDEpsilonAboveExpRange(t *testing.T) {
	exact, err := GaussianEpsilon(1/math.Sqrt(2000), 1e-5)
	require.NoError(t, err)
	require.Greater(t, exact, 709.0)
	a, err := NewPLDAccountant(PLDConfig{Interval: 2e-3})
	require.NoError(t, err)
	require.NoError(t, a.Compose(SelfComposed{Event: Gaussian{NoiseMultiplier: 1}, Count: 2000}))
	got, err := a.Epsilon(1e-5)
	require.NoError(t, err)
	require.False(t, math.IsInf(got, 0), "epsilon %v", got)
	assert.GreaterOrEqual(t, got, exact*(1-1e-12))
	assert.InDelta(t, exact, got, 5e-4*exact)
	t.Logf("PLD %.6f, exact %.6f", got, exact)
	// δ at that ε is back at the target.
	d, err := a.Delta(got)
	require.NoError(t, err)
	assert.InDelta(t, 1e-5, d, 1e-8)
}

// TestPLDSubsampledLargeEpsilon is the DP-SGD run q = 0.5, σ = 1, 5000 steps,
// δ = 1e-5 at interval 1e-3: dp_accounting (connect-the-dots, the same
// interval) gives 871.48 and the RDP accountant 892.43, both upper bounds.
// The PLD value must be finite, below the RDP bound, within 0.2% of
// dp_accounting's, and not grow as the grid is refined (it converges to
// 870.528 from above: 870.535 at 4e-3, 870.530 at 2e-3).
func TestPLDSubsampledLargeEpsilon(t *testing.T) {
	if testing.Short() {
		t.Skip("about a second")
	}
	eps := func(interval float64) float64 {
		e, err := PoissonGaussianEpsilonPLD(0.5, 1, 5000, 1e-5, PLDConfig{Interval: interval})
		require.NoError(t, err)
		return e
	}
	fine, coarse := eps(1e-3), eps(4e-3)
	require.False(t, math.IsInf(fine, 0))
	rdp, _, err := PoissonGaussianEpsilon(0.5, 1, 5000, 1e-5, RDPConfig{})
	require.NoError(t, err)
	assert.Less(t, fine, rdp)
	assert.InDelta(t, 871.48, fine, 0.002*871.48)
	assert.LessOrEqual(t, fine, coarse)
	t.Logf("PLD %.4f at 1e-3, %.4f at 4e-3; RDP %.4f", fine, coarse, rdp)
}
