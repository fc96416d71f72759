package federated

import (
	"fmt"
	"math"
	"strconv"
)

// OptimizerOption sets a hyper-parameter of a server optimizer built by
// [NewFedAvg], [NewFedAvgM], [NewFedAdam], [NewFedYogi] or [NewFedAdagrad].
// An option that the optimizer does not use (a momentum for FedAvg, a β2
// for FedAdagrad) is an error, so that a mistyped configuration is not
// silently ignored.
type OptimizerOption func(*optimizerConfig)

// optimizerConfig collects the options; set records which were given.
type optimizerConfig struct {
	lr, momentum, beta1, beta2, tau float64
	set                             uint8
}

const (
	optLR uint8 = 1 << iota
	optMomentum
	optBeta1
	optBeta2
	optTau
)

// WithServerLearningRate sets the server learning rate η (> 0, finite).
func WithServerLearningRate(eta float64) OptimizerOption {
	return func(c *optimizerConfig) { c.lr = eta; c.set |= optLR }
}

// WithMomentum sets FedAvgM's server momentum β in [0, 1).
func WithMomentum(beta float64) OptimizerOption {
	return func(c *optimizerConfig) { c.momentum = beta; c.set |= optMomentum }
}

// WithBeta1 sets the first-moment decay β1 in [0, 1) of FedAdam, FedYogi
// and FedAdagrad.
func WithBeta1(beta1 float64) OptimizerOption {
	return func(c *optimizerConfig) { c.beta1 = beta1; c.set |= optBeta1 }
}

// WithBeta2 sets the second-moment decay β2 in [0, 1) of FedAdam and
// FedYogi.
func WithBeta2(beta2 float64) OptimizerOption {
	return func(c *optimizerConfig) { c.beta2 = beta2; c.set |= optBeta2 }
}

// WithTau sets the adaptivity τ (> 0, finite) of FedAdam, FedYogi and
// FedAdagrad: the step on a coordinate is η·m/(√v + τ), so a smaller τ
// means more adaptivity.
func WithTau(tau float64) OptimizerOption {
	return func(c *optimizerConfig) { c.tau = tau; c.set |= optTau }
}

// optOptionNames names the options for error messages, in bit order.
var optOptionNames = [...]string{"server learning rate", "momentum", "beta1", "beta2", "tau"}

// buildOptimizerConfig applies opts over the defaults, rejects any option
// outside allowed and checks the ranges.
func buildOptimizerConfig(name string, def optimizerConfig, allowed uint8, opts []OptimizerOption) (optimizerConfig, error) {
	c := def
	c.set = 0
	for _, o := range opts {
		if o == nil {
			return c, fmt.Errorf("%w: %s: nil option", ErrStrategyConfig, name)
		}
		o(&c)
	}
	for b, n := range optOptionNames {
		if c.set&^allowed&(1<<b) != 0 {
			return c, fmt.Errorf("%w: %s: option %s does not apply", ErrStrategyConfig, name, n)
		}
	}
	if !(c.lr > 0) || math.IsInf(c.lr, 1) {
		return c, fmt.Errorf("%w: %s: server learning rate %v, want finite and > 0", ErrStrategyConfig, name, c.lr)
	}
	for _, p := range []struct {
		what string
		v    float64
	}{{"momentum", c.momentum}, {"beta1", c.beta1}, {"beta2", c.beta2}} {
		if !(p.v >= 0 && p.v < 1) {
			return c, fmt.Errorf("%w: %s: %s %v, want 0 <= %s < 1", ErrStrategyConfig, name, p.what, p.v, p.what)
		}
	}
	if allowed&optTau != 0 && (!(c.tau > 0) || math.IsInf(c.tau, 1)) {
		return c, fmt.Errorf("%w: %s: tau %v, want finite and > 0", ErrStrategyConfig, name, c.tau)
	}
	return c, nil
}

