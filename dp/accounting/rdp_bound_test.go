package accounting

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refLogABinomial is an independent reference for log A_α of the
// Poisson-subsampled Gaussian where A_α - 1 is tiny: expanding
// ((1-q) + q e^Y)^α = (1 + q(e^Y - 1))^α binomially in q,
//
//	A_α - 1 = Σ_{k>=2} C(α,k) q^k M_k,   M_k = E[(e^Y - 1)^k]
//	        = Σ_j C(k,j) (-1)^{k-j} expm1((j²-j)/(2s²)),
//
// (Y = (2z-1)/(2s²), z ~ N(0, s²), E[e^{jY}] = e^{(j²-j)/(2s²)}; the k = 1
// term vanishes). At an integer order the sum is finite and taken whole
// (its last terms, q^α·e^{(α²-α)/(2s²)}, can matter); at a fractional order
// it is summed until its terms stop decreasing (it is asymptotic when s is
// small, and accurate here while its smallest term is negligible).
func refLogABinomial(q, s, alpha float64) float64 {
	var sum float64
	ck := alpha * (alpha - 1) / 2 // C(α, 2)
	prev := math.Inf(1)
	integer := alpha == math.Trunc(alpha)
	for k := 2; k <= 60; k++ {
		if integer && float64(k) > alpha {
			break
		}
		if k > 2 {
			ck *= (alpha - float64(k) + 1) / float64(k)
		}
		var mk float64
		cj := 1.0 // C(k, j)
		for j := 0; j <= k; j++ {
			if j > 0 {
				cj *= float64(k-j+1) / float64(j)
			}
			sign := 1.0
			if (k-j)%2 == 1 {
				sign = -1
			}
			fj := float64(j)
			mk += sign * cj * math.Expm1((fj*fj-fj)/(2*s*s))
		}
		term := ck * math.Pow(q, float64(k)) * mk
		if !integer && (math.Abs(term) > prev || math.Abs(term) < 1e-20*math.Abs(sum)) {
			break
		}
		sum += term
		prev = math.Abs(term)
	}
	return math.Log1p(sum)
}

// TestRDPUpperBoundTinyValues: where the RDP of the subsampled Gaussian is
// tiny the signed fractional series loses A_α - 1 to cancellation (at
// q = 1e-4, σ = 10, α = 1.1 it came out 1.7e-5 below the true value; at
// q = 0.01, σ = 523458, α = 1.6 it was negative). Every value must now be
// at least the reference (an upper bound, up to the reference's own
// rounding of 1e-12) and within a relative 1e-6 of it.
func TestRDPUpperBoundTinyValues(t *testing.T) {
	for _, c := range []struct{ q, s, a float64 }{
		{1e-4, 10, 1.1},
		{0.01, 523458, 1.6},
		{0.01, 400000, 1.6},
		{0.01, 523458, 2},
		{1e-4, 1, 1.5},
		{1e-6, 1, 27},
		{1e-3, 1, 2},
		{1e-5, 100, 3.7},
		{1e-3, 30, 10.9},
	} {
		want := refLogABinomial(c.q, c.s, c.a)
		require.Greater(t, want, 0.0)
		got := newSGM(c.q, c.s).rdp(c.a) * (c.a - 1)
		assert.GreaterOrEqual(t, got, want*(1-1e-12), "q=%g s=%g alpha=%g: below the reference", c.q, c.s, c.a)
		assert.InEpsilon(t, want, got, 1e-6, "q=%g s=%g alpha=%g", c.q, c.s, c.a)
	}
}

// TestRDPExtremeDelta: σ = 523458, q = 0.01, 1000 steps, δ = 1e-300 gave
// ε = 0 at order 1.6 (the curve there was -1.08e-13) while σ = 400000 gives
// 0.6675. The curve must be positive at every order, and ε at most the
// value at the smaller σ and close to it.
func TestRDPExtremeDelta(t *testing.T) {
	eps := func(sigma float64) (float64, float64) {
		a, err := NewRDPAccountant(RDPConfig{})
		require.NoError(t, err)
		require.NoError(t, a.Compose(SelfComposed{Event: PoissonSampled{Rate: 0.01, Event: Gaussian{NoiseMultiplier: sigma}}, Count: 1000}))
		for i, r := range a.Curve() {
			require.Greater(t, r, 0.0, "order %g", a.Orders()[i])
		}
		e, order, err := a.Epsilon(1e-300)
		require.NoError(t, err)
		return e, order
	}
	e1, o1 := eps(523458)
	e0, _ := eps(400000)
	assert.InDelta(t, 0.6675, e0, 5e-5)
	// At δ = 1e-300 ε is almost all conversion term (log(1/δ)/(α-1) at the
	// largest order); the noise only adds to it.
	assert.InDelta(t, e0, e1, 1e-4)
	assert.LessOrEqual(t, e1, e0)
	t.Logf("sigma 523458: epsilon %.6g at order %g; sigma 400000: %.6g", e1, o1, e0)
}

// TestPureRDPSmallEpsilon: the closed forms of the pure-DP, Laplace and
// randomized-response curves cancel to 0 or below the truth for tiny ε
// (rdpPure(1e-9, 2) was 0). Each must be positive and at least its leading
// term αε²/2·(1 - αε²) (the truth is αε²/2·(1 - O(αε²))) and at most αε²/2,
// the zCDP bound of any ε-DP mechanism.
func TestPureRDPSmallEpsilon(t *testing.T) {
	for _, eps := range []float64{1e-5, 1e-7, 1e-9, 1e-11, 1e-13} {
		for _, a := range []float64{1.1, 2, 32, 1024} {
			// binary randomized response keeping the truth with
			// probability 1 - p/2 is l-DP with l = log(2/p - 1); p is
			// chosen for l near ε and l taken as float64 gives it.
			p := 2 / (1 + math.Exp(eps))
			l := math.Log(2/p - 1)
			for name, c := range map[string][2]float64{
				"pure":    {rdpPure(eps, a), eps},
				"laplace": {rdpLaplace(eps, a), eps},
				"rr":      {rdpRandomizedResponse(p, 2, a), l},
			} {
				v, e := c[0], c[1]
				hi := a * e * e / 2
				lo := hi * (1 - a*e*e)
				if hi >= 1e-6 {
					continue
				}
				assert.GreaterOrEqual(t, v, lo, "%s eps=%g alpha=%g", name, eps, a)
				assert.LessOrEqual(t, v, hi*(1+1e-12), "%s eps=%g alpha=%g", name, eps, a)
			}
		}
	}
}

// TestRDPUpperBoundGrid: over a grid of small rates, noise multipliers from
// 2 to 1e5 and fractional orders, log A_α is never below the binomial
// reference (beyond its own rounding, 1e-11) and at most 1e-6 above it.
func TestRDPUpperBoundGrid(t *testing.T) {
	worst := 0.0
	for _, q := range []float64{1e-6, 1e-4, 1e-3} {
		for _, s := range []float64{2, 5, 30, 1e3, 1e5} {
			g := newSGM(q, s)
			for _, a := range []float64{1.05, 1.3, 2.5, 7.7, 20.5} {
				want := refLogABinomial(q, s, a)
				got := g.rdp(a) * (a - 1)
				assert.GreaterOrEqual(t, got, want*(1-1e-11), "q=%g s=%g alpha=%g", q, s, a)
				assert.InEpsilon(t, want, got, 1e-6, "q=%g s=%g alpha=%g", q, s, a)
				worst = math.Max(worst, got/want-1)
			}
		}
	}
	t.Logf("largest relative excess over the reference: %.3g", worst)
}
