package accounting

import (
	"fmt"
	"math"
	"slices"
)

// Conversion selects the RDP-to-(ε, δ) conversion.
type Conversion int

const (
	// ConversionCKS20 (the zero value, and the default) is the conversion of
	// Canonne, Kamath and Steinke 2020 (Prop. 12 of arXiv:2004.00010v4) and
	// Balle et al. 2020 (Thm. 21 of arXiv:1905.09982): ε = ε(α) + log(1-1/α)
	// - (log δ + log α)/(α-1), used for α > 1.01, together with δ >=
	// sqrt(1-exp(-ε(α))) giving ε = 0. It is never worse than the classic one.
	ConversionCKS20 Conversion = iota
	// ConversionClassic is Mironov 2017, Prop. 3: ε = ε(α) + log(1/δ)/(α-1).
	ConversionClassic
)

// String returns "cks20" or "classic".
func (c Conversion) String() string {
	switch c {
	case ConversionCKS20:
		return "cks20"
	case ConversionClassic:
		return "classic"
	}
	return fmt.Sprintf("Conversion(%d)", int(c))
}

// DefaultOrders returns the default grid of RDP orders: 1.1, 1.2, ..., 10.9,
// then 11, 12, ..., 63, then 128, 256, 512 and 1024 (156 orders, the grid of
// dp_accounting's RdpAccountant). It covers the optimal order of the
// subsampled Gaussian for ε from about 0.05 to several hundred; an optimal
// order at either end of the grid (reported by [RDPAccountant.Epsilon]) means a wider
// grid would help.
func DefaultOrders() []float64 {
	o := make([]float64, 0, 156)
	for x := 1; x < 100; x++ {
		o = append(o, 1+float64(x)/10)
	}
	for x := 11; x < 64; x++ {
		o = append(o, float64(x))
	}
	return append(o, 128, 256, 512, 1024)
}

// RDPConfig configures an [RDPAccountant] accountant. The zero value is the default.
type RDPConfig struct {
	// Orders is the grid of Rényi orders, each > 1 (+Inf allowed). Defaults
	// to [DefaultOrders].
	Orders []float64
	// Relation is the neighbouring relation. Defaults to [AddRemoveOne].
	Relation Neighbouring
	// Conversion is the RDP-to-(ε, δ) conversion. Defaults to
	// [ConversionCKS20].
	Conversion Conversion
}

// RDPAccountant is a Rényi-DP accountant (Mironov 2017). It composes events by adding
// their RDP curves on a grid of orders and converts the total to (ε, δ).
// An RDPAccountant is not safe for concurrent use.
type RDPAccountant struct {
	orders     []float64
	rdp        []float64
	logNoFail  float64 // log Π(1-δ_i) over composed ApproxDP events
	relation   Neighbouring
	conversion Conversion
}

// NewRDPAccountant returns an empty RDP accountant.
func NewRDPAccountant(cfg RDPConfig) (*RDPAccountant, error) {
	orders := cfg.Orders
	if orders == nil {
		orders = DefaultOrders()
	}
	if len(orders) == 0 {
		return nil, invalid("number of RDP orders", 0, ">= 1")
	}
	for i, a := range orders {
		if math.IsNaN(a) || a <= 1 {
			return nil, invalid(fmt.Sprintf("RDPConfig.Orders[%d] (an RDP order)", i), a, "> 1")
		}
	}
	if cfg.Relation != AddRemoveOne && cfg.Relation != ReplaceOne {
		return nil, invalid("neighbouring relation", int(cfg.Relation), "AddRemoveOne or ReplaceOne")
	}
	if cfg.Conversion != ConversionCKS20 && cfg.Conversion != ConversionClassic {
		return nil, invalid("conversion", int(cfg.Conversion), "ConversionCKS20 or ConversionClassic")
	}
	return &RDPAccountant{
		orders:     slices.Clone(orders),
		rdp:        make([]float64, len(orders)),
		relation:   cfg.Relation,
		conversion: cfg.Conversion,
	}, nil
}

