package dp

import "math"

// logPhi returns log Φ(z) for the standard normal CDF Φ, accurate to a few
// ulps for all z: log1p of the complement for z > 0, math.Erfc in the middle
// and, below z = -37 where Erfc underflows, the asymptotic series
// Φ(z) = φ(z)/|z| · Σ_k (-1)^k (2k-1)!!/z^(2k) (Abramowitz and Stegun 26.2.12).
func logPhi(z float64) float64 {
	switch {
	case z > 0:
		return math.Log1p(-0.5 * math.Erfc(z/math.Sqrt2))
	case z > -37:
		return math.Log(0.5 * math.Erfc(-z/math.Sqrt2))
	case math.IsInf(z, -1):
		return math.Inf(-1)
	}
	iz2 := 1 / (z * z)
	// 1 - 1/z² + 3/z⁴ - 15/z⁶ + ..., ten terms: the next is below 1e-24.
	s, term := 1.0, 1.0
	for k := 1; k <= 10; k++ {
		term *= -float64(2*k-1) * iz2
		s += term
	}
	return -z*z/2 - math.Log(-z) - 0.5*math.Log(2*math.Pi) + math.Log(s)
}

// logGaussianDelta returns log δ for the Gaussian mechanism with noise σ,
// L2 sensitivity Δ and privacy parameter ε, using the tight formula of
// Balle and Wang (2018, Theorem 8):
//
//	δ = Φ(Δ/(2σ) - εσ/Δ) - e^ε Φ(-Δ/(2σ) - εσ/Δ),
//
// evaluated as log Φ(a-b) + log(1 - exp(ε + log Φ(-a-b) - log Φ(a-b))) so
// that deltas far below the float64 range stay accurate.
func logGaussianDelta(sigma, epsilon, l2 float64) float64 {
	a := l2 / (2 * sigma)
	b := epsilon * sigma / l2
	l1 := logPhi(a - b)
	l2v := logPhi(-a - b)
	x := epsilon + l2v - l1 // < 0
	if x >= 0 {
		return math.Inf(-1)
	}
	// log(1 - e^x) accurately for x near 0 and for x very negative.
	var lg float64
	if x > -math.Ln2 {
		lg = math.Log(-math.Expm1(x))
	} else {
		lg = math.Log1p(-math.Exp(x))
	}
	return l1 + lg
}

// GaussianDelta returns the smallest δ for which adding Gaussian noise of
// standard deviation sigma to a query of L2 sensitivity l2Sensitivity is
// (epsilon, δ)-differentially private (Balle and Wang 2018, Theorem 8),
// computed in log space. Epsilon may be 0 here.
func GaussianDelta(sigma, epsilon, l2Sensitivity float64) (float64, error) {
	if err := checkPositive("sigma", sigma); err != nil {
		return 0, err
	}
	if !finite(epsilon) || epsilon < 0 {
		return 0, paramErr(ErrInvalidEpsilon, "epsilon", epsilon, "must be finite and >= 0")
	}
	if err := checkSensitivity("l2Sensitivity", l2Sensitivity); err != nil {
		return 0, err
	}
	return math.Exp(logGaussianDelta(sigma, epsilon, l2Sensitivity)), nil
}

// GaussianSigma returns the smallest standard deviation σ (to within a
// relative 2^-45, always rounded so that the guarantee holds) such that
// Gaussian noise of that σ on a query of L2 sensitivity l2Sensitivity is
// (epsilon, delta)-differentially private, by bisection on the analytic
// formula of Balle and Wang (2018) in log space. It is the continuous
// calibration; the discrete Gaussian on a fine grid meets it (see the
// package documentation).
func GaussianSigma(epsilon, delta, l2Sensitivity float64) (float64, error) {
	if err := checkEpsilon("epsilon", epsilon); err != nil {
		return 0, err
	}
	if err := checkDelta("delta", delta); err != nil {
		return 0, err
	}
	if err := checkSensitivity("l2Sensitivity", l2Sensitivity); err != nil {
		return 0, err
	}
	// δ(σ) depends on σ/Δ only; work with Δ = 1 and scale at the end.
	target := math.Log(delta)
	lo, hi := 0.0, 1.0
	for logGaussianDelta(hi, epsilon, 1) > target {
		lo, hi = hi, hi*2
		if hi > 1e300 {
			return 0, paramErr(ErrInvalidParameter, "delta", delta, "too small for epsilon to be reachable")
		}
	}
	for hi-lo > hi*0x1p-45 {
		mid := lo + (hi-lo)/2
		if logGaussianDelta(mid, epsilon, 1) > target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return roundUp(hi * l2Sensitivity), nil
}

// GaussianSigmaZCDP returns σ = Δ/√(2ρ), the standard deviation for which
// Gaussian noise (continuous, or discrete as shown by CKS20) on a query of
// L2 sensitivity Δ is ρ-zCDP (Bun and Steinke 2016).
func GaussianSigmaZCDP(rho, l2Sensitivity float64) (float64, error) {
	if err := checkPositive("rho", rho); err != nil {
		return 0, err
	}
	if err := checkSensitivity("l2Sensitivity", l2Sensitivity); err != nil {
		return 0, err
	}
	return roundUp(l2Sensitivity / math.Sqrt(2*rho)), nil
}

// LaplaceScale returns the scale b = Δ/ε (rounded up) for which Laplace
// (or discrete Laplace) noise on a query of L1 sensitivity Δ is
// epsilon-differentially private.
func LaplaceScale(epsilon, l1Sensitivity float64) (float64, error) {
	if err := checkEpsilon("epsilon", epsilon); err != nil {
		return 0, err
	}
	if err := checkSensitivity("l1Sensitivity", l1Sensitivity); err != nil {
		return 0, err
	}
	return roundUp(l1Sensitivity / epsilon), nil
}

// roundUp moves v up by two ulps, enough to absorb the rounding of one or
// two float64 operations so that calibrated noise is never too small.
func roundUp(v float64) float64 {
	return math.Nextafter(math.Nextafter(v, math.Inf(1)), math.Inf(1))
}
