package accounting

import "math"

// This file bounds the RDP of the Gaussian mechanism on a sample drawn
// without replacement, under replace-one, following Theorem 27 of Wang, Balle
// and Kasiviswanathan (2019), "Subsampled Rényi differential privacy and
// analytical moments accountant" (AISTATS), in the form strengthened for the
// Gaussian with forward differences of exp((j-1)ε(j)). The result is an upper
// bound at every order; fractional orders interpolate the cumulant generating
// function (α-1)ε(α) linearly between neighbouring integers, which by its
// convexity is again an upper bound (their Corollary 10).

// worExactMaxOrder is the largest integer order evaluated with forward
// differences; above it the simpler term bound is used.
const worExactMaxOrder = 256

// signedLog is sign·exp(mag).
type signedLog struct {
	mag float64
	neg bool
}

// sub returns a - b.
func (a signedLog) sub(b signedLog) signedLog {
	switch {
	case a.neg == b.neg:
		// same sign: |a|-|b| with sign of a if |a|>|b|
		if a.mag >= b.mag {
			return signedLog{logSub(a.mag, b.mag), a.neg}
		}
		return signedLog{logSub(b.mag, a.mag), !a.neg}
	default:
		return signedLog{logAdd(a.mag, b.mag), a.neg}
	}
}

// worTable caches what the bound needs for one σ/Δ.
type worTable struct {
	s    float64
	logD []float64 // logD[k] = log|Δ^k h(0)|, h(x) = exp((x-1)·x/(2s²))
}

func newWORTable(s float64, n int) *worTable {
	vec := make([]signedLog, n+1)
	for x := 0; x <= n; x++ {
		fx := float64(x)
		vec[x] = signedLog{mag: (fx - 1) * fx / (2 * s * s)}
	}
	logD := make([]float64, n+1)
	logD[0] = vec[0].mag
	for k := 1; k <= n; k++ {
		for j := 0; j+k <= n; j++ {
			vec[j] = vec[j+1].sub(vec[j])
		}
		logD[k] = vec[0].mag
	}
	return &worTable{s: s, logD: logD}
}

// cgf returns (j-1)·ε(j) for the Gaussian, ε(j) = j/(2s²).
func (t *worTable) cgf(j float64) float64 { return (j - 1) * j / (2 * t.s * t.s) }

// logMoment returns the bound on (α-1)·ε'(α) at integer α >= 1 for rate q.
func (t *worTable) logMoment(q float64, alpha int) float64 {
	if alpha <= 1 {
		return 0
	}
	a := float64(alpha)
	lq := math.Log(q)
	e2 := 2 / (2 * t.s * t.s)
	la := 0.0
	lc := math.Log(a) // log C(α,1); advanced before use
	for j := 2; j <= alpha; j++ {
		fj := float64(j)
		lc += math.Log(a-fj+1) - math.Log(fj)
		var s float64
		if j == 2 {
			s = math.Min(math.Log(4)+logExpm1(e2), e2+math.Ln2)
		} else {
			s = math.Ln2 + t.cgf(fj)
			if alpha <= worExactMaxOrder && 2*((j+1)/2) < len(t.logD) {
				lo := t.logD[2*(j/2)]
				hi := t.logD[2*((j+1)/2)]
				s = math.Min(s, math.Log(4)+0.5*(lo+hi))
			}
		}
		la = logAdd(la, s+fj*lq+lc)
	}
	return la
}

// rdpWORGaussian returns the bound on the RDP at order alpha > 1.
func (t *worTable) rdp(q, alpha float64) float64 {
	if q == 1 {
		return rdpGaussian(t.s, alpha)
	}
	if math.IsInf(alpha, 1) {
		return math.Inf(1)
	}
	lo := math.Floor(alpha)
	if lo == alpha {
		return t.logMoment(q, int(alpha)) / (alpha - 1)
	}
	fr := alpha - lo
	x := t.logMoment(q, int(lo))
	y := t.logMoment(q, int(lo)+1)
	return ((1-fr)*x + fr*y) / (alpha - 1)
}

// worTableFor builds the table needed for the orders given.
func worTableFor(s float64, orders []float64) *worTable {
	n := 3
	for _, a := range orders {
		if !math.IsInf(a, 1) && a <= worExactMaxOrder {
			n = max(n, int(math.Ceil(a))+2)
		}
	}
	return newWORTable(s, n)
}
