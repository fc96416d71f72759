package federated

import (
	"fmt"
	"math"

	"github.com/privml/privml/internal/vec"
)

// QFedAvgConfig configures [QFedAvg].
type QFedAvgConfig struct {
	// Q is the fairness parameter q ≥ 0: the larger, the more the round
	// favours clients with a high loss. Zero is FedAvg with equal client
	// weights. Flower's QFedAvg defaults to 0.1.
	Q float64
	// ClientLearningRate is the clients' local learning rate η; the
	// Lipschitz constant of the gradients is estimated as L = 1/η, as in
	// the paper. Required: finite and > 0.
	ClientLearningRate float64
}

// QFedAvg is q-FedAvg, the server step of q-Fair Federated Learning (Li,
// Sanjabi, Beirami and Smith, "Fair Resource Allocation in Federated
// Learning", ICLR 2020, Algorithm 2). With F_k the loss of client k on its
// data at the global model of the round, u_k its update (local model minus
// global model) and L = 1/η,
//
//	Δ_k = F_k^q · L · u_k           h_k = q·F_k^(q−1)·L²·‖u_k‖² + L·F_k^q
//	dst = Σ Δ_k / Σ h_k
//
// so that global += dst (FedAvg with η = 1) is the paper's
// w ← w − Σ Δw_k / Σ h_k with Δw_k = −L·u_k. Clients with a higher loss get
// a larger share. QFedAvg implements [Aggregator] with the weights
// argument carrying the losses F_k (finite, ≥ 0; > 0 when 0 < q < 1). It
// is not Byzantine-robust: a client reporting a large loss dominates. It
// holds no state and is safe for concurrent use.
type QFedAvg struct {
	q, lip float64
}

// NewQFedAvg checks c and returns q-FedAvg.
func NewQFedAvg(c QFedAvgConfig) (*QFedAvg, error) {
	if !(c.Q >= 0) || math.IsInf(c.Q, 1) {
		return nil, fmt.Errorf("%w: qfedavg: q %v, want finite and >= 0", ErrStrategyConfig, c.Q)
	}
	if !(c.ClientLearningRate > 0) || math.IsInf(c.ClientLearningRate, 1) {
		return nil, fmt.Errorf("%w: qfedavg: client learning rate %v, want finite and > 0", ErrStrategyConfig, c.ClientLearningRate)
	}
	return &QFedAvg{q: c.Q, lip: 1 / c.ClientLearningRate}, nil
}

// Name returns "qfedavg".
func (*QFedAvg) Name() string { return "qfedavg" }

// Aggregate writes the q-FedAvg step into dst; losses[k] is client k's
// loss F_k at the round's global model. It returns an error wrapping
// [ErrInvalidUpdate] for bad updates and [ErrInvalidWeight] if losses is
// nil, a loss is negative, not finite or zero with 0 < q < 1, or the
// normaliser Σ h_k is zero or overflows. The updates are not modified.
func (a *QFedAvg) Aggregate(dst []float64, updates [][]float64, losses []float64) error {
	if err := aggCheckInputs(a.Name(), dst, updates, losses); err != nil {
		return err
	}
	if losses == nil {
		return fmt.Errorf("%w: %s: the clients' losses are required", ErrInvalidWeight, a.Name())
	}
	coef := make([]float64, len(updates))
	var h float64
	for k, u := range updates {
		f := losses[k]
		if f == 0 && a.q > 0 && a.q < 1 {
			return fmt.Errorf("%w: %s: client %d has loss 0, which q=%v in (0, 1) cannot weigh", ErrInvalidWeight, a.Name(), k, a.q)
		}
		fq := math.Pow(f, a.q)
		coef[k] = fq * a.lip
		h += a.lip * fq
		if a.q != 0 {
			h += a.q * math.Pow(f, a.q-1) * a.lip * a.lip * aggSqNorm(u)
		}
	}
	if !(h > 0) || math.IsInf(h, 1) {
		return fmt.Errorf("%w: %s: normaliser sum h = %v, want finite and > 0", ErrInvalidWeight, a.Name(), h)
	}
	clear(dst)
	for k, u := range updates {
		if coef[k] != 0 {
			vec.Axpy(dst, coef[k]/h, u)
		}
	}
	return aggCheckOutput(a.Name(), dst)
}

// aggSqNorm returns ‖x‖².
func aggSqNorm(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s
}

var _ Aggregator = (*QFedAvg)(nil)