// Orders returns a copy of the accountant's grid of orders.
func (a *RDPAccountant) Orders() []float64 { return slices.Clone(a.orders) }

// Curve returns a copy of the composed RDP ε(α), one value per order.
func (a *RDPAccountant) Curve() []float64 { return slices.Clone(a.rdp) }

// Relation returns the accountant's neighbouring relation.
func (a *RDPAccountant) Relation() Neighbouring { return a.relation }

// Compose adds e to the accountant. On error the accountant is unchanged.
func (a *RDPAccountant) Compose(e Event) error {
	if e == nil {
		return invalid("event", "nil", "an event")
	}
	if err := e.validate(); err != nil {
		return err
	}
	add := make([]float64, len(a.orders))
	logNoFail, err := a.curve(e, 1, add)
	if err != nil {
		return err
	}
	for i := range a.rdp {
		a.rdp[i] += add[i]
	}
	a.logNoFail += logNoFail
	return nil
}

// curve adds count times the RDP curve of e to dst and returns the log of
// the probability that no ApproxDP event in e fails.
func (a *RDPAccountant) curve(e Event, count float64, dst []float64) (float64, error) {
	f := a.relation.sensitivityFactor()
	each := func(fn func(alpha float64) float64) {
		for i, al := range a.orders {
			dst[i] += count * fn(al)
		}
	}
	switch e := e.(type) {
	case Gaussian:
		s := e.NoiseMultiplier / f
		each(func(al float64) float64 { return rdpGaussian(s, al) })
	case Laplace:
		eps := f / e.NoiseMultiplier
		each(func(al float64) float64 { return rdpLaplace(eps, al) })
	case DiscreteGaussian:
		// ρ-zCDP with ρ = Δ²/(2σ²) (Canonne, Kamath and Steinke 2020,
		// Prop. 5): an upper bound, tight up to a factor 1 + O(e^{-σ²}).
		d := f * float64(e.Sensitivity)
		rho := d * d / (2 * e.Sigma * e.Sigma)
		each(func(al float64) float64 { return rho * al })
	case DiscreteLaplace:
		eps := f * float64(e.Sensitivity) * e.Parameter
		each(func(al float64) float64 { return rdpPure(eps, al) })
	case RandomizedResponse:
		if a.relation != ReplaceOne {
			return 0, fmt.Errorf("%w: randomized response is defined under replace-one, accountant uses %v", ErrUnsupportedEvent, a.relation)
		}
		each(func(al float64) float64 { return rdpRandomizedResponse(e.NoiseParameter, e.Buckets, al) })
	case ExponentialMechanism:
		each(func(al float64) float64 { return rdpExponential(e.Epsilon, al) })
	case ZCDP:
		each(func(al float64) float64 { return e.Rho * al })
	case PureDP:
		each(func(al float64) float64 { return rdpPure(e.Epsilon, al) })
	case ApproxDP:
		// An (ε, δ)-DP pair is an ε-DP pair except with probability δ
		// (Murtagh and Vadhan 2016, Lemma 3.2).
		each(func(al float64) float64 { return rdpPure(e.Epsilon, al) })
		return count * math.Log1p(-e.Delta), nil
	case PoissonSampled:
		if a.relation != AddRemoveOne {
			return 0, fmt.Errorf("%w: Poisson sampling is accounted under add-remove-one, accountant uses %v (use SampledWithoutReplacement)", ErrUnsupportedEvent, a.relation)
		}
		s, ok := gaussianMultiplier(e.Event)
		if !ok {
			return 0, fmt.Errorf("%w: Poisson-sampled %T (RDP supports Gaussians only)", ErrUnsupportedEvent, e.Event)
		}
		g := newSGM(e.Rate, s)
		each(g.rdp)
	case SampledWithoutReplacement:
		if a.relation != ReplaceOne {
			return 0, fmt.Errorf("%w: sampling without replacement is accounted under replace-one, accountant uses %v", ErrUnsupportedEvent, a.relation)
		}
		s, ok := gaussianMultiplier(e.Event)
		if !ok {
			return 0, fmt.Errorf("%w: sampled-without-replacement %T (RDP supports Gaussians only)", ErrUnsupportedEvent, e.Event)
		}
		q := float64(e.SampleSize) / float64(e.PopulationSize)
		t := worTableFor(s/f, a.orders)
		each(func(al float64) float64 { return t.rdp(q, al) })
	case SelfComposed:
		return a.curve(e.Event, count*float64(e.Count), dst)
	case Composed:
		var lnf float64
		for _, ev := range e.Events {
			l, err := a.curve(ev, count, dst)
			if err != nil {
				return 0, err
			}
			lnf += l
		}
		return lnf, nil
	default:
		return 0, fmt.Errorf("%w: %T", ErrUnsupportedEvent, e)
	}
	return 0, nil
}

