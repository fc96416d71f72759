package dp

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// directDiscreteDelta evaluates CKS20 Theorem 7 literally, as the textbook
// formula P[Z > t] - e^ε·P[Z > t+Δ] with both tails summed over
// z ∈ [-K, K] and divided by the total mass: another code path than the
// package's single sum of non-negative terms, usable while δ is not tiny.
func directDiscreteDelta(sigma, eps, sens float64) float64 {
	k := math.Ceil(40*sigma + 40 + eps*sigma*sigma/sens)
	t := eps*sigma*sigma/sens - sens/2
	var mass, tail1, tail2 float64
	for z := -k; z <= k; z++ {
		w := math.Exp(-z * z / (2 * sigma * sigma))
		mass += w
		if z > t {
			tail1 += w
		}
		if z > t+sens {
			tail2 += w
		}
	}
	return (tail1 - math.Exp(eps)*tail2) / mass
}

// TestDiscreteGaussianDeltaAgainstSum compares the package's δ with the
// literal formula over a grid of σ, ε and Δ where δ > 1e-9 (where the
// literal difference of two tails is still accurate to about 1e-7).
func TestDiscreteGaussianDeltaAgainstSum(t *testing.T) {
	n := 0
	for _, sens := range []float64{1, 2, 5} {
		for _, sigma := range []float64{0.3, 0.7, 1, 1.9, 3.7, 10, 55.5} {
			for _, eps := range []float64{0, 0.1, 0.5, 1, 3, 6} {
				want := directDiscreteDelta(sigma*sens, eps, sens)
				if want < 1e-9 {
					continue
				}
				got, err := DiscreteGaussianDelta(sigma*sens, eps, sens)
				require.NoError(t, err)
				assert.InDelta(t, want, got, 1e-7*want, "sigma %g eps %g sens %g", sigma*sens, eps, sens)
				n++
			}
		}
	}
	assert.Greater(t, n, 80)
}

// TestDiscreteGaussianContinuousUnderstatesDelta: at the continuous
// analytic-Gaussian σ the discrete Gaussian's exact δ exceeds the target by
// the factors computed independently with mpmath at 40 digits (direct sums
// over |z| <= 60σ + 60 + εσ²): 1.0345672, 1.1031517, 1.472804, 1.5638476.
func TestDiscreteGaussianContinuousUnderstatesDelta(t *testing.T) {
	for _, c := range []struct{ eps, delta, ratio float64 }{
		{1, 1e-5, 1.0345672}, {2, 1e-5, 1.1031517}, {3, 1e-3, 1.472804}, {6, 1e-3, 1.5638476},
	} {
		cont, err := GaussianSigma(c.eps, c.delta, 1)
		require.NoError(t, err)
		d, err := DiscreteGaussianDelta(cont, c.eps, 1)
		require.NoError(t, err)
		assert.InEpsilon(t, c.ratio, d/c.delta, 1e-6, "(%g, %g)", c.eps, c.delta)
	}
}

// TestDiscreteGaussianSigma: the calibrated σ meets δ, is not wasteful (1%
// less noise misses δ), and agrees with the minimal σ found independently
// with mpmath (bisection on the 40-digit sum: 3.74048470422783,
// 2.0118943389238, 1.05801207376004; at ε = 6 that bisection lands in an
// isolated interval near 0.4997 that this calibration deliberately skips,
// and mpmath gives δ/target = 0.99999999969 at our 0.631404653751 and
// 0.9999999991, 0.9999999995 at the Δ = 3 and Δ = 2 values).
func TestDiscreteGaussianSigma(t *testing.T) {
	for _, c := range []struct{ eps, delta, sens, want float64 }{
		{1, 1e-5, 1, 3.74048470422783},
		{2, 1e-5, 1, 2.0118943389238},
		{3, 1e-3, 1, 1.05801207376004},
		{6, 1e-3, 1, 0.631404653751},
		{1, 1e-5, 3, 11.1925301415398},
		{0.5, 1e-6, 2, 16.1128874745232},
	} {
		s, err := DiscreteGaussianSigma(c.eps, c.delta, c.sens)
		require.NoError(t, err)
		assert.InEpsilon(t, c.want, s, 1e-9, "(%g, %g, %g)", c.eps, c.delta, c.sens)
		d, _ := DiscreteGaussianDelta(s, c.eps, c.sens)
		assert.LessOrEqual(t, d, c.delta, "(%g, %g, %g)", c.eps, c.delta, c.sens)
		d99, _ := DiscreteGaussianDelta(0.99*s, c.eps, c.sens)
		assert.Greater(t, d99, c.delta, "(%g, %g, %g): 1%% less noise still meets delta", c.eps, c.delta, c.sens)
	}
	// The continuous calibration is not enough at ε = 6, δ = 1e-3.
	cont, _ := GaussianSigma(6, 1e-3, 1)
	d, _ := DiscreteGaussianDelta(cont, 6, 1)
	assert.Greater(t, d, 1e-3)
}

