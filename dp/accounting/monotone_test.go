package accounting

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRDPEpsilonMonotone: over a grid of sampling rates (1e-4 to 1), noise
// multipliers (0.5 to 523458), steps (1 to 1e5) and δ (1e-5 to 1e-300), the
// RDP ε is finite, non-negative, at an order > 1, non-increasing in the
// noise and non-decreasing in the steps and the rate; every curve value of
// one step is non-negative, non-decreasing in the order and non-increasing
// in the noise. (Each RDP value is the least of several upper bounds, so
// these are properties the choice among them could break.)
func TestRDPEpsilonMonotone(t *testing.T) {
	qs := []float64{1e-4, 1e-3, 0.01, 0.1, 0.5, 1}
	sigmas := []float64{0.5, 0.7, 1, 1.5, 3, 10, 50, 1000, 523458}
	steps := []int{1, 10, 1000, 100000}
	type key struct {
		q, s float64
		n    int
	}
	for _, d := range []float64{1e-5, 1e-12, 1e-300} {
		eps := map[key]float64{}
		for _, q := range qs {
			for _, s := range sigmas {
				for _, n := range steps {
					e, o, err := PoissonGaussianEpsilon(q, s, n, d, RDPConfig{})
					require.NoError(t, err)
					require.True(t, e >= 0 && !math.IsInf(e, 0) && o > 1, "q %g sigma %g steps %d delta %g: eps %g order %g", q, s, n, d, e, o)
					eps[key{q, s, n}] = e
				}
			}
		}
		for k, e := range eps {
			for i, s := range sigmas[1:] {
				if k.s == sigmas[i] {
					assert.LessOrEqual(t, eps[key{k.q, s, k.n}], e, "delta %g: more noise %g raised eps at %+v", d, s, k)
				}
			}
			for i, n := range steps[1:] {
				if k.n == steps[i] {
					assert.GreaterOrEqual(t, eps[key{k.q, k.s, n}], e, "delta %g: more steps %d lowered eps at %+v", d, n, k)
				}
			}
			for i, q := range qs[1:] {
				if k.q == qs[i] {
					assert.GreaterOrEqual(t, eps[key{q, k.s, k.n}], e, "delta %g: rate %g lowered eps at %+v", d, q, k)
				}
			}
		}
	}
	for _, q := range qs {
		var prev []float64
		for _, s := range sigmas {
			a, err := NewRDPAccountant(RDPConfig{})
			require.NoError(t, err)
			require.NoError(t, a.Compose(PoissonSampled{Rate: q, Event: Gaussian{NoiseMultiplier: s}}))
			c, o := a.Curve(), a.Orders()
			for i := range c {
				require.False(t, math.IsNaN(c[i]) || c[i] < 0, "q %g sigma %g order %g: %g", q, s, o[i], c[i])
				if i > 0 {
					assert.GreaterOrEqual(t, c[i], c[i-1], "q %g sigma %g: curve falls from order %g to %g", q, s, o[i-1], o[i])
				}
				if prev != nil {
					assert.LessOrEqual(t, c[i], prev[i], "q %g sigma %g order %g: more noise raised the curve", q, s, o[i])
				}
			}
			prev = c
		}
	}
}

// TestPLDEpsilonMonotoneAndAboveExact: the PLD ε (coarse grid, 1e-2) is
// finite, non-decreasing in the steps, non-increasing in the noise, also
// beyond ε = 709 where e^-loss underflows; at rate 1 (the composition of
// plain Gaussians, whose exact ε is known) both PLD and RDP are at least
// the exact value.
func TestPLDEpsilonMonotoneAndAboveExact(t *testing.T) {
	cfg := PLDConfig{Interval: 1e-2}
	for _, d := range []float64{1e-5, 1e-12} {
		for _, q := range []float64{0.01, 0.5, 1} {
			prevSigma := map[int]float64{}
			for _, s := range []float64{0.6, 1, 2, 8} {
				prev := 0.0
				for _, n := range []int{1, 10, 100, 1000} {
					e, err := PoissonGaussianEpsilonPLD(q, s, n, d, cfg)
					require.NoError(t, err)
					require.False(t, math.IsNaN(e) || math.IsInf(e, 0) || e < 0, "q %g sigma %g steps %d: %g", q, s, n, e)
					assert.GreaterOrEqual(t, e, prev, "q %g sigma %g: more steps (%d) lowered eps", q, s, n)
					if p, ok := prevSigma[n]; ok {
						assert.LessOrEqual(t, e, p, "q %g sigma %g steps %d: more noise raised eps", q, s, n)
					}
					prevSigma[n], prev = e, e
					if q == 1 {
						exact, err := GaussianEpsilon(s/math.Sqrt(float64(n)), d)
						require.NoError(t, err)
						r, _, err := PoissonGaussianEpsilon(q, s, n, d, RDPConfig{})
						require.NoError(t, err)
						assert.GreaterOrEqual(t, e, exact*(1-1e-9), "PLD below exact: sigma %g steps %d delta %g", s, n, d)
						assert.GreaterOrEqual(t, r, exact*(1-1e-9), "RDP below exact: sigma %g steps %d delta %g", s, n, d)
					}
				}
			}
		}
	}
}
