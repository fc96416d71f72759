package accounting

import (
	"errors"
	"math"
	"testing"
)

// TestOpacusGetNoiseMultiplier pins opacus/tests/accountants_test.py
// test_get_noise_multiplier_rdp_steps (eps 8, delta 1e-5, q 0.04, 2000 steps:
// 1.3562) and test_get_noise_multiplier_rdp_epochs (90 epochs = 2250 steps:
// 1.416). Opacus stops once epsilon is within 0.01 below the target, so its
// sigma is at least ours; ours is the smallest to 1e-6.
func TestOpacusGetNoiseMultiplier(t *testing.T) {
	for _, c := range []struct {
		steps int
		want  float64
	}{{2000, 1.3562}, {2250, 1.416}} {
		s, eps, err := CalibratePoissonGaussian(8, 0.04, c.steps, 1e-5, RDPConfig{Orders: opacusOrders()})
		if err != nil {
			t.Fatal(err)
		}
		if eps > 8 {
			t.Errorf("steps %d: eps(sigma=%v) = %v > 8", c.steps, s, eps)
		}
		if s > c.want+5e-5 || s < c.want-0.005 {
			t.Errorf("steps %d: sigma %v, opacus %v", c.steps, s, c.want)
		}
		// One step below the tolerance misses the target: s is minimal.
		below, _, _ := PoissonGaussianEpsilon(0.04, s*(1-2e-6), c.steps, 1e-5, RDPConfig{Orders: opacusOrders()})
		if below <= 8 {
			t.Errorf("steps %d: sigma %v is not minimal (eps %v at 1-2e-6 below)", c.steps, s, below)
		}
	}
}

// TestCalibrationGuarantee: over a grid of targets, the calibrated sigma never
// overshoots (the property opacus tests with hypothesis in
// test_get_noise_multiplier_overshoot).
func TestCalibrationGuarantee(t *testing.T) {
	for _, target := range []float64{0.5, 1, 3, 8} {
		for _, q := range []float64{1e-3, 0.01, 0.1} {
			for _, delta := range []float64{1e-5, 1e-8} {
				s, eps, err := CalibratePoissonGaussian(target, q, 500, delta, RDPConfig{})
				if err != nil {
					t.Fatal(err)
				}
				if eps > target {
					t.Errorf("target %v q %v delta %v: sigma %v gives %v", target, q, delta, s, eps)
				}
			}
		}
	}
	if _, _, err := CalibratePoissonGaussian(-1, 0.01, 10, 1e-5, RDPConfig{}); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("negative target: %v", err)
	}
	if _, err := CalibrateNoiseMultiplier(1, func(float64) (float64, error) { return math.Inf(1), nil }); !errors.Is(err, ErrNoSolution) {
		t.Errorf("unreachable target: %v", err)
	}
}