// TestDiscreteGaussianLargeSigma: for large σ the discrete and continuous
// profiles agree closely; above the direct-sum limit the integral bound
// is an upper bound on δ (never below the continuous value here) and within
// 2e-4 of it; the calibration still meets δ and is within 1% of minimal.
func TestDiscreteGaussianLargeSigma(t *testing.T) {
	for _, sigma := range []float64{3000, 5400, 6000, 20000} {
		d, err := DiscreteGaussianDelta(sigma, 1e-4, 1)
		require.NoError(t, err)
		c := math.Exp(logGaussianDelta(sigma, 1e-4, 1))
		assert.InEpsilon(t, c, d, 2e-4, "sigma %g", sigma)
	}
	for _, eps := range []float64{1e-3, 1e-4} {
		s, err := DiscreteGaussianSigma(eps, 1e-5, 1)
		require.NoError(t, err)
		d, _ := DiscreteGaussianDelta(s, eps, 1)
		assert.LessOrEqual(t, d, 1e-5)
		d99, _ := DiscreteGaussianDelta(0.99*s, eps, 1)
		assert.Greater(t, d99, 1e-5)
	}
}

func TestDiscreteGaussianBadInput(t *testing.T) {
	for _, sens := range []float64{0, 0.5, 1.5, math.NaN(), math.Inf(1), 1 << 54} {
		_, err := DiscreteGaussianDelta(1, 1, sens)
		assert.ErrorIs(t, err, ErrInvalidSensitivity, "sens %v", sens)
		_, err = DiscreteGaussianSigma(1, 1e-5, sens)
		assert.ErrorIs(t, err, ErrInvalidSensitivity, "sens %v", sens)
	}
	_, err := DiscreteGaussianDelta(0, 1, 1)
	assert.ErrorIs(t, err, ErrInvalidParameter)
	_, err = DiscreteGaussianDelta(1e-300, 1, 1)
	assert.ErrorIs(t, err, ErrInvalidParameter)
	// At the smallest σ the noise is almost surely 0: δ = 1, computed
	// without a hang.
	d, err := DiscreteGaussianDelta(0x1p-20, 1, 1)
	require.NoError(t, err)
	assert.InDelta(t, 1, d, 1e-12)
	_, err = DiscreteGaussianDelta(1, -1, 1)
	assert.ErrorIs(t, err, ErrInvalidEpsilon)
	_, err = DiscreteGaussianSigma(1, 0, 1)
	assert.ErrorIs(t, err, ErrInvalidDelta)
}

// TestGaussianMechanismInt64Calibrated: AddNoiseInt64 uses the exact
// discrete calibration: its σ meets δ by CKS20 Theorem 7 where the
// continuous σ does not, the zCDP form uses ⌈Δ⌉/√(2ρ), and the noise drawn
// has that standard deviation (20,000 draws: the sample standard deviation
// is within 3%, six standard errors, with probability > 1 - 1e-8).
func TestGaussianMechanismInt64Calibrated(t *testing.T) {
	m, err := NewGaussianMechanism(6, 1e-3, 1, WithSeedForTesting(3))
	require.NoError(t, err)
	s, err := m.SigmaInt64()
	require.NoError(t, err)
	d, _ := DiscreteGaussianDelta(s, 6, 1)
	assert.LessOrEqual(t, d, 1e-3)
	dc, _ := DiscreteGaussianDelta(m.Sigma(), 6, 1)
	assert.Greater(t, dc, 1e-3, "the continuous sigma should not meet delta here")

	m, err = NewGaussianMechanism(1, 1e-5, 1, WithSeedForTesting(4))
	require.NoError(t, err)
	s, err = m.SigmaInt64()
	require.NoError(t, err)
	const n = 20000
	var ss float64
	for range n {
		v, err := m.AddNoiseInt64(100)
		require.NoError(t, err)
		ss += float64(v-100) * float64(v-100)
	}
	assert.InEpsilon(t, s, math.Sqrt(ss/n), 0.03)

	z, err := NewGaussianMechanismZCDP(0.5, 1.5)
	require.NoError(t, err)
	s, err = z.SigmaInt64()
	require.NoError(t, err)
	assert.InEpsilon(t, 2/math.Sqrt(1), s, 1e-15) // ⌈1.5⌉ = 2, √(2·0.5) = 1

	big, err := NewGaussianMechanism(1, 1e-5, 1<<60)
	require.NoError(t, err)
	_, err = big.AddNoiseInt64(1)
	assert.True(t, errors.Is(err, ErrInvalidSensitivity), "%v", err)
}
