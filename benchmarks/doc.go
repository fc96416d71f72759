// Package benchmarks holds performance benchmarks of privml against its
// peers and privacy/utility trade-off studies. It has no non-test code.
//
// # Differential-privacy noise (dp_*_test.go)
//
// Each comparison runs privml and Google's differential-privacy library
// (github.com/google/differential-privacy/go/v3) in the same process, with
// the same privacy parameters, and reports a ns/sample metric:
//
//   - BenchmarkGaussianVector/{privml,google}: Gaussian noise at (ε, δ) =
//     (1, 1e-5), sensitivity 1. privml noises a 1,000,000-element vector
//     with one calibrated dp.GaussianMechanism call; Google's
//     noise.Gaussian().AddNoiseFloat64 is called once per element of a
//     10,000-element vector (it recalibrates sigma on every call).
//   - BenchmarkLaplaceVector/{privml,google}: Laplace noise at ε = 1,
//     sensitivity 1, the same way (privml: dp.LaplaceMechanism).
//   - BenchmarkGaussianScalar, BenchmarkLaplaceScalar: one scalar call each.
//   - BenchmarkDiscreteInt64: integer noise (privml's exact discrete
//     Gaussian and Laplace on int64 against Google's AddNoiseInt64).
//   - BenchmarkGaussianVectorSampler: the raw dp.Sampler.AddGaussian path
//     used by DP-SGD.
//   - BenchmarkGaussianVectorParallel: one vector per goroutine; run with
//     -cpu 1,2 to see scaling with GOMAXPROCS.
//
// Run them with
//
//	go test -run '^$' -bench 'Vector|Scalar|DiscreteInt64' -benchtime 2s -count 5 ./benchmarks/ | tee new.txt
//	go run golang.org/x/perf/cmd/benchstat@latest new.txt
//
// and the scaling with
//
//	go test -run '^$' -bench 'GaussianVectorParallel' -cpu 1,2 ./benchmarks/
//
// # Privacy/utility studies (subfolders)
//
// Each study is one command that prints progress and writes a Markdown
// table and PNGs to benchmarks/results/: dpsgd-study (DP-SGD accuracy
// against ε), fed-study (DP-FedAvg, central and distributed noise),
// anon-study (Mondrian's information loss and downstream accuracy against
// k), he-study (CKKS precision and cost per preset) and audit (an
// empirical privacy audit of DP-SGD with package dp/audit). `go run
// ./benchmarks/all` runs them all and rewrites the trade-off section of
// BENCHMARKS.md; `-quick` runs each on tiny settings and the data in the
// repository (embedded sets, and the Fashion-MNIST subset of
// examples/he-convnet/testdata).
package benchmarks
