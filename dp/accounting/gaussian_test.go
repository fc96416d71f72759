package accounting

import (
	"errors"
	"math"
	"testing"
)

// TestGaussianDeltaPublished: dp_accounting pld_privacy_accountant_test.py
// test_gaussian_basic composes Gaussians of noise multiplier sqrt(3) three
// times, an exact Gaussian of multiplier 1, whose delta at epsilon 1 is
// 0.126936. The zCDP accountant recognises the all-Gaussian composition and
// uses the exact curve.
func TestGaussianDeltaPublished(t *testing.T) {
	d, err := GaussianDelta(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(d-0.126936) > 1e-6 {
		t.Errorf("delta = %.7g, want 0.126936", d)
	}
	z, _ := NewZCDPAccountant(AddRemoveOne)
	if err := z.Compose(SelfComposed{Event: Gaussian{math.Sqrt(3)}, Count: 3}); err != nil {
		t.Fatal(err)
	}
	zd, _ := z.Delta(1)
	if math.Abs(zd-0.126936) > 1e-6 {
		t.Errorf("zCDP accountant delta = %.7g, want 0.126936", zd)
	}
	ze, _ := z.Epsilon(0.126936)
	if math.Abs(ze-1) > 1e-4 {
		t.Errorf("zCDP accountant epsilon = %.7g, want 1", ze)
	}
}

// TestGaussianCurveProperties: epsilon(delta) inverts delta(epsilon), the
// exact curve is never above the RDP bound, and the analytic sigma is below
// the classic sqrt(2 ln(1.25/δ))/ε calibration (Dwork and Roth 2014, Thm. A.1,
// valid for ε < 1).
func TestGaussianCurveProperties(t *testing.T) {
	for _, s := range []float64{0.3, 1, 4.530877117, 30} {
		for _, d := range []float64{1e-3, 1e-6, 1e-12} {
			e, err := GaussianEpsilon(s, d)
			if err != nil {
				t.Fatal(err)
			}
			back := gaussianDelta(s, e)
			if back > d || (e > 0 && back < d*(1-1e-6)) {
				t.Errorf("s=%v d=%v: eps %v gives delta %v", s, d, e, back)
			}
			a, _ := NewRDPAccountant(RDPConfig{})
			_ = a.Compose(Gaussian{s})
			re, _, _ := a.Epsilon(d)
			if e > re {
				t.Errorf("s=%v d=%v: exact %v above RDP %v", s, d, e, re)
			}
		}
	}
	for _, eps := range []float64{0.1, 0.5, 0.9} {
		sig, err := AnalyticGaussianSigma(eps, 1e-5, 2)
		if err != nil {
			t.Fatal(err)
		}
		classic := 2 * math.Sqrt(2*math.Log(1.25/1e-5)) / eps
		if sig >= classic {
			t.Errorf("eps %v: analytic sigma %v not below classic %v", eps, sig, classic)
		}
		if d := gaussianDelta(sig/2, eps); d > 1e-5 {
			t.Errorf("eps %v: delta at analytic sigma %v", eps, d)
		}
	}
	if _, err := AnalyticGaussianSigma(1, 0, 1); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("delta 0: %v", err)
	}
	if _, err := AnalyticGaussianSigma(math.NaN(), 1e-5, 1); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("eps NaN: %v", err)
	}
}

// TestZCDPConversion: the CKS20 conversion lies between the exact Gaussian
// curve (the best any ρ-zCDP mechanism with a Gaussian curve can do) and the
// Bun-Steinke 2016 Prop. 1.3 bound exp(-(ε-ρ)²/(4ρ)).
func TestZCDPConversion(t *testing.T) {
	for _, rho := range []float64{0.001, 0.05, 0.5, 3} {
		for _, eps := range []float64{0.5, 1, 3, 10} {
			if eps <= rho {
				continue
			}
			d := zcdpDelta(rho, eps)
			exact := gaussianDelta(1/math.Sqrt(2*rho), eps)
			bs := math.Exp(-(eps - rho) * (eps - rho) / (4 * rho))
			if d < exact*(1-1e-9) || d > bs*(1+1e-9) {
				t.Errorf("rho %v eps %v: cks %g outside [%g, %g]", rho, eps, d, exact, bs)
			}
			if d < 1e-300 {
				continue
			}
			e := zcdpEpsilon(rho, d)
			if math.Abs(e-eps) > 1e-6*eps {
				t.Errorf("rho %v: epsilon(delta(%v)) = %v", rho, eps, e)
			}
		}
	}
	z, _ := NewZCDPAccountant(AddRemoveOne)
	_ = z.Compose(Composed{[]Event{PureDP{Epsilon: 0.5}, ZCDP{Rho: 0.1}}})
	if got, want := z.Rho(), 0.5*0.5/2+0.1; math.Abs(got-want) > 1e-15 {
		t.Errorf("rho %v, want %v", got, want)
	}
	e, _ := z.Epsilon(1e-6)
	if want := zcdpEpsilon(z.Rho(), 1e-6); e != want {
		t.Errorf("mixed composition uses %v, want CKS20 %v", e, want)
	}
	if err := z.Compose(PoissonSampled{Rate: 0.1, Event: Gaussian{1}}); !errors.Is(err, ErrUnsupportedEvent) {
		t.Errorf("subsampled in zCDP: %v", err)
	}
}
