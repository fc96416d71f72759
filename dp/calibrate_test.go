package dp

import (
	"errors"
	"math"
	"testing"
)

// TestGaussianDeltaGoogleVectors checks the analytic Gaussian against the
// expected values in Google's differential-privacy library,
// go/noise/gaussian_noise_test.go, TestDeltaForGaussian (v3.0.0): there
// l2 = lInf·sqrt(l0); we require 1e-12 relative agreement (Google's own
// tolerance is 1e-10 absolute).
func TestGaussianDeltaGoogleVectors(t *testing.T) {
	for _, c := range []struct {
		sigma, eps, l0, lInf, want float64
	}{
		{10, 0.1, 1, 1, 0.008751768145810},
		{20, 0.1, 1, 2, 0.008751768145810},
		{20, 0.1, 4, 1, 0.008751768145810},
		{10, math.Log(3), 1, 5, 0.004159742234000802},
		{0.5, 0, 1, 1, 0.6826894921370859},
	} {
		got, err := GaussianDelta(c.sigma, c.eps, c.lInf*math.Sqrt(c.l0))
		if err != nil {
			t.Fatal(err)
		}
		if rel := math.Abs(got-c.want) / c.want; rel > 1e-12 {
			t.Errorf("sigma %v eps %v l0 %v lInf %v: delta %.16g, want %.16g (rel %.2g)", c.sigma, c.eps, c.l0, c.lInf, got, c.want, rel)
		}
	}
}

func TestGaussianSigmaInverts(t *testing.T) {
	for _, c := range []struct{ eps, delta, l2 float64 }{
		{1, 1e-5, 1}, {0.1, 1e-9, 3}, {5, 1e-3, 0.01}, {0.5, 1e-100, 1}, {1, 1e-300, 2}, {20, 1e-6, 1},
	} {
		s, err := GaussianSigma(c.eps, c.delta, c.l2)
		if err != nil {
			t.Fatal(err)
		}
		ld := logGaussianDelta(s, c.eps, c.l2)
		if ld > math.Log(c.delta) {
			t.Errorf("%+v: sigma %v gives delta %v > target", c, s, math.Exp(ld))
		}
		// A sigma 1e-12 smaller must not already meet the target much better:
		// the result is tight to about 2^-45.
		ls := logGaussianDelta(s*(1-1e-11), c.eps, c.l2)
		if ls <= math.Log(c.delta) {
			t.Errorf("%+v: sigma %v is not tight (delta at 1-1e-11: %v)", c, s, math.Exp(ls))
		}
	}
	// Regression value sigma(1, 1e-5) = 3.7306 for sensitivity 1; it must lie
	// below the classical bound sqrt(2 ln(1.25/δ))/ε = 4.8448 (Dwork and
	// Roth 2014, Thm A.1), which is loose by about a quarter here.
	if s, _ := GaussianSigma(1, 1e-5, 1); math.Abs(s-3.7306) > 1e-3 || s >= math.Sqrt(2*math.Log(1.25/1e-5)) {
		t.Errorf("sigma(1, 1e-5) = %v, want 3.7306", s)
	}
}

// TestLogPhi checks log Φ against exact values and its continuity across
// the switch to the asymptotic series.
func TestLogPhi(t *testing.T) {
	if v := logPhi(0); math.Abs(v-math.Log(0.5)) > 1e-16 {
		t.Errorf("logPhi(0) = %v", v)
	}
	// Φ(-1) = 0.15865525393145705 (A&S table 26.1).
	if v := logPhi(-1); math.Abs(v-math.Log(0.15865525393145705)) > 1e-15 {
		t.Errorf("logPhi(-1) = %v", v)
	}
	// Across z = -37: the two branches agree.
	a := math.Log(0.5 * math.Erfc(37.0001/math.Sqrt2))
	b := logPhi(-37.0001)
	if math.Abs(a-b) > 1e-12*math.Abs(a) {
		t.Errorf("branches disagree at -37: %v vs %v", a, b)
	}
	// Far tail: log Φ(-1000) ≈ -500000 - log(1000) - log(sqrt(2π)).
	want := -500000 - math.Log(1000) - 0.5*math.Log(2*math.Pi) + math.Log(1-1e-6+3e-12)
	if v := logPhi(-1000); math.Abs(v-want) > 1e-9 {
		t.Errorf("logPhi(-1000) = %v, want %v", v, want)
	}
}

func TestCalibrationValidation(t *testing.T) {
	if _, err := GaussianSigma(math.NaN(), 1e-5, 1); !errors.Is(err, ErrInvalidEpsilon) {
		t.Errorf("NaN epsilon: %v", err)
	}
	if _, err := GaussianSigma(1, 0, 1); !errors.Is(err, ErrInvalidDelta) {
		t.Errorf("delta 0: %v", err)
	}
	if _, err := LaplaceScale(1, -2); !errors.Is(err, ErrInvalidSensitivity) {
		t.Errorf("negative sensitivity: %v", err)
	} else if want := "dp: l1Sensitivity = -2: must be finite and > 0"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if b, _ := LaplaceScale(0.5, 1); b < 2 || b > 2*(1+1e-15) {
		t.Errorf("LaplaceScale(0.5, 1) = %v", b)
	}
	if s, _ := GaussianSigmaZCDP(0.5, 1); s < 1 || s > 1+1e-15 {
		t.Errorf("GaussianSigmaZCDP(0.5, 1) = %v", s)
	}
}
