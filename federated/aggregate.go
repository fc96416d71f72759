package federated

import "github.com/privml/privml/internal/vec"

// WeightedMean is the FedAvg aggregation rule (McMahan et al.,
// "Communication-Efficient Learning of Deep Networks from Decentralized
// Data", AISTATS 2017): the mean of the client updates weighted by the clients' weights,
// usually their numbers of local examples,
//
//	dst = Σ_i w_i·u_i / Σ_i w_i.
//
// A nil weights slice gives every client weight 1. WeightedMean offers no
// protection against a Byzantine client: one update scaled by a large
// factor, or one inflated weight, moves the mean arbitrarily far. Use a
// robust aggregator ([Median], [TrimmedMean], [Krum], [Bulyan],
// [NormBound]) when clients may misbehave.
//
// WeightedMean is the plaintext form of what secure aggregation computes
// when each client sends w_i·u_i and w_i as a side coordinate: the server
// then learns the two sums and divides.
//
// WeightedMean holds no state and is safe for concurrent use.
type WeightedMean struct{}

// NewWeightedMean returns the FedAvg weighted-mean aggregator.
func NewWeightedMean() WeightedMean { return WeightedMean{} }

// Name returns "weighted-mean".
func (WeightedMean) Name() string { return "weighted-mean" }

// Aggregate writes the weighted mean of updates into dst. It returns an
// error wrapping [ErrInvalidUpdate] if an update has the wrong length or a
// non-finite coordinate, and [ErrInvalidWeight] if a weight is negative or
// not finite or the weights sum to zero. dst must not share memory with an
// update (dst being one of the updates is reported as [ErrInvalidUpdate]);
// the updates are not modified.
func (m WeightedMean) Aggregate(dst []float64, updates [][]float64, weights []float64) error {
	if err := aggCheckInputs(m.Name(), dst, updates, weights); err != nil {
		return err
	}
	total, err := aggWeightSum(m.Name(), len(updates), weights)
	if err != nil {
		return err
	}
	clear(dst)
	for i, u := range updates {
		if w := aggWeight(weights, i); w != 0 {
			vec.Axpy(dst, w/total, u)
		}
	}
	return aggCheckOutput(m.Name(), dst)
}
