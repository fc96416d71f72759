package dp

import (
	"math"
)

// This file calibrates the discrete Gaussian on the integers for (ε, δ)-DP
// exactly, with the privacy profile of Canonne, Kamath and Steinke 2020
// (CKS20), Theorem 7: for Z ~ N_ℤ(0, σ²) and integer sensitivity Δ, x + Z is
// (ε, δ)-DP with
//
//	δ = P[Z > t] - e^ε·P[Z > t + Δ],   t = εσ²/Δ - Δ/2,
//
// and no smaller δ (the bound is tight for integer Δ).

// maxDirectTerms bounds the number of terms summed one by one; beyond it
// (σ above a few thousand) the tail sum is bounded by an integral.
const maxDirectTerms = 1 << 16

// logDiscreteGaussianDelta returns log δ of CKS20 Theorem 7 (an upper bound
// on it, within float64 rounding, where the sum is replaced by an integral).
//
// With m the smallest integer above t, the difference of the two tails is
// one sum of non-negative terms, since e^ε·e^{-(z+Δ)²/(2σ²)} =
// e^{-z²/(2σ²)}·e^{-Δ(z-t)/σ²}:
//
//	δ·N = Σ_{z≥m} g(z),   g(z) = e^{-z²/(2σ²)}·(1 - e^{-Δ(z-t)/σ²}),
//
// with N = Σ_{z∈ℤ} e^{-z²/(2σ²)} the total mass. No term cancels another,
// so the sum is accurate to a few ulps per term, in log space.
func logDiscreteGaussianDelta(sigma, epsilon, sens float64) float64 {
	s2 := sigma * sigma
	t := epsilon*s2/sens - sens/2
	m := math.Floor(t) + 1
	logg := func(z float64) float64 {
		return -z*z/(2*s2) + math.Log(-math.Expm1(-sens*(z-t)/s2))
	}
	var num float64
	if z0 := math.Max(m, 0); (z0-m)+12*sigma+2 <= maxDirectTerms {
		num = logTailSum(logg, m, sigma)
	} else {
		num = logTailIntegralBound(m, t, sigma, epsilon, sens)
	}
	return num - logDiscreteGaussianMass(sigma)
}

// logTailSum returns log Σ_{z≥m} exp(logg(z)) for g(z) <= e^{-z²/(2σ²)},
// summing term by term until the rest, bounded by the Gaussian tail
// e^{-(Z+1)²/(2σ²)}/(1 - e^{-(2Z+3)/(2σ²)}) past the last term Z >= 0, is
// below e^-60 of the sum; that bound is then added, so the result is not
// below the sum.
func logTailSum(logg func(float64) float64, m, sigma float64) float64 {
	s2 := sigma * sigma
	acc := newLogAcc()
	// The tail bound holds past any Z >= 0, so stopping early by the
	// iteration cap still gives an upper bound.
	for z, i := m, 0; ; z, i = z+1, i+1 {
		acc.add(logg(z))
		if z < 0 {
			continue
		}
		next := z + 1
		tail := -next*next/(2*s2) - math.Log(-math.Expm1(-(2*next+1)/(2*s2)))
		if tail < acc.log()-60 || i > 4*maxDirectTerms {
			acc.add(tail)
			return acc.log()
		}
	}
}

// logTailIntegralBound bounds log Σ_{z≥m} g(z) for large σ. On [t, ∞) g is
// log-concave (a Gaussian times 1 - e^{-u}, u linear), hence unimodal, so
// the sum is at most ∫_m^∞ g + max g. The integral is
// σ√(2π)·(Q(m/σ) - e^ε·Q((m+Δ)/σ)), Q the standard normal upper tail; and
// as 1 - e^{-u} <= u, g(z) <= e^{-z²/(2σ²)}·Δ(z-t)/σ², whose log is concave
// with its maximum where z(z-t) = σ².
func logTailIntegralBound(m, t, sigma, epsilon, sens float64) float64 {
	l1 := logPhi(-m / sigma)
	l2 := epsilon + logPhi(-(m+sens)/sigma)
	acc := newLogAcc()
	if l2 < l1 {
		acc.add(0.5*math.Log(2*math.Pi) + math.Log(sigma) + l1 + log1mExp(l2-l1))
	}
	s2 := sigma * sigma
	z := (t + math.Sqrt(t*t+4*s2)) / 2
	acc.add(math.Min(0, -z*z/(2*s2)+math.Log(z-t)+math.Log(sens/s2)))
	return acc.log()
}

// log1mExp returns log(1 - e^x) for x < 0.
func log1mExp(x float64) float64 {
	if x > -math.Ln2 {
		return math.Log(-math.Expm1(x))
	}
	return math.Log1p(-math.Exp(x))
}

