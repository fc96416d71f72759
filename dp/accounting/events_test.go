package accounting

import (
	"errors"
	"math"
	"testing"
)

// TestRandomizedResponse: dp_accounting pld_privacy_accountant_test.py
// test_randomized_response (replace-one, noise parameter 4/(3+e), 4 buckets)
// is exactly 1-DP, so its RDP at a huge order is 1; with one bucket or p = 1
// it is free, with p = 0 infinite.
func TestRandomizedResponse(t *testing.T) {
	a, _ := NewRDPAccountant(RDPConfig{Orders: []float64{2, 1e9}, Relation: ReplaceOne})
	if err := a.Compose(RandomizedResponse{NoiseParameter: 4 / (3 + math.E), Buckets: 4}); err != nil {
		t.Fatal(err)
	}
	c := a.Curve()
	if math.Abs(c[1]-1) > 1e-8 {
		t.Errorf("RDP at order 1e9 = %v, want 1", c[1])
	}
	if c[0] <= 0 || c[0] >= 1 {
		t.Errorf("RDP at order 2 = %v, want in (0, 1)", c[0])
	}
	for _, rr := range []RandomizedResponse{{0.3, 1}, {1, 5}} {
		if v := rdpRandomizedResponse(rr.NoiseParameter, rr.Buckets, 3); v != 0 {
			t.Errorf("%+v: %v, want 0", rr, v)
		}
	}
	if v := rdpRandomizedResponse(0, 3, 3); !math.IsInf(v, 1) {
		t.Errorf("p = 0: %v", v)
	}
	if err := a.Compose(RandomizedResponse{NoiseParameter: 1.5, Buckets: 2}); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("p = 1.5: %v", err)
	}
}

// TestApproxDPComposition follows dp_accounting's test_epsilon_delta_basic:
// (1, 0.1) and (2, 0.2) compose to (3, 0.28); at a huge order RDP is pure.
func TestApproxDPComposition(t *testing.T) {
	a, _ := NewRDPAccountant(RDPConfig{Orders: []float64{1e12}})
	_ = a.Compose(ApproxDP{Epsilon: 1, Delta: 0.1})
	_ = a.Compose(ApproxDP{Epsilon: 2, Delta: 0.2})
	d, _, _ := a.Delta(3)
	if math.Abs(d-0.28) > 1e-9 {
		t.Errorf("delta(3) = %v, want 0.28", d)
	}
	e, _, _ := a.Epsilon(0.29)
	if math.Abs(e-3) > 1e-9 {
		t.Errorf("epsilon(0.29) = %v, want 3", e)
	}
	if e, _, _ := a.Epsilon(0.27); !math.IsInf(e, 1) {
		t.Errorf("epsilon below the composed delta = %v, want +Inf", e)
	}
}

// TestPureDPCurves: pure, discrete Laplace and exponential-mechanism curves
// are at most ε at every order, tend to ε at large orders, and the
// exponential mechanism is at most the pure curve and at most αε²/8.
func TestPureDPCurves(t *testing.T) {
	for _, eps := range []float64{0.1, 1, 5} {
		for _, al := range []float64{1.5, 2, 10, 100} {
			p := rdpPure(eps, al)
			if p < 0 || p > eps*(1+1e-12) {
				t.Errorf("pure eps %v order %v: %v", eps, al, p)
			}
			x := rdpExponential(eps, al)
			if x > p || x > al*eps*eps/8*(1+1e-12) {
				t.Errorf("exponential eps %v order %v: %v > min(%v, %v)", eps, al, x, p, al*eps*eps/8)
			}
			// Laplace is an ε-DP mechanism: below the worst ε-DP curve.
			if l := rdpLaplace(eps, al); l > p*(1+1e-12) {
				t.Errorf("Laplace eps %v order %v: %v > pure %v", eps, al, l, p)
			}
		}
		if p := rdpPure(eps, 1e9); math.Abs(p-eps) > 1e-8 {
			t.Errorf("pure eps %v at order 1e9: %v", eps, p)
		}
	}
	a, _ := NewRDPAccountant(RDPConfig{Orders: []float64{1e9}})
	_ = a.Compose(DiscreteLaplace{Parameter: 0.5, Sensitivity: 2})
	if c := a.Curve()[0]; math.Abs(c-1) > 1e-8 {
		t.Errorf("discrete Laplace a = 0.5, Δ = 2 at order 1e9: %v, want 1", c)
	}
	// DiscreteGaussian: ρα with ρ = Δ²/(2σ²).
	b, _ := NewRDPAccountant(RDPConfig{Orders: []float64{3}})
	_ = b.Compose(DiscreteGaussian{Sigma: 2, Sensitivity: 1})
	if c := b.Curve()[0]; math.Abs(c-3.0/8) > 1e-15 {
		t.Errorf("discrete Gaussian: %v, want 0.375", c)
	}
	z, _ := NewRDPAccountant(RDPConfig{Orders: []float64{4}})
	_ = z.Compose(SelfComposed{Event: ZCDP{Rho: 0.1}, Count: 3})
	if c := z.Curve()[0]; math.Abs(c-1.2) > 1e-15 {
		t.Errorf("zCDP: %v, want 1.2", c)
	}
}

// TestPLDPureDP: a PureDP event in the PLD accountant is ε-DP (δ(ε) = 0 up
// to the tail mass) and not better: δ(ε/2) > 0.
func TestPLDPureDP(t *testing.T) {
	a, _ := NewPLDAccountant(PLDConfig{})
	if err := a.Compose(SelfComposed{Event: PureDP{Epsilon: 0.5}, Count: 4}); err != nil {
		t.Fatal(err)
	}
	d, _ := a.Delta(2)
	if d > 1e-12 {
		t.Errorf("delta(2) = %v, want 0", d)
	}
	if d, _ := a.Delta(1); d <= 0 {
		t.Errorf("delta(1) = %v, want > 0", d)
	}
}
