package federated

import (
	"errors"
	"math"
	"testing"
)

// stratFuzzFloats are the values the fuzzer picks from, so that it reaches
// ties, extremes and non-finite values quickly.
var stratFuzzFloats = [...]float64{
	0, 1, -1, 0.5, 2, 3, -100, 100, 1e-300, 5e-324,
	1e308, -1e308, math.MaxFloat64, -math.MaxFloat64,
	math.NaN(), math.Inf(1), math.Inf(-1),
}

// FuzzAggregators feeds every aggregator arbitrary client updates and
// weights: it must never panic, every error must wrap a sentinel of the
// package, and a nil error must come with a finite aggregate.
func FuzzAggregators(f *testing.F) {
	f.Add([]byte{5, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1, 1, 1})
	f.Add([]byte{7, 3, 1, 12, 12, 12, 0, 0, 0, 3, 3, 3, 2, 2, 2, 1, 1, 1, 4, 4, 4, 6, 6, 6})
	f.Add([]byte{3, 1, 0, 14, 0, 0})
	f.Add([]byte{11, 0})
	aggs := stratAllAggregators(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		n, d, withWeights := int(data[0]%12), int(data[1]%5), data[2]&1 == 1
		data = data[3:]
		next := func() float64 {
			if len(data) == 0 {
				return 1
			}
			v := stratFuzzFloats[int(data[0])%len(stratFuzzFloats)]
			data = data[1:]
			return v
		}
		updates := make([][]float64, n)
		for i := range updates {
			updates[i] = make([]float64, d)
			for j := range updates[i] {
				updates[i][j] = next()
			}
		}
		var weights []float64
		if withWeights {
			weights = make([]float64, n)
			for i := range weights {
				weights[i] = next()
			}
		}
		for _, a := range aggs {
			dst := make([]float64, d)
			err := a.Aggregate(dst, updates, weights)
			if err != nil {
				if !errors.Is(err, ErrInvalidUpdate) && !errors.Is(err, ErrInvalidWeight) && !errors.Is(err, ErrByzantineBound) {
					t.Fatalf("%s: error without a sentinel: %v", a.Name(), err)
				}
				continue
			}
			if j := aggFirstNonFinite(dst); j >= 0 {
				t.Fatalf("%s: nil error with dst[%d] = %v", a.Name(), j, dst[j])
			}
		}
	})
}
