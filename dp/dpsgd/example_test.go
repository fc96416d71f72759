package dpsgd_test

import (
	"fmt"

	"github.com/privml/privml/dp/dpsgd"
)

// One DP-SGD step: sample a Poisson batch, privatise the per-example
// gradients of the batch, and read off the privacy spent.
func Example() {
	sgd, err := dpsgd.New(dpsgd.Config{
		ClipNorm:        1,
		NoiseMultiplier: 1.1,
		SamplingRate:    0.01,
		DatasetSize:     60000,
	})
	if err != nil {
		panic(err)
	}
	perExample := func(i int) []float64 { return []float64{float64(i % 3), 1} } // the model's gradients
	var batch []int
	grad := make([]float64, 2)
	for range 100 {
		batch, _ = sgd.SampleBatch(batch[:0])
		grads := make([][]float64, len(batch))
		for j, i := range batch {
			grads[j] = perExample(i)
		}
		if err := sgd.Privatize(grad, grads); err != nil {
			panic(err)
		}
		// ... update the model with grad ...
	}
	eps, _ := sgd.Epsilon(1e-5, false)
	fmt.Printf("%d steps, epsilon = %.2f at delta = 1e-5\n", sgd.Steps(), eps)
	// Output: 100 steps, epsilon = 0.96 at delta = 1e-5
}
