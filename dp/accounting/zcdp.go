package accounting

import (
	"fmt"
	"math"
)

// ZCDPDelta returns the δ at which rho-zCDP implies (eps, δ)-DP, by the
// conversion of Canonne, Kamath and Steinke 2020 (Prop. 12 of
// arXiv:2004.00010v4, the one OpenDP uses):
//
//	δ = inf_{α>1} exp((α-1)(αρ-ε)) / (α-1) · (1-1/α)^α,
//
// minimised over α by bisection on the derivative of its logarithm. It is
// the best conversion known for a generic zCDP mechanism; for a Gaussian,
// [GaussianDelta] with s = 1/sqrt(2ρ) is exact and smaller.
func ZCDPDelta(rho, eps float64) (float64, error) {
	if err := checkNonNegative("rho", rho); err != nil {
		return 0, err
	}
	if err := checkNonNegative("epsilon", eps); err != nil {
		return 0, err
	}
	return zcdpDelta(rho, eps), nil
}

func zcdpDelta(rho, eps float64) float64 {
	if rho == 0 {
		return 0
	}
	logDelta := func(a float64) float64 {
		return (a-1)*(a*rho-eps) + a*math.Log1p(-1/a) - math.Log(a-1)
	}
	lo, hi := 1.0+1e-9, (eps+1)/(2*rho)+2
	for range 200 {
		a := (lo + hi) / 2
		// d/dα log δ(α) = (2α-1)ρ - ε + log(1-1/α)
		if (2*a-1)*rho-eps+math.Log1p(-1/a) < 0 {
			lo = a
		} else {
			hi = a
		}
	}
	return math.Min(math.Exp(logDelta((lo+hi)/2)), 1)
}

// ZCDPEpsilon returns the smallest ε with ZCDPDelta(rho, ε) <= delta, by
// bisection to 1e-12 relative.
func ZCDPEpsilon(rho, delta float64) (float64, error) {
	if err := checkNonNegative("rho", rho); err != nil {
		return 0, err
	}
	if err := checkDelta("delta", delta); err != nil {
		return 0, err
	}
	return zcdpEpsilon(rho, delta), nil
}

func zcdpEpsilon(rho, delta float64) float64 {
	if rho == 0 || zcdpDelta(rho, 0) <= delta {
		return 0
	}
	// ρ + 2·sqrt(ρ log(1/δ)) is a valid (Bun-Steinke) upper end.
	hi := rho + 2*math.Sqrt(rho*math.Log(1/delta)) + 1e-9
	lo := 0.0
	for hi-lo > 1e-12*hi {
		mid := (lo + hi) / 2
		if zcdpDelta(rho, mid) > delta {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// ZCDPAccountant composes events under zero-concentrated DP (Bun and Steinke
// 2016): the ρ of the events add. It supports events with a zCDP guarantee
// and no subsampling: Gaussian (ρ = 1/(2s²)), discrete Gaussian
// (Δ²/(2σ²)), ZCDP, pure ε-DP (ε²/2), Laplace and discrete Laplace through
// their pure ε, the exponential mechanism (ε²/8, Cesar and Rogers 2021) and
// compositions of these. While every composed event is a Gaussian the
// composition is itself a Gaussian, and [ZCDPAccountant.Epsilon] uses the
// exact Gaussian curve; otherwise it uses the CKS20 conversion.
// A ZCDPAccountant is not safe for concurrent use.
type ZCDPAccountant struct {
	rho          float64
	gaussianOnly bool
	relation     Neighbouring
}

// NewZCDPAccountant returns an empty zCDP accountant for the relation rel.
func NewZCDPAccountant(rel Neighbouring) (*ZCDPAccountant, error) {
	if rel != AddRemoveOne && rel != ReplaceOne {
		return nil, invalid("neighbouring relation", int(rel), "AddRemoveOne or ReplaceOne")
	}
	return &ZCDPAccountant{gaussianOnly: true, relation: rel}, nil
}

// Rho returns the composed ρ.
func (a *ZCDPAccountant) Rho() float64 { return a.rho }

// Compose adds e. On error the accountant is unchanged.
func (a *ZCDPAccountant) Compose(e Event) error {
	if e == nil {
		return invalid("event", "nil", "an event")
	}
	if err := e.validate(); err != nil {
		return err
	}
	rho, gauss, err := a.rhoOf(e)
	if err != nil {
		return err
	}
	a.rho += rho
	a.gaussianOnly = a.gaussianOnly && gauss
	return nil
}

func (a *ZCDPAccountant) rhoOf(e Event) (rho float64, gaussian bool, err error) {
	f := a.relation.sensitivityFactor()
	pure := func(eps float64) float64 { return eps * eps / 2 }
	switch e := e.(type) {
	case Gaussian:
		s := e.NoiseMultiplier / f
		return 1 / (2 * s * s), true, nil
	case DiscreteGaussian:
		d := f * float64(e.Sensitivity)
		return d * d / (2 * e.Sigma * e.Sigma), false, nil
	case ZCDP:
		return e.Rho, false, nil
	case PureDP:
		return pure(e.Epsilon), false, nil
	case Laplace:
		return pure(f / e.NoiseMultiplier), false, nil
	case DiscreteLaplace:
		return pure(f * float64(e.Sensitivity) * e.Parameter), false, nil
	case ExponentialMechanism:
		return e.Epsilon * e.Epsilon / 8, false, nil
	case SelfComposed:
		r, g, err := a.rhoOf(e.Event)
		return r * float64(e.Count), g, err
	case Composed:
		all := true
		for _, ev := range e.Events {
			r, g, err := a.rhoOf(ev)
			if err != nil {
				return 0, false, err
			}
			rho += r
			all = all && g
		}
		return rho, all, nil
	}
	return 0, false, fmt.Errorf("%w: %T has no zCDP guarantee without subsampling", ErrUnsupportedEvent, e)
}

// Epsilon returns the ε at delta of everything composed so far.
func (a *ZCDPAccountant) Epsilon(delta float64) (float64, error) {
	if err := checkDelta("delta", delta); err != nil {
		return 0, err
	}
	if a.rho == 0 {
		return 0, nil
	}
	if a.gaussianOnly {
		return GaussianEpsilon(1/math.Sqrt(2*a.rho), delta)
	}
	return zcdpEpsilon(a.rho, delta), nil
}

// Delta returns the δ at eps of everything composed so far.
func (a *ZCDPAccountant) Delta(eps float64) (float64, error) {
	if err := checkNonNegative("epsilon", eps); err != nil {
		return 0, err
	}
	if a.rho == 0 {
		return 0, nil
	}
	if a.gaussianOnly {
		return gaussianDelta(1/math.Sqrt(2*a.rho), eps), nil
	}
	return zcdpDelta(a.rho, eps), nil
}