// optCheckStep validates the arguments of Step: equal lengths, finite
// values, and the dimension fixed by the optimizer's state (dim < 0: none
// yet).
func optCheckStep(name string, global, delta []float64, dim int) error {
	if len(global) != len(delta) {
		return fmt.Errorf("%w: %s: update has %d coordinates, the model has %d", ErrInvalidUpdate, name, len(delta), len(global))
	}
	if dim >= 0 && len(global) != dim {
		return fmt.Errorf("%w: %s: model has %d coordinates, earlier rounds had %d (call Reset to change models)", ErrInvalidUpdate, name, len(global), dim)
	}
	if j := aggFirstNonFinite(delta); j >= 0 {
		return fmt.Errorf("%w: %s: aggregated update coordinate %d is %v", ErrInvalidUpdate, name, j, delta[j])
	}
	if j := aggFirstNonFinite(global); j >= 0 {
		return fmt.Errorf("%w: %s: global model coordinate %d is %v", ErrInvalidUpdate, name, j, global[j])
	}
	return nil
}

func optFormatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// FedAvg is the server step of Federated Averaging (McMahan et al.,
// "Communication-Efficient Learning of Deep Networks from Decentralized
// Data", AISTATS 2017), with a server learning rate η as in Reddi et al.
// (ICLR 2021, Algorithm 1 with SGD as server optimizer):
//
//	global += η·Δ
//
// where Δ is the aggregated update (for example from [WeightedMean]). The
// default η = 1 is McMahan et al.'s FedAvg: the new model is the weighted
// mean of the clients' models. FedAvg holds no state between rounds and
// is safe for concurrent use.
type FedAvg struct {
	lr float64
}

// NewFedAvg returns FedAvg's server step. It accepts
// [WithServerLearningRate] (default 1).
func NewFedAvg(opts ...OptimizerOption) (*FedAvg, error) {
	c, err := buildOptimizerConfig("fedavg", optimizerConfig{lr: 1}, optLR, opts)
	if err != nil {
		return nil, err
	}
	return &FedAvg{lr: c.lr}, nil
}

// Name returns "fedavg".
func (*FedAvg) Name() string { return "fedavg" }

// String describes the optimizer and its hyper-parameters.
func (o *FedAvg) String() string { return "fedavg(eta=" + optFormatFloat(o.lr) + ")" }

// Step applies global += η·delta. On error global is unchanged.
func (o *FedAvg) Step(global, delta []float64) error {
	if err := optCheckStep(o.Name(), global, delta, -1); err != nil {
		return err
	}
	for j, d := range delta {
		global[j] += o.lr * d
	}
	return nil
}

// FedAvgM is Federated Averaging with server momentum (Hsu, Qi and Brown,
// "Measuring the Effects of Non-Identical Data Distribution for Federated
// Visual Classification", 2019):
//
//	v      = β·v + Δ
//	global += η·v
//
// with v = 0 before the first round. β = 0 is [FedAvg]. Defaults: η = 1,
// β = 0.9 (Hsu et al. study several β close to 1 and relate them through
// the effective rate η/(1−β); Flower's FedAvgM defaults to β = 0, which is
// plain FedAvg, so a momentum must be asked for there). The momentum is
// kept between rounds; FedAvgM is not safe for concurrent use.
type FedAvgM struct {
	lr, beta float64
	v        []float64
}

// NewFedAvgM returns the FedAvgM server optimizer. It accepts
// [WithServerLearningRate] (default 1) and [WithMomentum] (default 0.9).
func NewFedAvgM(opts ...OptimizerOption) (*FedAvgM, error) {
	c, err := buildOptimizerConfig("fedavgm", optimizerConfig{lr: 1, momentum: 0.9}, optLR|optMomentum, opts)
	if err != nil {
		return nil, err
	}
	return &FedAvgM{lr: c.lr, beta: c.momentum}, nil
}

// Name returns "fedavgm".
func (*FedAvgM) Name() string { return "fedavgm" }

