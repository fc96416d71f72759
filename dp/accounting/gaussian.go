package accounting

import (
	"fmt"
	"math"

	"github.com/privml/privml/dp"
)

// GaussianDelta returns the exact δ(ε) of the Gaussian mechanism with noise
// multiplier s = σ/Δ (Balle and Wang 2018, Thm. 8):
//
//	δ = Φ(1/(2s) - εs) - e^ε Φ(-1/(2s) - εs).
//
// It is computed in log space, so it stays accurate where δ is tiny.
func GaussianDelta(s, eps float64) (float64, error) {
	if err := checkPositive("noise multiplier", s); err != nil {
		return 0, err
	}
	if err := checkNonNegative("epsilon", eps); err != nil {
		return 0, err
	}
	return gaussianDelta(s, eps), nil
}

func gaussianDelta(s, eps float64) float64 {
	a := logNormCDF(1/(2*s) - eps*s)
	b := eps + logNormCDF(-1/(2*s)-eps*s)
	return math.Exp(logSub(a, b))
}

// GaussianEpsilon returns the exact smallest ε such that the Gaussian
// mechanism with noise multiplier s is (ε, delta)-DP (the inverse of
// [GaussianDelta], by bisection to 1e-12 relative; the returned ε satisfies
// GaussianDelta(s, ε) <= delta).
func GaussianEpsilon(s, delta float64) (float64, error) {
	if err := checkPositive("noise multiplier", s); err != nil {
		return 0, err
	}
	if err := checkDelta("delta", delta); err != nil {
		return 0, err
	}
	if gaussianDelta(s, 0) <= delta {
		return 0, nil
	}
	hi := 1.0
	for gaussianDelta(s, hi) > delta {
		hi *= 2
		if hi > 1e12 {
			return 0, fmt.Errorf("%w: epsilon of the Gaussian with noise multiplier %v at delta %v exceeds 1e12", ErrNoSolution, s, delta)
		}
	}
	lo := 0.0
	for hi-lo > 1e-12*hi {
		mid := (lo + hi) / 2
		if gaussianDelta(s, mid) > delta {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// AnalyticGaussianSigma returns the smallest noise standard deviation σ at
// which one release of the Gaussian mechanism with L2 sensitivity l2 is
// (eps, delta)-DP: the analytic Gaussian mechanism of Balle and Wang 2018.
// It is [dp.GaussianSigma] (bisection on the exact δ in log space, rounded
// so that the guarantee holds), with errors wrapped in [ErrInvalidParameter].
func AnalyticGaussianSigma(eps, delta, l2 float64) (float64, error) {
	if err := checkPositive("epsilon", eps); err != nil {
		return 0, err
	}
	if err := checkDelta("delta", delta); err != nil {
		return 0, err
	}
	if err := checkPositive("L2 sensitivity", l2); err != nil {
		return 0, err
	}
	s, err := dp.GaussianSigma(eps, delta, l2)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidParameter, err)
	}
	return s, nil
}