// logDiscreteGaussianMass returns log Σ_{z∈ℤ} e^{-z²/(2σ²)}: summed directly
// for σ < 1, and for σ >= 1 by the Poisson summation (Jacobi theta)
// identity Σ_z e^{-z²/(2σ²)} = σ√(2π)·Σ_k e^{-2π²σ²k²}, whose terms fall
// below e^-19 of the first at k = 1.
func logDiscreteGaussianMass(sigma float64) float64 {
	acc := newLogAcc()
	if sigma < 1 {
		acc.add(0)
		for z := 1.0; ; z++ {
			l := math.Ln2 - z*z/(2*sigma*sigma)
			acc.add(l)
			if l < acc.log()-60 {
				return acc.log()
			}
		}
	}
	acc.add(0)
	for k := 1.0; ; k++ {
		l := math.Ln2 - 2*math.Pi*math.Pi*sigma*sigma*k*k
		acc.add(l)
		if l < -60 {
			break
		}
	}
	return math.Log(sigma) + 0.5*math.Log(2*math.Pi) + acc.log()
}

// logAcc accumulates Σ exp(x_i) against a running maximum.
type logAcc struct{ ref, sum float64 }

func newLogAcc() logAcc { return logAcc{ref: math.Inf(-1)} }

func (l *logAcc) add(x float64) {
	switch {
	case math.IsInf(x, -1) || math.IsNaN(x):
	case x > l.ref:
		l.sum = l.sum*math.Exp(l.ref-x) + 1
		l.ref = x
	default:
		l.sum += math.Exp(x - l.ref)
	}
}

func (l *logAcc) log() float64 {
	if l.sum == 0 {
		return math.Inf(-1)
	}
	return l.ref + math.Log(l.sum)
}

// checkIntSensitivity accepts an integer sensitivity in [1, 2^53].
func checkIntSensitivity(name string, v float64) error {
	if !(v >= 1 && v <= 1<<53) || v != math.Trunc(v) {
		return paramErr(ErrInvalidSensitivity, name, v, "must be an integer in [1, 2^53]")
	}
	return nil
}

// DiscreteGaussianDelta returns the smallest δ for which adding discrete
// Gaussian noise N_ℤ(0, sigma²) (sigma in the integer sampler's range
// [2^-20, 2^50]) to an integer query of sensitivity
// sensitivity (an integer >= 1) is (epsilon, δ)-DP: CKS20, Theorem 7,
// computed as a sum of non-negative terms in log space (for sigma above a
// few thousand, an upper bound by an integral, within a relative 2e-4 of
// the sum). Epsilon may be 0.
func DiscreteGaussianDelta(sigma, epsilon, sensitivity float64) (float64, error) {
	if err := checkIntParam("sigma", sigma); err != nil {
		return 0, err
	}
	if !finite(epsilon) || epsilon < 0 {
		return 0, paramErr(ErrInvalidEpsilon, "epsilon", epsilon, "must be finite and >= 0")
	}
	if err := checkIntSensitivity("sensitivity", sensitivity); err != nil {
		return 0, err
	}
	return math.Min(1, math.Exp(logDiscreteGaussianDelta(sigma, epsilon, sensitivity))), nil
}

// DiscreteGaussianSigma returns a σ for which discrete Gaussian noise
// N_ℤ(0, σ²) on an integer query of sensitivity sensitivity (an integer
// >= 1) is (epsilon, delta)-DP by the exact profile of CKS20, Theorem 7
// ([DiscreteGaussianDelta] at σ is at most delta). It is found by
// bisection, to a relative 1e-10, between a σ whose δ exceeds delta and
// one 1% larger whose δ meets it, found by walking down in steps of 1% from
// the first σ at or above the continuous calibration ([GaussianSigma]) that
// meets delta. For σ below about Δ the exact δ is not monotone in σ, and
// isolated intervals of smaller σ may meet delta as well (at ε = 6,
// δ = 1e-3, Δ = 1 one lies just below σ = 0.5, while δ exceeds 1e-3 at
// σ = 0.6); the walk stops at the first failure, so those are not returned.
func DiscreteGaussianSigma(epsilon, delta, sensitivity float64) (float64, error) {
	if err := checkIntSensitivity("sensitivity", sensitivity); err != nil {
		return 0, err
	}
	cont, err := GaussianSigma(epsilon, delta, sensitivity)
	if err != nil {
		return 0, err
	}
	target := math.Log(delta)
	meets := func(s float64) bool { return logDiscreteGaussianDelta(s, epsilon, sensitivity) <= target }
	hi := cont
	for !meets(hi) {
		hi *= 1.01
		if hi > 1e300 {
			return 0, paramErr(ErrInvalidParameter, "delta", delta, "too small for epsilon to be reachable")
		}
	}
	lo := hi / 1.01
	for meets(lo) {
		hi, lo = lo, lo/1.01
		if lo < minParam {
			return hi, nil
		}
	}
	for hi-lo > hi*1e-10 {
		mid := lo + (hi-lo)/2
		if meets(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}