// Epsilon returns the smallest ε over the grid such that everything composed
// so far is (ε, delta)-DP, and the order that attains it. It is an upper
// bound on the true ε, exact given the RDP curve on the grid.
func (a *RDPAccountant) Epsilon(delta float64) (eps, order float64, err error) {
	if err := checkDelta("delta", delta); err != nil {
		return 0, 0, err
	}
	// 1-δ = (1-δ')·Π(1-δ_i): the part of δ left for the RDP curve.
	eff := -math.Expm1(math.Log1p(-delta) - a.logNoFail)
	if eff <= 0 {
		return math.Inf(1), 0, nil
	}
	eps, order = epsilonFromRDP(a.orders, a.rdp, eff, a.conversion)
	return eps, order, nil
}

// Delta returns the smallest δ over the grid such that everything composed
// so far is (eps, δ)-DP, and the order that attains it.
func (a *RDPAccountant) Delta(eps float64) (delta, order float64, err error) {
	if err := checkNonNegative("epsilon", eps); err != nil {
		return 0, 0, err
	}
	d, order := deltaFromRDP(a.orders, a.rdp, eps, a.conversion)
	// δ = 1 - (1-d)Π(1-δ_i)
	return -math.Expm1(math.Log1p(-d) + a.logNoFail), order, nil
}

// epsilonFromRDP converts an RDP curve to ε at delta in (0, 1).
func epsilonFromRDP(orders, rdp []float64, delta float64, conv Conversion) (float64, float64) {
	best, bestOrder := math.Inf(1), 0.0
	logDelta := math.Log(delta)
	for i, al := range orders {
		r := rdp[i]
		var eps float64
		switch {
		case math.IsNaN(r) || math.IsInf(r, 1):
			continue
		case r <= 0:
			eps = 0
		case math.IsInf(al, 1):
			eps = r
		case conv == ConversionClassic:
			eps = r - logDelta/(al-1)
		case delta*delta+math.Expm1(-r) > 0:
			// δ >= sqrt(1-e^{-KL}) bounds the total variation distance.
			eps = 0
		case al > 1.01:
			eps = r + math.Log1p(-1/al) - (logDelta+math.Log(al))/(al-1)
		default:
			continue
		}
		if eps < best {
			best, bestOrder = eps, al
		}
	}
	return math.Max(best, 0), bestOrder
}

// deltaFromRDP converts an RDP curve to δ at eps >= 0.
func deltaFromRDP(orders, rdp []float64, eps float64, conv Conversion) (float64, float64) {
	best, bestOrder := 0.0, 0.0 // log δ
	for i, al := range orders {
		r := rdp[i]
		var ld float64
		switch {
		case math.IsNaN(r) || math.IsInf(r, 1):
			continue
		case r <= 0:
			ld = math.Inf(-1)
		case math.IsInf(al, 1):
			if r <= eps {
				ld = math.Inf(-1)
			} else {
				continue
			}
		case conv == ConversionClassic:
			ld = (al - 1) * (r - eps)
		default:
			ld = 0.5 * math.Log1p(-math.Exp(-r))
			if al > 1.01 {
				ld = math.Min(ld, (al-1)*(r-eps+math.Log1p(-1/al))-math.Log(al))
			}
		}
		if ld < best {
			best, bestOrder = ld, al
		}
	}
	return math.Min(math.Exp(best), 1), bestOrder
}
