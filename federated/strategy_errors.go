package federated

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors of the aggregation strategies. Every error returned by a
// [ServerOptimizer] or [Aggregator] of this package, and by [ProxGradient],
// wraps one of them (test with [errors.Is]); the message names the client
// index and coordinate, or the n and f, that were at fault.
var (
	// ErrInvalidUpdate reports an update or model vector that cannot be
	// used: a length that differs from the model's, a NaN or an infinity,
	// or no updates at all.
	ErrInvalidUpdate = errors.New("federated: invalid update")
	// ErrInvalidWeight reports a client weight that is negative, NaN or
	// infinite, a weights slice whose length is not the number of updates,
	// or weights whose sum is zero where a weighted mean is taken.
	ErrInvalidWeight = errors.New("federated: invalid weight")
	// ErrByzantineBound reports too few clients for the number f of
	// Byzantine clients a robust aggregator was built to tolerate (for
	// example n < 2f+3 for Krum).
	ErrByzantineBound = errors.New("federated: too few clients for the Byzantine bound")
	// ErrStrategyConfig reports an invalid hyper-parameter of a strategy
	// (a learning rate that is not positive, a decay outside [0, 1), an
	// option that does not apply to the optimizer it was given to).
	ErrStrategyConfig = errors.New("federated: invalid strategy parameter")
)

// aggCheckInputs validates what an [Aggregator] receives: at least one
// update, every update of len(dst) finite coordinates and not dst itself,
// and weights either nil or one finite non-negative value per update. It reports the first
// fault with the client index (and coordinate) that caused it.
func aggCheckInputs(name string, dst []float64, updates [][]float64, weights []float64) error {
	if len(updates) == 0 {
		return fmt.Errorf("%w: %s: no client updates", ErrInvalidUpdate, name)
	}
	if weights != nil && len(weights) != len(updates) {
		return fmt.Errorf("%w: %s: %d weights for %d updates", ErrInvalidWeight, name, len(weights), len(updates))
	}
	for i, u := range updates {
		if len(u) != len(dst) {
			return fmt.Errorf("%w: %s: client %d sent %d coordinates, the model has %d", ErrInvalidUpdate, name, i, len(u), len(dst))
		}
		if len(u) > 0 && &u[0] == &dst[0] {
			return fmt.Errorf("%w: %s: the destination is client %d's update", ErrInvalidUpdate, name, i)
		}
		if j := aggFirstNonFinite(u); j >= 0 {
			return fmt.Errorf("%w: %s: client %d, coordinate %d is %v", ErrInvalidUpdate, name, i, j, u[j])
		}
	}
	for i, w := range weights {
		if !(w >= 0) || math.IsInf(w, 1) {
			return fmt.Errorf("%w: %s: client %d has weight %v (want finite and >= 0)", ErrInvalidWeight, name, i, w)
		}
	}
	return nil
}

// aggFirstNonFinite returns the index of the first NaN or infinity in x,
// or -1 if every element is finite.
func aggFirstNonFinite(x []float64) int {
	for j, v := range x {
		// v-v is 0 for finite v and NaN for NaN and ±Inf.
		if v-v != 0 {
			return j
		}
	}
	return -1
}

// aggWeightSum returns the sum of the weights (n when weights is nil),
// with an error if it is zero or overflows.
func aggWeightSum(name string, n int, weights []float64) (float64, error) {
	if weights == nil {
		return float64(n), nil
	}
	var s float64
	for _, w := range weights {
		s += w
	}
	if s == 0 || math.IsInf(s, 1) {
		return 0, fmt.Errorf("%w: %s: the weights sum to %v", ErrInvalidWeight, name, s)
	}
	return s, nil
}

// aggWeight returns client i's weight, 1 when weights is nil.
func aggWeight(weights []float64, i int) float64 {
	if weights == nil {
		return 1
	}
	return weights[i]
}

// aggCheckBound returns an [ErrByzantineBound] error unless n >= k·f + c.
func aggCheckBound(name string, n, f, k, c int) error {
	if n >= k*f+c {
		return nil
	}
	return fmt.Errorf("%w: %s needs n >= %df+%d = %d clients, has n=%d for f=%d", ErrByzantineBound, name, k, c, k*f+c, n, f)
}

// aggCheckOutput returns an [ErrInvalidUpdate] error if the aggregate in
// dst overflowed (finite inputs near the float64 limits can round to an
// infinity).
func aggCheckOutput(name string, dst []float64) error {
	if j := aggFirstNonFinite(dst); j >= 0 {
		return fmt.Errorf("%w: %s: aggregate coordinate %d overflowed to %v", ErrInvalidUpdate, name, j, dst[j])
	}
	return nil
}
