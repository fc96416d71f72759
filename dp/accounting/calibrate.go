package accounting

import (
	"fmt"
	"math"
)

// CalibrateNoiseMultiplier returns the smallest noise multiplier σ (to a
// relative precision of 1e-6) with epsilonOf(σ) <= target, for an
// epsilonOf that does not increase with σ. The search brackets the answer by
// doubling and halving from σ = 1, then bisects in log σ; the returned σ is
// always one at which epsilonOf was evaluated and found <= target, so the
// guarantee holds exactly as computed, not up to the search tolerance.
// It returns [ErrNoSolution] if no σ in [1e-6, 1e6] reaches the target.
func CalibrateNoiseMultiplier(target float64, epsilonOf func(sigma float64) (float64, error)) (float64, error) {
	if err := checkPositive("target epsilon", target); err != nil {
		return 0, err
	}
	ok := func(s float64) (bool, error) {
		e, err := epsilonOf(s)
		if err != nil {
			return false, err
		}
		return e <= target, nil
	}
	const minSigma, maxSigma = 1e-6, 1e6
	hi := 1.0
	for {
		good, err := ok(hi)
		if err != nil {
			return 0, err
		}
		if good {
			break
		}
		hi *= 2
		if hi > maxSigma {
			return 0, fmt.Errorf("%w: epsilon stays above %v for noise multipliers up to %g", ErrNoSolution, target, maxSigma)
		}
	}
	lo := hi / 2
	for {
		good, err := ok(lo)
		if err != nil {
			return 0, err
		}
		if !good {
			break
		}
		hi, lo = lo, lo/2
		if lo < minSigma {
			return hi, nil
		}
	}
	for hi/lo-1 > 1e-6 {
		mid := math.Sqrt(lo * hi)
		good, err := ok(mid)
		if err != nil {
			return 0, err
		}
		if good {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// CalibratePoissonGaussian returns the smallest noise multiplier at which
// steps rounds of the Poisson-subsampled Gaussian with rate q are
// (targetEps, delta)-DP under the RDP accountant configured by cfg, and the
// ε it reaches (<= targetEps).
func CalibratePoissonGaussian(targetEps, q float64, steps int, delta float64, cfg RDPConfig) (sigma, eps float64, err error) {
	if err := checkPoissonGaussian(q, 1, steps, delta); err != nil {
		return 0, 0, err
	}
	sigma, err = CalibrateNoiseMultiplier(targetEps, func(s float64) (float64, error) {
		e, _, err := PoissonGaussianEpsilon(q, s, steps, delta, cfg)
		return e, err
	})
	if err != nil {
		return 0, 0, err
	}
	eps, _, err = PoissonGaussianEpsilon(q, sigma, steps, delta, cfg)
	return sigma, eps, err
}
