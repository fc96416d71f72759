package benchmarks

import (
	"testing"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/privml/privml/dp"
)

// Parameters shared by privml and Google's library so that both add noise
// of the same standard deviation: (ε, δ) = (1, 1e-5), sensitivity 1.
const (
	benchEpsilon = 1.0
	benchDelta   = 1e-5
	privmlLen    = 1_000_000
	googleLen    = 10_000
)

func perSample(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sample")
}

// BenchmarkGaussianVector compares vector Gaussian noise: privml's
// calibrated discrete Gaussian mechanism on 1,000,000 elements against
// Google's AddNoiseFloat64 called once per element of a 10,000-element
// vector (Google recalibrates sigma on every call).
func BenchmarkGaussianVector(b *testing.B) {
	b.Run("privml", func(b *testing.B) {
		m, err := dp.NewGaussianMechanism(benchEpsilon, benchDelta, 1)
		if err != nil {
			b.Fatal(err)
		}
		x := make([]float64, privmlLen)
		_ = m.AddNoise(x) // builds the sampler table once
		b.ReportAllocs()
		b.SetBytes(8 * privmlLen)
		for b.Loop() {
			if err := m.AddNoise(x); err != nil {
				b.Fatal(err)
			}
		}
		perSample(b, privmlLen)
	})
	b.Run("google", func(b *testing.B) {
		g := noise.Gaussian()
		x := make([]float64, googleLen)
		b.ReportAllocs()
		b.SetBytes(8 * googleLen)
		for b.Loop() {
			for i, v := range x {
				y, err := g.AddNoiseFloat64(v, 1, 1, benchEpsilon, benchDelta)
				if err != nil {
					b.Fatal(err)
				}
				x[i] = y
			}
		}
		perSample(b, googleLen)
	})
}

// BenchmarkLaplaceVector compares vector Laplace noise at ε = 1 and
// sensitivity 1: privml's calibrated discrete Laplace mechanism on 1,000,000
// elements (one calibration per call) against Google's AddNoiseFloat64 once
// per element of a 10,000-element vector.
func BenchmarkLaplaceVector(b *testing.B) {
	b.Run("privml", func(b *testing.B) {
		m, err := dp.NewLaplaceMechanism(benchEpsilon, 1)
		if err != nil {
			b.Fatal(err)
		}
		x := make([]float64, privmlLen)
		_ = m.AddNoise(x) // builds the sampler table once
		b.ReportAllocs()
		b.SetBytes(8 * privmlLen)
		for b.Loop() {
			if err := m.AddNoise(x); err != nil {
				b.Fatal(err)
			}
		}
		perSample(b, privmlLen)
	})
	b.Run("google", func(b *testing.B) {
		l := noise.Laplace()
		x := make([]float64, googleLen)
		b.ReportAllocs()
		b.SetBytes(8 * googleLen)
		for b.Loop() {
			for i, v := range x {
				y, err := l.AddNoiseFloat64(v, 1, 1, benchEpsilon, 0)
				if err != nil {
					b.Fatal(err)
				}
				x[i] = y
			}
		}
		perSample(b, googleLen)
	})
}

// BenchmarkGaussianVectorSampler is the raw sampler at a fixed sigma (the
// DP-SGD path, dp.Sampler.AddGaussian), without the mechanism wrapper.
func BenchmarkGaussianVectorSampler(b *testing.B) {
	s := dp.NewSampler()
	sigma, _ := dp.GaussianSigma(benchEpsilon, benchDelta, 1)
	x := make([]float64, privmlLen)
	_ = s.AddGaussian(x, sigma)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AddGaussian(x, sigma); err != nil {
			b.Fatal(err)
		}
	}
	perSample(b, privmlLen)
}

// BenchmarkGaussianVectorParallel noises one 1,000,000-element vector per
// goroutine; run with -cpu 1,2 to see scaling with GOMAXPROCS. ns/sample is
// wall time per sample over all goroutines.
func BenchmarkGaussianVectorParallel(b *testing.B) {
	m, err := dp.NewGaussianMechanism(benchEpsilon, benchDelta, 1)
	if err != nil {
		b.Fatal(err)
	}
	_ = m.AddNoise(make([]float64, privmlLen/10))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		x := make([]float64, privmlLen/10)
		for pb.Next() {
			if err := m.AddNoise(x); err != nil {
				b.Error(err)
				return
			}
		}
	})
	perSample(b, privmlLen/10)
}

// BenchmarkGaussianScalar compares one scalar call each.
func BenchmarkGaussianScalar(b *testing.B) {
	b.Run("privml", func(b *testing.B) {
		m, err := dp.NewGaussianMechanism(benchEpsilon, benchDelta, 1)
		if err != nil {
			b.Fatal(err)
		}
		x, _ := m.AddNoiseFloat64(0)
		b.ReportAllocs()
		for b.Loop() {
			x, _ = m.AddNoiseFloat64(x)
		}
	})
	b.Run("google", func(b *testing.B) {
		g := noise.Gaussian()
		b.ReportAllocs()
		x := 0.0
		for b.Loop() {
			x, _ = g.AddNoiseFloat64(x, 1, 1, benchEpsilon, benchDelta)
		}
	})
}

// BenchmarkLaplaceScalar compares one scalar call each.
func BenchmarkLaplaceScalar(b *testing.B) {
	b.Run("privml", func(b *testing.B) {
		m, err := dp.NewLaplaceMechanism(benchEpsilon, 1)
		if err != nil {
			b.Fatal(err)
		}
		x, _ := m.AddNoiseFloat64(0)
		b.ReportAllocs()
		for b.Loop() {
			x, _ = m.AddNoiseFloat64(x)
		}
	})
	b.Run("google", func(b *testing.B) {
		l := noise.Laplace()
		b.ReportAllocs()
		x := 0.0
		for b.Loop() {
			x, _ = l.AddNoiseFloat64(x, 1, 1, benchEpsilon, 0)
		}
	})
}

// BenchmarkDiscreteInt64 compares integer noise: privml's exact discrete
// Gaussian and discrete Laplace on int64 against Google's AddNoiseInt64.
func BenchmarkDiscreteInt64(b *testing.B) {
	sigma, _ := dp.GaussianSigma(benchEpsilon, benchDelta, 1)
	s := dp.NewSampler()
	x := make([]int64, googleLen)
	_ = s.AddDiscreteGaussian(x, sigma)
	_ = s.AddDiscreteLaplace(x, 1/benchEpsilon)
	b.Run("gaussian/privml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.AddDiscreteGaussian(x, sigma); err != nil {
				b.Fatal(err)
			}
		}
		perSample(b, googleLen)
	})
	b.Run("gaussian/google", func(b *testing.B) {
		g := noise.Gaussian()
		b.ReportAllocs()
		for b.Loop() {
			for i, v := range x {
				x[i], _ = g.AddNoiseInt64(v, 1, 1, benchEpsilon, benchDelta)
			}
		}
		perSample(b, googleLen)
	})
	b.Run("laplace/privml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.AddDiscreteLaplace(x, 1/benchEpsilon); err != nil {
				b.Fatal(err)
			}
		}
		perSample(b, googleLen)
	})
	b.Run("laplace/google", func(b *testing.B) {
		l := noise.Laplace()
		b.ReportAllocs()
		for b.Loop() {
			for i, v := range x {
				x[i], _ = l.AddNoiseInt64(v, 1, 1, benchEpsilon, 0)
			}
		}
		perSample(b, googleLen)
	})
}
