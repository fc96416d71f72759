package accounting

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quadRDP returns the RDP at order a of the Poisson-subsampled Gaussian
// (rate q, noise multiplier s), log(A)/(a-1) with
// A - 1 = E_{x~N(0,s²)}[(1+u)^a - 1 - a·u], u = q·(e^{(2x-1)/(2s²)} - 1)
// (Mironov, Talwar and Zhang 2019; E[u] = 0, so the linear term drops and
// the integrand is non-negative), by composite Simpson's rule over
// [-40s, 40s + 2a] with 400 steps per s: independent of the package's
// series, integral and interpolation.
func quadRDP(q, s, a float64) float64 {
	lo, hi := -40*s, 40*s+2*a
	n := int(math.Ceil((hi-lo)/s*400)) | 1
	n++ // even number of intervals
	h := (hi - lo) / float64(n)
	f := func(x float64) float64 {
		u := q * math.Expm1((2*x-1)/(2*s*s))
		logDensity := -x*x/(2*s*s) - math.Log(s*math.Sqrt(2*math.Pi))
		if l := a * math.Log1p(u); l > 600 { // (1+u)^a dominates; avoid overflow
			return math.Exp(l + logDensity)
		}
		g := math.Expm1(a*math.Log1p(u)) - a*u
		return g * math.Exp(logDensity)
	}
	sum := f(lo) + f(hi)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		sum += w * f(lo+float64(i)*h)
	}
	am1 := sum * h / 3
	return math.Log1p(am1) / (a - 1)
}

// TestRDPAboveIndependentQuadrature: at fractional and integer orders, for
// rates down to 1e-5 and noise up to 1e3 (values down to about 1e-16),
// the accountant's RDP is at least an independent quadrature (to its
// relative accuracy, 1e-7) and not far above it (within 1%).
func TestRDPAboveIndependentQuadrature(t *testing.T) {
	orders := []float64{1.1, 1.25, 1.6, 2, 2.5, 3.3, 5, 7.5, 10}
	for _, q := range []float64{1e-5, 1e-4, 0.01, 0.2} {
		for _, s := range []float64{0.8, 2, 10, 1000} {
			a, err := NewRDPAccountant(RDPConfig{Orders: orders})
			require.NoError(t, err)
			require.NoError(t, a.Compose(PoissonSampled{Rate: q, Event: Gaussian{NoiseMultiplier: s}}))
			for i, r := range a.Curve() {
				want := quadRDP(q, s, orders[i])
				require.False(t, math.IsNaN(want) || want <= 0, "quadrature q %g s %g a %g: %g", q, s, orders[i], want)
				assert.GreaterOrEqual(t, r, want*(1-1e-7), "q %g sigma %g order %g: RDP below the quadrature", q, s, orders[i])
				assert.LessOrEqual(t, r, want*1.01, "q %g sigma %g order %g: RDP %g far above %g", q, s, orders[i], r, want)
			}
		}
	}
}
