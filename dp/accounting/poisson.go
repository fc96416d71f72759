package accounting

// PoissonGaussianEpsilon returns the ε after steps rounds of the
// Poisson-subsampled Gaussian (DP-SGD with sampling rate q and noise
// multiplier sigma) at delta, with the RDP accountant configured by cfg, and
// the optimal order.
func PoissonGaussianEpsilon(q, sigma float64, steps int, delta float64, cfg RDPConfig) (eps, order float64, err error) {
	if err := checkPoissonGaussian(q, sigma, steps, delta); err != nil {
		return 0, 0, err
	}
	a, err := NewRDPAccountant(cfg)
	if err != nil {
		return 0, 0, err
	}
	if err := a.Compose(SelfComposed{Event: PoissonSampled{Rate: q, Event: Gaussian{NoiseMultiplier: sigma}}, Count: steps}); err != nil {
		return 0, 0, err
	}
	return a.Epsilon(delta)
}

func checkPoissonGaussian(q, sigma float64, steps int, delta float64) error {
	if err := checkRate("sampling rate", q); err != nil {
		return err
	}
	if err := checkPositive("noise multiplier", sigma); err != nil {
		return err
	}
	if err := checkSteps("steps", steps); err != nil {
		return err
	}
	return checkDelta("delta", delta)
}
