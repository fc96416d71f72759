package dp

import (
	"math"
	"testing"
)

func TestVectorSumAndMean(t *testing.T) {
	m, err := NewGaussianMechanismZCDP(1e6, 1, WithSeedForTesting(60)) // tiny noise: sigma ≈ 7e-4
	if err != nil {
		t.Fatal(err)
	}
	vs := [][]float64{{3, 4}, {0.3, 0.4}, {0, -10}}
	sum := make([]float64, 2)
	f := make([]float64, 3)
	if err := VectorSum(sum, vs, m, f); err != nil {
		t.Fatal(err)
	}
	// Clipped to norm 1: (0.6, 0.8) + (0.3, 0.4) + (0, -1).
	want := []float64{0.9, 0.2}
	for i := range want {
		if math.Abs(sum[i]-want[i]) > 6*m.Sigma() {
			t.Errorf("sum[%d] = %v, want %v ± %v", i, sum[i], want[i], 6*m.Sigma())
		}
	}
	if math.Abs(f[0]-0.2) > 1e-15 || f[1] != 1 || math.Abs(f[2]-0.1) > 1e-15 {
		t.Errorf("factors %v, want [0.2 1 0.1]", f)
	}
	if vs[0][0] != 3 {
		t.Error("VectorSum modified its input")
	}
	mean := make([]float64, 2)
	if err := VectorMean(mean, vs, 3, m); err != nil {
		t.Fatal(err)
	}
	if math.Abs(mean[0]-0.3) > 6*m.Sigma()/3 {
		t.Errorf("mean[0] = %v, want 0.3", mean[0])
	}
	if err := VectorMean(mean, vs, 0, m); err == nil {
		t.Error("n = 0 accepted")
	}
}
