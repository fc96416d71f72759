package federated

import (
	"fmt"
	"math"

	"github.com/privml/privml/dp/accounting"
)

// DPMode is the kind of client-level differential privacy of a run.
type DPMode uint8

const (
	// DPNone trains without differential privacy.
	DPNone DPMode = iota
	// DPCentral is DP-FedAvg (McMahan et al. 2018): clients clip their
	// updates, the server adds Gaussian noise to the sum after
	// aggregation (it sees the noiseless sum: it is trusted).
	DPCentral
	// DPDistributed is the distributed discrete Gaussian mechanism
	// (Kairouz, Liu and Steinke 2021): each client adds discrete Gaussian
	// noise to its encoded update before masking, so that the unmasked
	// sum the server sees is already noised. Needs secure aggregation.
	DPDistributed
)

func (m DPMode) String() string {
	switch m {
	case DPNone:
		return "none"
	case DPCentral:
		return "central"
	case DPDistributed:
		return "distributed"
	}
	return fmt.Sprintf("DPMode(%d)", uint8(m))
}

// ParseDPMode parses "none", "central" or "distributed".
func ParseDPMode(s string) (DPMode, error) {
	for _, m := range []DPMode{DPNone, DPCentral, DPDistributed} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: DP mode %q, want none, central or distributed", ErrConfig, s)
}

// DPConfig configures client-level differential privacy. Each client's
// update is clipped to Config.Clip and counts once (weights are ignored);
// the server divides the noised sum by the fixed denominator
// Config.ClientsPerRound, so that the released average has sensitivity
// Clip/ClientsPerRound whatever the number of reports.
type DPConfig struct {
	Mode DPMode
	// NoiseMultiplier z: the standard deviation of the noise in the sum is
	// z times the L2 sensitivity of one client's contribution. Required
	// (> 0) unless Mode is DPNone; see [NoiseForEpsilon].
	NoiseMultiplier float64
	// Delta is the delta at which epsilon is reported. Required in (0, 1)
	// unless Mode is DPNone.
	Delta float64
	// Adaptive, when set, adapts the clipping bound each round.
	Adaptive *AdaptiveClipping
}

// AdaptiveClipping is quantile-based adaptive clipping (Andrew, Thakkar,
// McMahan and Ramaswamy 2021, "Differentially Private Learning with
// Adaptive Clipping"): each client reports b_i = 1 if its update norm is
// at most the current bound C; the server estimates the fraction b̄ from
// the noised sum of b_i - 1/2 (noise N(0, IndicatorNoise²)) and sets
// C ← C·exp(-LearningRate·(b̄ - TargetQuantile)). The indicator is summed as
// a side coordinate (securely, with secure aggregation); with central DP
// the server adds its noise, with distributed DP every client adds its
// share of discrete Gaussian noise to its indicator as to its update, with
// the same rule for the minimum number of survivors. Both releases are
// one Gaussian mechanism: the update noise multiplier becomes
// z_Δ = (z^-2 - (2·IndicatorNoise)^-2)^(-1/2), so that the pair costs what
// DPConfig.NoiseMultiplier z alone would (their Theorem 1).
type AdaptiveClipping struct {
	TargetQuantile float64 // gamma in (0, 1), typically 0.5
	LearningRate   float64 // eta_C > 0, typically 0.2
	IndicatorNoise float64 // sigma_b > z/2, typically ClientsPerRound/20
}

// updateNoiseMultiplier returns z_Δ for adaptive clipping.
func (a *AdaptiveClipping) updateNoiseMultiplier(z float64) (float64, error) {
	if !(a.TargetQuantile > 0 && a.TargetQuantile < 1) || !(a.LearningRate > 0) || math.IsInf(a.LearningRate, 0) {
		return 0, fmt.Errorf("%w: adaptive clipping quantile %v, learning rate %v", ErrConfig, a.TargetQuantile, a.LearningRate)
	}
	if !(2*a.IndicatorNoise > z) || math.IsInf(a.IndicatorNoise, 0) {
		return 0, fmt.Errorf("%w: adaptive clipping indicator noise %v must exceed half the noise multiplier %v", ErrConfig, a.IndicatorNoise, z)
	}
	return math.Pow(math.Pow(z, -2)-math.Pow(2*a.IndicatorNoise, -2), -0.5), nil
}

// AccountantName names the accountant behind the reported epsilon.
const AccountantName = "RDP (Poisson-subsampled Gaussian, CKS20 conversion)"

// Epsilon is the client-level epsilon after rounds rounds, each sampling
// clients independently with probability rate (Poisson sampling) and
// adding Gaussian noise of multiplier z, at delta: the value of
// accounting.PoissonGaussianEpsilon with the default RDP configuration,
// the function behind `privml dp epsilon`.
func Epsilon(rate, z float64, rounds int, delta float64) (float64, error) {
	eps, _, err := accounting.PoissonGaussianEpsilon(rate, z, rounds, delta, accounting.RDPConfig{})
	return eps, err
}

// NoiseForEpsilon returns the smallest noise multiplier whose epsilon after
// rounds rounds at sampling rate rate is at most epsilon at delta (the
// inverse of [Epsilon]).
func NoiseForEpsilon(epsilon, rate float64, rounds int, delta float64) (float64, error) {
	z, _, err := accounting.CalibratePoissonGaussian(epsilon, rate, rounds, delta, accounting.RDPConfig{})
	return z, err
}