// String describes the optimizer and its hyper-parameters.
func (o *FedAvgM) String() string {
	return "fedavgm(eta=" + optFormatFloat(o.lr) + " momentum=" + optFormatFloat(o.beta) + ")"
}

// Reset forgets the momentum, as before the first round.
func (o *FedAvgM) Reset() { o.v = nil }

// Step applies one round of momentum. The first call fixes the model
// dimension; a later call with another length is an error until [FedAvgM.Reset].
// On error neither global nor the momentum changes.
func (o *FedAvgM) Step(global, delta []float64) error {
	dim := -1
	if o.v != nil {
		dim = len(o.v)
	}
	if err := optCheckStep(o.Name(), global, delta, dim); err != nil {
		return err
	}
	if o.v == nil {
		o.v = make([]float64, len(global))
	}
	v := o.v[:len(delta)]
	for j, d := range delta {
		v[j] = o.beta*v[j] + d
		global[j] += o.lr * v[j]
	}
	return nil
}

// adaptiveKind selects the second-moment rule of [FedOpt].
type adaptiveKind uint8

const (
	kindAdagrad adaptiveKind = iota
	kindAdam
	kindYogi
)

// FedOpt is an adaptive server optimizer from Reddi et al., "Adaptive
// Federated Optimization" (ICLR 2021), Algorithm 2: with Δ the aggregated
// update of the round,
//
//	m = β1·m + (1−β1)·Δ
//	v = v + Δ²                               (FedAdagrad)
//	v = β2·v + (1−β2)·Δ²                      (FedAdam)
//	v = v − (1−β2)·Δ²·sign(v − Δ²)             (FedYogi)
//	global += η·m / (√v + τ)
//
// coordinate by coordinate, with m = 0 and v = τ² before the first round
// (the algorithm asks for v ≥ τ²; Flower starts v at 0, which differs only
// while v is of the order of τ²). As in the paper there is no bias
// correction. Build one with [NewFedAdam], [NewFedYogi] or
// [NewFedAdagrad]. The moments are kept between rounds; FedOpt is not safe
// for concurrent use.
type FedOpt struct {
	kind                  adaptiveKind
	lr, beta1, beta2, tau float64
	m, v                  []float64
}

// NewFedAdam returns FedAdam. It accepts [WithServerLearningRate],
// [WithBeta1], [WithBeta2] and [WithTau]; the defaults are those of
// Flower's FedAdam (flwr.serverapp; older releases used τ = 10⁻⁹): η = 0.1,
// β1 = 0.9, β2 = 0.99 (the decays Reddi et al. use in their experiments),
// τ = 10⁻³ (the paper tunes τ per task).
func NewFedAdam(opts ...OptimizerOption) (*FedOpt, error) {
	return newFedOpt("fedadam", kindAdam, optimizerConfig{lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3},
		optLR|optBeta1|optBeta2|optTau, opts)
}

// NewFedYogi returns FedYogi. It accepts [WithServerLearningRate],
// [WithBeta1], [WithBeta2] and [WithTau]; the defaults are those of
// Flower's FedYogi: η = 0.01, β1 = 0.9, β2 = 0.99, τ = 10⁻³.
func NewFedYogi(opts ...OptimizerOption) (*FedOpt, error) {
	return newFedOpt("fedyogi", kindYogi, optimizerConfig{lr: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3},
		optLR|optBeta1|optBeta2|optTau, opts)
}

// NewFedAdagrad returns FedAdagrad. It accepts [WithServerLearningRate],
// [WithBeta1] and [WithTau]; the defaults are those of Flower's
// FedAdagrad: η = 0.1, τ = 10⁻³, and β1 = 0 (no momentum, as Flower's
// FedAdagrad; Algorithm 2 allows any β1 in [0, 1)).
func NewFedAdagrad(opts ...OptimizerOption) (*FedOpt, error) {
	return newFedOpt("fedadagrad", kindAdagrad, optimizerConfig{lr: 0.1, beta1: 0, tau: 1e-3},
		optLR|optBeta1|optTau, opts)
}

