package dp

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hockeyStick returns the (ε, δ) hockey-stick divergence of N_ℤ(s, σ²)
// from N_ℤ(0, σ²), straight from the definition
// δ = Σ_y max(0, p(y) - e^ε·p(y - s)), summed over |y| <= K in float64 with
// the normaliser summed the same way. It shares nothing with the package's
// code (no tail formula, no log space, no theta function).
func hockeyStick(sigma, eps float64, s int) float64 {
	k := math.Ceil(40*sigma + float64(s) + eps*sigma*sigma + 50)
	var mass, d float64
	e := math.Exp(eps)
	w := func(y float64) float64 { return math.Exp(-y * y / (2 * sigma * sigma)) }
	for y := -k; y <= k; y++ {
		p := w(y)
		mass += p
		if v := p - e*w(y-float64(s)); v > 0 {
			d += v
		}
	}
	return d / mass
}

// TestDiscreteGaussianSigmaMeetsDeltaByDefinition: over a grid of ε from
// 5e-4 to 20, δ from 1e-2 to 1e-9 and Δ from 1 to 5, the σ of
// DiscreteGaussianSigma keeps the divergence of every shift 1..Δ (not only
// Δ, which CKS20 Theorem 7 says is the worst) within δ, up to the float64
// error of the plain sum (relative 1e-9).
func TestDiscreteGaussianSigmaMeetsDeltaByDefinition(t *testing.T) {
	type tc struct{ eps, delta, sens float64 }
	var cases []tc
	for _, eps := range []float64{0.05, 0.3, 1, 3, 8, 20} {
		for _, delta := range []float64{1e-2, 1e-5, 1e-9} {
			for _, sens := range []float64{1, 2, 5} {
				cases = append(cases, tc{eps, delta, sens})
			}
		}
	}
	// Tiny ε: σ from 363 to 38,000, the last two past the direct-sum limit
	// (the integral bound path).
	cases = append(cases, tc{5e-4, 1e-6, 1}, tc{2e-4, 1e-3, 1}, tc{1e-4, 1e-5, 1}, tc{1e-6, 1e-5, 1})
	for _, c := range cases {
		sigma, err := DiscreteGaussianSigma(c.eps, c.delta, c.sens)
		require.NoError(t, err, "%+v", c)
		worst := 0.0
		for s := 1; s <= int(c.sens); s++ {
			worst = max(worst, hockeyStick(sigma, c.eps, s))
		}
		assert.LessOrEqual(t, worst, c.delta*(1+1e-9), "%+v: sigma %g gives delta %g", c, sigma, worst)
		// Not wildly conservative either: 2% less noise misses δ, or the
		// profile is in its non-monotone small-σ region.
		if sigma > c.sens {
			assert.Greater(t, hockeyStick(sigma*0.98, c.eps, int(c.sens)), c.delta, "%+v: sigma %g is loose", c, sigma)
		}
	}
}

// TestGaussianMechanismInt64NonIntegerSensitivity: an L2 sensitivity of 2.5
// is calibrated as ⌈2.5⌉ = 3, and the noise meets δ for shifts 1..3.
func TestGaussianMechanismInt64NonIntegerSensitivity(t *testing.T) {
	m, err := NewGaussianMechanism(2, 1e-6, 2.5)
	require.NoError(t, err)
	got, err := m.SigmaInt64()
	require.NoError(t, err)
	want, err := DiscreteGaussianSigma(2, 1e-6, 3)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	for s := 1; s <= 3; s++ {
		assert.LessOrEqual(t, hockeyStick(got, 2, s), 1e-6*(1+1e-9), "shift %d", s)
	}
	// A sensitivity just above an integer rounds up.
	m, err = NewGaussianMechanism(2, 1e-6, math.Nextafter(1, 2))
	require.NoError(t, err)
	got, err = m.SigmaInt64()
	require.NoError(t, err)
	want, _ = DiscreteGaussianSigma(2, 1e-6, 2)
	assert.Equal(t, want, got)
}

// TestAddNoiseInt64DrawsFromSigmaInt64: at ε = 6, δ = 1e-3, Δ = 1 the
// discrete σ (0.631) and the continuous one differ enough that the
// frequency of zero noise tells them apart. With 100,000 draws the
// frequency is within 5 standard errors (< 0.0016) of P(Z = 0) under
// SigmaInt64 (false failure < 1e-6), while the two P(Z = 0) differ by more
// than 0.02.
func TestAddNoiseInt64DrawsFromSigmaInt64(t *testing.T) {
	m, err := NewGaussianMechanism(6, 1e-3, 1, WithSeedForTesting(11))
	require.NoError(t, err)
	si, err := m.SigmaInt64()
	require.NoError(t, err)
	p0 := func(sigma float64) float64 {
		var mass float64
		for z := -60.0; z <= 60; z++ {
			mass += math.Exp(-z * z / (2 * sigma * sigma))
		}
		return 1 / mass
	}
	want, other := p0(si), p0(m.Sigma())
	require.Greater(t, math.Abs(want-other), 0.02, "sigmas %g and %g too close for this test", si, m.Sigma())
	const n = 100000
	zeros := 0
	for range n {
		v, err := m.AddNoiseInt64(7)
		require.NoError(t, err)
		if v == 7 {
			zeros++
		}
	}
	se := math.Sqrt(want * (1 - want) / n)
	assert.InDelta(t, want, float64(zeros)/n, 5*se)
}

// TestDiscreteGaussianExtremeEpsilon: very large and very small ε give a σ
// in the sampler's range or a clear error, never NaN, zero or a panic.
func TestDiscreteGaussianExtremeEpsilon(t *testing.T) {
	for _, c := range []struct{ eps, delta float64 }{
		{50, 1e-5}, {300, 1e-5}, {700, 0.5}, {1e-6, 1e-5}, {1e-9, 1e-5}, {1, 1e-300}, {1, 0.999},
	} {
		s, err := DiscreteGaussianSigma(c.eps, c.delta, 1)
		if err != nil {
			t.Logf("%+v: %v", c, err)
			continue
		}
		require.False(t, math.IsNaN(s) || s <= 0 || math.IsInf(s, 0), "%+v: sigma %v", c, s)
		if s < minParam || s > maxParam {
			m, err := NewGaussianMechanism(c.eps, c.delta, 1)
			if err == nil {
				_, err = m.AddNoiseInt64(0)
				assert.Error(t, err, "%+v: sigma %g outside the sampler's range must be an error", c, s)
			}
			continue
		}
		d, err := DiscreteGaussianDelta(s, c.eps, 1)
		require.NoError(t, err)
		assert.LessOrEqual(t, d, c.delta, "%+v: sigma %g", c, s)
		if s < 2000 && c.delta > 1e-200 {
			assert.LessOrEqual(t, hockeyStick(s, c.eps, 1), c.delta*(1+1e-9), "%+v: sigma %g", c, s)
		}
	}
}
