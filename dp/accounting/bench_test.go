package accounting

import "testing"

func BenchmarkRDPEpsilon(b *testing.B) {
	for _, c := range []struct {
		name  string
		q, s  float64
		steps int
	}{
		{"q=0.0025,s=1.3,T=6000", 0.0025, 1.3, 6000},
		{"q=0.01,s=4,T=10000", 0.01, 4, 10000},
		{"q=0.1,s=0.8,T=500", 0.1, 0.8, 500},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := PoissonGaussianEpsilon(c.q, c.s, c.steps, 1e-5, RDPConfig{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRDPCalibrate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := CalibratePoissonGaussian(3, 0.01, 1000, 1e-5, RDPConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPLDCompose10000 composes 10,000 steps of the Poisson-subsampled
// Gaussian (q = 0.01, σ = 1) at the default interval 1e-4 and reads ε at
// δ = 1e-5. It reports ε and, as the measure of discretisation error, how
// much ε grows when the interval is doubled (both are upper bounds).
func BenchmarkPLDCompose10000(b *testing.B) {
	b.ReportAllocs()
	var eps float64
	for b.Loop() {
		var err error
		if eps, err = PoissonGaussianEpsilonPLD(0.01, 1, 10000, 1e-5, PLDConfig{}); err != nil {
			b.Fatal(err)
		}
	}
	coarse, err := PoissonGaussianEpsilonPLD(0.01, 1, 10000, 1e-5, PLDConfig{Interval: 2e-4})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(eps, "eps")
	b.ReportMetric(coarse-eps, "eps-gain-at-half-interval")
}
