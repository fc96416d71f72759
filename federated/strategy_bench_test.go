package federated

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAggregate runs each aggregator on one round of n = 100 client
// updates of d = 10,000 coordinates, with f = 20 where the rule takes an f
// (Multi-Krum averages m = n−f = 80). cpu-ns/op is the process's CPU time
// per operation (getrusage), which other jobs on the machine do not
// inflate as they do ns/op.
func BenchmarkAggregate(b *testing.B) {
	const n, d, f = 100, 10000, 20
	rng := rand.New(rand.NewPCG(1, 2))
	updates := make([][]float64, n)
	weights := make([]float64, n)
	for i := range updates {
		updates[i] = make([]float64, d)
		for j := range updates[i] {
			updates[i][j] = rng.NormFloat64()
		}
		weights[i] = float64(1 + rng.IntN(100))
	}
	must := func(a Aggregator, err error) Aggregator {
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	for _, a := range []Aggregator{
		NewWeightedMean(),
		must(NewMedian(f)),
		must(NewTrimmedMean(f)),
		must(NewKrum(f)),
		must(NewMultiKrum(f, n-f)),
		must(NewBulyan(f)),
		must(NewNormBound(NormBoundConfig{Bound: 50})),
		must(NewQFedAvg(QFedAvgConfig{Q: 0.1, ClientLearningRate: 0.1})),
	} {
		b.Run(a.Name(), func(b *testing.B) {
			dst := make([]float64, d)
			b.ReportAllocs()
			b.SetBytes(n * d * 8)
			cpu0, ok := stratCPUTime()
			for b.Loop() {
				if err := a.Aggregate(dst, updates, weights); err != nil {
					b.Fatal(err)
				}
			}
			if cpu1, ok1 := stratCPUTime(); ok && ok1 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkServerStep runs one server-optimizer step on d = 10,000
// coordinates.
func BenchmarkServerStep(b *testing.B) {
	const d = 10000
	global := make([]float64, d)
	delta := make([]float64, d)
	rng := rand.New(rand.NewPCG(3, 4))
	for j := range delta {
		delta[j] = 1e-3 * rng.NormFloat64()
	}
	mk := func(o ServerOptimizer, err error) ServerOptimizer {
		if err != nil {
			b.Fatal(err)
		}
		return o
	}
	for _, o := range []ServerOptimizer{mk(NewFedAvg()), mk(NewFedAvgM()), mk(NewFedAdam()), mk(NewFedYogi()), mk(NewFedAdagrad())} {
		b.Run(o.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(d * 8)
			for b.Loop() {
				if err := o.Step(global, delta); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
