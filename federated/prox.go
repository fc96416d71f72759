package federated

import (
	"fmt"
	"math"
)

// ProxGradient adds the gradient of FedProx's proximal term to a client's
// local gradient, in place:
//
//	grad += μ·(w − global)
//
// FedProx (Li, Sahu, Zaheer, Sanjabi, Talwalkar and Smith, "Federated
// Optimization in Heterogeneous Networks", MLSys 2020) has each client
// minimise h(w) = F_k(w) + (μ/2)·‖w − w_global‖² instead of its own loss
// F_k, which keeps local models near the global one when the clients'
// data differ; the server side is unchanged ([WeightedMean] and [FedAvg]).
// Call ProxGradient on each local gradient before the optimizer step; w is
// the current local model and global the model received at the start of
// the round. μ = 0 is FedAvg's local training.
//
// It returns an error wrapping [ErrStrategyConfig] if μ is negative or not
// finite, and [ErrInvalidUpdate] if the lengths differ or a value is not
// finite; grad is then unchanged.
func ProxGradient(grad, w, global []float64, mu float64) error {
	if err := proxCheck(grad, w, global, mu); err != nil {
		return err
	}
	if mu == 0 || len(grad) == 0 {
		return nil
	}
	_ = w[len(grad)-1]      // bounds check elimination hint
	_ = global[len(grad)-1] // bounds check elimination hint
	for j := range grad {
		grad[j] += mu * (w[j] - global[j])
	}
	return nil
}

// ProxTerm returns FedProx's proximal term (μ/2)·‖w − global‖², the
// amount the local objective adds to the client's loss, for reporting the
// objective that [ProxGradient] descends. Errors are as for ProxGradient.
func ProxTerm(w, global []float64, mu float64) (float64, error) {
	if err := proxCheck(w, w, global, mu); err != nil {
		return 0, err
	}
	var s float64
	for j, x := range w {
		d := x - global[j]
		s += d * d
	}
	return mu / 2 * s, nil
}

func proxCheck(grad, w, global []float64, mu float64) error {
	if !(mu >= 0) || math.IsInf(mu, 1) {
		return fmt.Errorf("%w: fedprox: mu %v, want finite and >= 0", ErrStrategyConfig, mu)
	}
	if len(w) != len(grad) || len(global) != len(grad) {
		return fmt.Errorf("%w: fedprox: lengths differ: gradient %d, local model %d, global model %d", ErrInvalidUpdate, len(grad), len(w), len(global))
	}
	for _, v := range []struct {
		what string
		x    []float64
	}{{"gradient", grad}, {"local model", w}, {"global model", global}} {
		if j := aggFirstNonFinite(v.x); j >= 0 {
			return fmt.Errorf("%w: fedprox: %s coordinate %d is %v", ErrInvalidUpdate, v.what, j, v.x[j])
		}
	}
	return nil
}
