package dp_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/privml/privml/dp"
)

// A calibrated Gaussian mechanism noises a whole vector with one
// calibration. The seeded option makes the example reproducible; real code
// omits it.
func ExampleGaussianMechanism() {
	m, err := dp.NewGaussianMechanism(1, 1e-5, 1, dp.WithSeedForTesting(1))
	if err != nil {
		panic(err)
	}
	grad := make([]float64, 1000)
	if err := m.AddNoise(grad); err != nil {
		panic(err)
	}
	var sq float64
	onGrid := true
	for _, v := range grad {
		sq += v * v
		onGrid = onGrid && v/m.Granularity() == math.Trunc(v/m.Granularity())
	}
	fmt.Printf("sigma %.4f, empirical sd within 10%%: %v, on the grid: %v\n",
		m.Sigma(), math.Abs(math.Sqrt(sq/1000)/m.Sigma()-1) < 0.1, onGrid)
	// Output: sigma 3.7306, empirical sd within 10%: true, on the grid: true
}

// DP-SGD clips each example's gradient, sums, and adds Gaussian noise of
// standard deviation noiseMultiplier·clip.
func ExampleSampler_AddGaussian() {
	s := dp.NewSampler(dp.WithSeedForTesting(2))
	batch := [][]float64{{3, 4}, {0.1, 0.1}, {-6, 8}}
	sum := make([]float64, 2)
	factors := make([]float64, len(batch))
	if err := dp.ClipBatchL2(sum, batch, 1, factors); err != nil {
		panic(err)
	}
	fmt.Printf("factors %.3f\n", factors)
	if err := s.AddGaussian(sum, 1.1*1); err != nil {
		panic(err)
	}
	fmt.Println("grid:", dp.GaussianGranularity(1.1))
	// Output:
	// factors [0.200 1.000 0.100]
	// grid: 1.4551915228366852e-11
}

// Discrete Laplace noise on integer counts, for distributed DP.
func ExampleSampler_AddDiscreteLaplace() {
	s := dp.NewSampler(dp.WithSeedForTesting(3))
	counts := []int64{10, 20, 30}
	if err := s.AddDiscreteLaplace(counts, 2); err != nil {
		panic(err)
	}
	fmt.Println(counts)
	// Output: [9 20 30]
}

// A filter refuses the request that would overspend and names it.
func ExampleFilter() {
	f, _ := dp.NewPureFilter(1)
	fmt.Println(f.Spend("count", dp.Cost{Epsilon: 0.6}))
	err := f.Spend("histogram", dp.Cost{Epsilon: 0.6})
	fmt.Println(errors.Is(err, dp.ErrBudgetExhausted))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// dp: privacy budget exhausted: request "histogram" costs epsilon 0.6 but only epsilon 0.4 remains of epsilon 1
}

// Validation names the parameter and its value.
func ExampleGaussianSigma() {
	sigma, _ := dp.GaussianSigma(1, 1e-5, 1)
	fmt.Printf("%.4f\n", sigma)
	_, err := dp.GaussianSigma(1, 1.5, 1)
	fmt.Println(err, errors.Is(err, dp.ErrInvalidDelta))
	// Output:
	// 3.7306
	// dp: delta = 1.5: must be in the open interval (0, 1) true
}

// Permute-and-flip picks a high-utility candidate.
func ExampleSampler_PermuteAndFlip() {
	s := dp.NewSampler(dp.WithSeedForTesting(4))
	votes := []float64{10, 250, 40}
	i, _ := s.PermuteAndFlip(votes, 1, 1, true)
	fmt.Println(i)
	// Output: 1
}
