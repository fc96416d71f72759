package dp

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestMechanismCalibration(t *testing.T) {
	m, err := NewGaussianMechanism(1, 1e-5, 2, WithSeedForTesting(70))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := GaussianSigma(1, 1e-5, 2)
	if m.Sigma() != want {
		t.Errorf("Sigma %v, want %v", m.Sigma(), want)
	}
	g := m.Granularity()
	if r := m.Sigma() / g; r < 0x1p36 || r >= 0x1p37 {
		t.Errorf("sigma/g = %v, want in [2^36, 2^37)", r)
	}
	// The grid allowance: sigma·(Δ + g√n')/Δ, n' = 2^20 ≥ 10^6.
	n := 1_000_000
	wantN := m.Sigma() * (2 + g*1024) / 2
	if s := m.SigmaFor(n); s < wantN || s > wantN*(1+1e-15) {
		t.Errorf("SigmaFor(%d) = %v, want %v", n, s, wantN)
	}
	// The allowance meets the (ε, δ) target for the inflated sensitivity.
	if d, _ := GaussianDelta(m.SigmaFor(n), 1, 2+g*1000); d > 1e-5 {
		t.Errorf("delta %v > 1e-5 after the grid allowance", d)
	}
	// Empirical standard deviation of a vector call.
	x := make([]float64, 200_000)
	if err := m.AddNoise(x); err != nil {
		t.Fatal(err)
	}
	var sq float64
	for _, v := range x {
		sq += v * v
	}
	if r := sq / float64(len(x)) / (m.Sigma() * m.Sigma()); math.Abs(r-1) > 5.3*math.Sqrt(2.0/float64(len(x))) {
		t.Errorf("variance ratio %v", r)
	}
	l, err := NewLaplaceMechanism(0.5, 3, WithSeedForTesting(71))
	if err != nil {
		t.Fatal(err)
	}
	if l.Scale() < 6 || l.Scale() > 6*(1+1e-15) {
		t.Errorf("Laplace scale %v, want 6", l.Scale())
	}
	if s := l.ScaleFor(1000); s < (3+l.Granularity()*1000)/0.5 {
		t.Errorf("ScaleFor(1000) = %v too small", s)
	}
	var sum float64
	const k = 100_000
	for range k {
		y, err := l.AddNoiseInt64(5)
		if err != nil {
			t.Fatal(err)
		}
		sum += math.Abs(float64(y - 5))
	}
	// E|Z| for the discrete Laplace with b = 6: 2q/(1-q²) with q = e^(-1/6).
	q := math.Exp(-1.0 / 6)
	want = 2 * q / (1 - q*q)
	// Var|Z| < E[Z²] = 2q/(1-q)²; 5.3 sd.
	sd := math.Sqrt(2 * q / ((1 - q) * (1 - q)) / k)
	if got := sum / k; math.Abs(got-want) > 5.3*sd {
		t.Errorf("E|noise| = %v, want %v ± %v", got, want, 5.3*sd)
	}
	if v, err := m.AddNoiseInt64(math.MaxInt64); err == nil && v < 0 {
		t.Errorf("overflow wrapped: %v", v)
	}
}

// TestCheckFinite checks the branch-free finiteness pass: every position
// (in the unrolled part and the remainder) and every non-finite kind is
// caught and named, and finite extremes pass.
func TestCheckFinite(t *testing.T) {
	finite := []float64{0, math.Copysign(0, -1), math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-310, 3}
	if err := checkFinite("x", finite); err != nil {
		t.Fatalf("finite input rejected: %v", err)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for n := 1; n <= 9; n++ {
			for pos := range n {
				x := make([]float64, n)
				x[pos] = bad
				err := checkFinite("x", x)
				if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), fmt.Sprintf("x[%d]", pos)) {
					t.Fatalf("len %d, %v at %d: got %v", n, bad, pos, err)
				}
			}
		}
	}
}