func newFedOpt(name string, kind adaptiveKind, def optimizerConfig, allowed uint8, opts []OptimizerOption) (*FedOpt, error) {
	c, err := buildOptimizerConfig(name, def, allowed, opts)
	if err != nil {
		return nil, err
	}
	return &FedOpt{kind: kind, lr: c.lr, beta1: c.beta1, beta2: c.beta2, tau: c.tau}, nil
}

// Name returns "fedadam", "fedyogi" or "fedadagrad".
func (o *FedOpt) Name() string {
	switch o.kind {
	case kindAdam:
		return "fedadam"
	case kindYogi:
		return "fedyogi"
	default:
		return "fedadagrad"
	}
}

// String describes the optimizer and its hyper-parameters.
func (o *FedOpt) String() string {
	s := o.Name() + "(eta=" + optFormatFloat(o.lr) + " beta1=" + optFormatFloat(o.beta1)
	if o.kind != kindAdagrad {
		s += " beta2=" + optFormatFloat(o.beta2)
	}
	return s + " tau=" + optFormatFloat(o.tau) + ")"
}

// Reset forgets the moments, as before the first round.
func (o *FedOpt) Reset() { o.m, o.v = nil, nil }

// Step applies one round of the adaptive update. The first call fixes the
// model dimension; a later call with another length is an error until
// [FedOpt.Reset]. On error neither global nor the moments change.
func (o *FedOpt) Step(global, delta []float64) error {
	dim := -1
	if o.m != nil {
		dim = len(o.m)
	}
	if err := optCheckStep(o.Name(), global, delta, dim); err != nil {
		return err
	}
	if o.m == nil {
		o.m = make([]float64, len(global))
		o.v = make([]float64, len(global))
		for j := range o.v {
			o.v[j] = o.tau * o.tau
		}
	}
	m, v := o.m[:len(delta)], o.v[:len(delta)]
	b1, b2 := o.beta1, o.beta2
	for j, d := range delta {
		m[j] = b1*m[j] + (1-b1)*d
		d2 := d * d
		switch o.kind {
		case kindAdam:
			v[j] = b2*v[j] + (1-b2)*d2
		case kindYogi:
			switch {
			case v[j] > d2:
				v[j] -= (1 - b2) * d2
			case v[j] < d2:
				v[j] += (1 - b2) * d2
			}
		default:
			v[j] += d2
		}
		global[j] += o.lr * m[j] / (math.Sqrt(v[j]) + o.tau)
	}
	return nil
}

// NewServerOptimizer returns the server optimizer with the given name
// ("fedavg", "fedavgm", "fedadam", "fedyogi" or "fedadagrad", as returned
// by its Name method) built with opts, for configurations that name the
// strategy as a string (a command-line flag, a config file).
func NewServerOptimizer(name string, opts ...OptimizerOption) (ServerOptimizer, error) {
	switch name {
	case "fedavg":
		return asOptimizer(NewFedAvg(opts...))
	case "fedavgm":
		return asOptimizer(NewFedAvgM(opts...))
	case "fedadam":
		return asOptimizer(NewFedAdam(opts...))
	case "fedyogi":
		return asOptimizer(NewFedYogi(opts...))
	case "fedadagrad":
		return asOptimizer(NewFedAdagrad(opts...))
	}
	return nil, fmt.Errorf("%w: unknown server optimizer %q (want fedavg, fedavgm, fedadam, fedyogi or fedadagrad)", ErrStrategyConfig, name)
}

// asOptimizer returns a nil interface, not a nil pointer in a non-nil
// interface, on error.
func asOptimizer[T ServerOptimizer](o T, err error) (ServerOptimizer, error) {
	if err != nil {
		return nil, err
	}
	return o, nil
}

// Compile-time checks that the optimizers satisfy the interface.
var (
	_ ServerOptimizer = (*FedAvg)(nil)
	_ ServerOptimizer = (*FedAvgM)(nil)
	_ ServerOptimizer = (*FedOpt)(nil)
)
