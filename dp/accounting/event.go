package accounting

import (
	"fmt"
	"math"
)

// Neighbouring is the relation between neighbouring data sets under which a
// guarantee holds.
type Neighbouring int

const (
	// AddRemoveOne (the zero value) calls two data sets neighbours when one is
	// the other with one record added or removed. A record whose contribution
	// has norm at most C moves a sum by at most C.
	AddRemoveOne Neighbouring = iota
	// ReplaceOne calls two data sets of the same size neighbours when they
	// differ in one record. Replacing a record of norm at most C by another
	// moves a sum by up to 2C, so every sensitivity doubles.
	ReplaceOne
)

// String returns "add-remove-one" or "replace-one".
func (n Neighbouring) String() string {
	switch n {
	case AddRemoveOne:
		return "add-remove-one"
	case ReplaceOne:
		return "replace-one"
	}
	return fmt.Sprintf("Neighbouring(%d)", int(n))
}

// sensitivityFactor is 1 for add/remove and 2 for replace-one.
func (n Neighbouring) sensitivityFactor() float64 {
	if n == ReplaceOne {
		return 2
	}
	return 1
}

// An Event is one differentially private operation on the data, or a
// combination of operations. The concrete types of this package are the only
// events; accountants reject what they cannot account for with
// [ErrUnsupportedEvent].
//
// Noise parameters are stated per record, not per neighbouring pair: a
// Gaussian's NoiseMultiplier is the noise standard deviation divided by the
// bound C on the norm of one record's contribution (the clipping norm in
// DP-SGD). The accountant's [Neighbouring] relation turns C into the
// sensitivity C (add/remove) or 2C (replace-one).
type Event interface {
	validate() error
}

// Gaussian adds N(0, (NoiseMultiplier·C)²) noise to each coordinate of a
// query whose per-record contribution has L2 norm at most C.
type Gaussian struct {
	NoiseMultiplier float64 // Required: > 0.
}

// Laplace adds Laplace noise of scale NoiseMultiplier·C to a query whose
// per-record contribution has L1 norm at most C.
type Laplace struct {
	NoiseMultiplier float64 // Required: > 0.
}

// DiscreteGaussian adds discrete Gaussian noise with parameter Sigma to an
// integer query whose per-record contribution has L2 norm at most
// Sensitivity (Canonne, Kamath and Steinke 2020).
type DiscreteGaussian struct {
	Sigma       float64 // Required: > 0.
	Sensitivity int     // Required: >= 1.
}

// DiscreteLaplace adds two-sided geometric noise with probability mass
// proportional to exp(-Parameter·|k|) to an integer query whose per-record
// contribution has L1 norm at most Sensitivity.
type DiscreteLaplace struct {
	Parameter   float64 // Required: > 0.
	Sensitivity int     // Required: >= 1.
}

// RandomizedResponse is k-ary randomized response on one record's value:
// with probability NoiseParameter it reports a uniformly random one of
// Buckets values, otherwise the true value. It is a local mechanism, defined
// under [ReplaceOne] only.
type RandomizedResponse struct {
	NoiseParameter float64 // Required: in [0, 1].
	Buckets        int     // Required: >= 1.
}

// ExponentialMechanism is the exponential mechanism (or any
// Epsilon-bounded-range mechanism) with pure-DP guarantee Epsilon under the
// accountant's relation.
type ExponentialMechanism struct {
	Epsilon float64 // Required: > 0.
}

// ZCDP is any mechanism satisfying Rho-zero-concentrated DP (Bun and Steinke
// 2016) under the accountant's relation.
type ZCDP struct {
	Rho float64 // Required: >= 0.
}

// PureDP is any mechanism satisfying Epsilon-DP under the accountant's
// relation.
type PureDP struct {
	Epsilon float64 // Required: >= 0.
}

// ApproxDP is any mechanism satisfying (Epsilon, Delta)-DP under the
// accountant's relation.
type ApproxDP struct {
	Epsilon float64 // Required: >= 0.
	Delta   float64 // Required: in [0, 1).
}

// PoissonSampled runs Event on a Poisson sample of the data: each record is
// included independently with probability Rate. Accounted under
// [AddRemoveOne].
type PoissonSampled struct {
	Rate  float64 // Required: in (0, 1].
	Event Event   // Required: a Gaussian, or a composition of Gaussians.
}

// SampledWithoutReplacement runs Event on a uniformly random subset of
// SampleSize records out of PopulationSize. Accounted under [ReplaceOne]
// with the bound of Wang, Balle and Kasiviswanathan (2019).
type SampledWithoutReplacement struct {
	SampleSize     int   // Required: in [1, PopulationSize].
	PopulationSize int   // Required: >= 1.
	Event          Event // Required: a Gaussian, or a composition of Gaussians.
}

