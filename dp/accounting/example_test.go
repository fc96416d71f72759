package accounting_test

import (
	"fmt"

	"github.com/privml/privml/dp/accounting"
)

// The epsilon of DP-SGD on MNIST in TF Privacy's tutorial setting: 60,000
// examples, batches of 150 (q = 0.0025), noise multiplier 1.3, 15 epochs.
func ExamplePoissonGaussianEpsilon() {
	for _, conv := range []accounting.Conversion{accounting.ConversionCKS20, accounting.ConversionClassic} {
		eps, order, err := accounting.PoissonGaussianEpsilon(0.0025, 1.3, 6000, 1e-5, accounting.RDPConfig{Conversion: conv})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: epsilon = %.4f at order %g\n", conv, eps, order)
	}
	// Output:
	// cks20: epsilon = 0.7242 at order 19
	// classic: epsilon = 0.9419 at order 19
}

// Composing heterogeneous events in one RDP accountant.
func ExampleRDPAccountant() {
	a, err := accounting.NewRDPAccountant(accounting.RDPConfig{})
	if err != nil {
		panic(err)
	}
	// 1000 DP-SGD steps, then releasing a noisy count with the Laplace
	// mechanism at epsilon 0.1.
	if err := a.Compose(accounting.Composed{Events: []accounting.Event{
		accounting.SelfComposed{Event: accounting.PoissonSampled{Rate: 0.01, Event: accounting.Gaussian{NoiseMultiplier: 1.1}}, Count: 1000},
		accounting.Laplace{NoiseMultiplier: 10},
	}}); err != nil {
		panic(err)
	}
	eps, order, _ := a.Epsilon(1e-5)
	fmt.Printf("epsilon = %.3f (order %g)\n", eps, order)
	// Output: epsilon = 1.753 (order 9.5)
}

// The smallest noise multiplier for epsilon = 3 after 1000 steps at q = 0.01.
func ExampleCalibratePoissonGaussian() {
	sigma, eps, err := accounting.CalibratePoissonGaussian(3, 0.01, 1000, 1e-5, accounting.RDPConfig{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("noise multiplier %.4f gives epsilon %.4f <= 3\n", sigma, eps)
	// Output: noise multiplier 0.8646 gives epsilon 3.0000 <= 3
}

// The PLD accountant on the same DP-SGD run, against RDP.
func ExamplePLDAccountant() {
	a, _ := accounting.NewPLDAccountant(accounting.PLDConfig{})
	_ = a.Compose(accounting.SelfComposed{Event: accounting.PoissonSampled{Rate: 0.01, Event: accounting.Gaussian{NoiseMultiplier: 0.7}}, Count: 120})
	eps, _ := a.Epsilon(1e-5)
	fmt.Printf("PLD epsilon = %.4f\n", eps)
	// Output: PLD epsilon = 2.4612
}

// A single Gaussian release: exact delta, and the analytic calibration.
func ExampleGaussianDelta() {
	d, _ := accounting.GaussianDelta(1, 1)
	s, _ := accounting.AnalyticGaussianSigma(1, 1e-5, 1)
	fmt.Printf("delta(1) of the unit Gaussian = %.6f; sigma for (1, 1e-5) = %.4f\n", d, s)
	// Output: delta(1) of the unit Gaussian = 0.126937; sigma for (1, 1e-5) = 3.7306
}
