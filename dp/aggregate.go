package dp

import (
	"fmt"
)

// L2Sensitivity returns the L2 sensitivity the mechanism was calibrated
// for.
func (m *GaussianMechanism) L2Sensitivity() float64 { return m.l2 }

// VectorSum writes to dst a differentially private sum of vectors: each
// vector is clipped to the mechanism's L2 sensitivity (so that adding or
// removing one vector moves the sum by at most that much) and the sum gets
// discrete Gaussian noise from m. factors, if not nil, receives the
// clipping factor of each vector (len(vectors) elements). The vectors are
// not modified. Google's library has no vector aggregation; its dpagg
// BoundedSum works one float at a time and recalibrates per call.
func VectorSum(dst []float64, vectors [][]float64, m *GaussianMechanism, factors []float64) error {
	if factors == nil {
		factors = make([]float64, len(vectors))
	}
	clear(dst)
	if err := ClipBatchL2(dst, vectors, m.l2, factors); err != nil {
		return fmt.Errorf("dp: cannot VectorSum: %w", err)
	}
	return m.AddNoise(dst)
}

// VectorMean writes to dst the noisy sum of [VectorSum] divided by n, a
// count the caller knows publicly or has released with its own noise (a
// private count must be paid for separately, e.g. with a
// [LaplaceMechanism]). Division is post-processing and costs no privacy.
func VectorMean(dst []float64, vectors [][]float64, n float64, m *GaussianMechanism) error {
	if !finite(n) || n < 1 {
		return paramErr(ErrInvalidParameter, "n", n, "must be finite and >= 1")
	}
	if err := VectorSum(dst, vectors, m, nil); err != nil {
		return err
	}
	for i := range dst {
		dst[i] /= n
	}
	return nil
}