// SelfComposed runs Event Count times.
type SelfComposed struct {
	Event Event // Required.
	Count int   // Required: >= 1.
}

// Composed runs each of Events once (heterogeneous composition).
type Composed struct {
	Events []Event // Required: at least one.
}

func (e Gaussian) validate() error { return checkPositive("noise multiplier", e.NoiseMultiplier) }
func (e Laplace) validate() error {
	return checkPositive("Laplace noise multiplier", e.NoiseMultiplier)
}

func (e DiscreteGaussian) validate() error {
	if err := checkPositive("discrete Gaussian sigma", e.Sigma); err != nil {
		return err
	}
	if e.Sensitivity < 1 {
		return invalid("discrete Gaussian sensitivity", e.Sensitivity, ">= 1")
	}
	return nil
}

func (e DiscreteLaplace) validate() error {
	if err := checkPositive("discrete Laplace parameter", e.Parameter); err != nil {
		return err
	}
	if e.Sensitivity < 1 {
		return invalid("discrete Laplace sensitivity", e.Sensitivity, ">= 1")
	}
	return nil
}

func (e RandomizedResponse) validate() error {
	if math.IsNaN(e.NoiseParameter) || e.NoiseParameter < 0 || e.NoiseParameter > 1 {
		return invalid("randomized response noise parameter", e.NoiseParameter, "in [0, 1]")
	}
	if e.Buckets < 1 {
		return invalid("randomized response buckets", e.Buckets, ">= 1")
	}
	return nil
}

func (e ExponentialMechanism) validate() error {
	return checkPositive("exponential mechanism epsilon", e.Epsilon)
}
func (e ZCDP) validate() error   { return checkNonNegative("rho", e.Rho) }
func (e PureDP) validate() error { return checkNonNegative("epsilon", e.Epsilon) }

func (e ApproxDP) validate() error {
	if err := checkNonNegative("epsilon", e.Epsilon); err != nil {
		return err
	}
	if math.IsNaN(e.Delta) || e.Delta < 0 || e.Delta >= 1 {
		return invalid("delta", e.Delta, "in [0, 1)")
	}
	return nil
}

func (e PoissonSampled) validate() error {
	if err := checkRate("sampling rate", e.Rate); err != nil {
		return err
	}
	if e.Event == nil {
		return invalid("sampled event", "nil", "an event")
	}
	return e.Event.validate()
}

func (e SampledWithoutReplacement) validate() error {
	if e.PopulationSize < 1 {
		return invalid("population size", e.PopulationSize, ">= 1")
	}
	if e.SampleSize < 1 || e.SampleSize > e.PopulationSize {
		return invalid("sample size", e.SampleSize, fmt.Sprintf("in [1, %d]", e.PopulationSize))
	}
	if e.Event == nil {
		return invalid("sampled event", "nil", "an event")
	}
	return e.Event.validate()
}

func (e SelfComposed) validate() error {
	if err := checkSteps("count", e.Count); err != nil {
		return err
	}
	if e.Event == nil {
		return invalid("composed event", "nil", "an event")
	}
	return e.Event.validate()
}

func (e Composed) validate() error {
	if len(e.Events) == 0 {
		return invalid("number of composed events", 0, ">= 1")
	}
	for i, ev := range e.Events {
		if ev == nil {
			return invalid(fmt.Sprintf("composed event %d", i), "nil", "an event")
		}
		if err := ev.validate(); err != nil {
			return err
		}
	}
	return nil
}

// gaussianMultiplier returns the noise multiplier of the single Gaussian
// equivalent to e when e is a Gaussian or a composition of Gaussians: k
// Gaussian queries with multipliers σ_i release no more than one query with
// multiplier (Σ σ_i⁻²)^(-1/2) (Mironov, Talwar and Zhang 2019, Sec. 3).
func gaussianMultiplier(e Event) (float64, bool) {
	switch e := e.(type) {
	case Gaussian:
		return e.NoiseMultiplier, true
	case SelfComposed:
		s, ok := gaussianMultiplier(e.Event)
		return s / math.Sqrt(float64(e.Count)), ok
	case Composed:
		var inv float64
		for _, ev := range e.Events {
			s, ok := gaussianMultiplier(ev)
			if !ok {
				return 0, false
			}
			inv += 1 / (s * s)
		}
		return 1 / math.Sqrt(inv), true
	}
	return 0, false
}
