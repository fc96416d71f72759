package accounting

import (
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/dsp/fourier"
)

// PLDConfig configures a [PLDAccountant]. The zero value is the default.
type PLDConfig struct {
	// Interval is the spacing of the privacy-loss grid. Defaults to 1e-4.
	// A finer grid is tighter and slower.
	Interval float64
	// TailMass is the probability mass dropped from each tail of a
	// distribution: the upper tail is counted as infinite loss and the lower
	// tail moved up to the lowest grid point kept, so the bound stays
	// pessimistic. Defaults to 1e-15.
	TailMass float64
	// Relation is the neighbouring relation. Defaults to [AddRemoveOne].
	Relation Neighbouring
}

// PLDAccountant accounts with privacy loss distributions (Koskela, Jälkö and
// Honkela 2020; Meiser and Mohammadi 2018), in the design of Google's
// dp_accounting. Each event's pair of output distributions is replaced by a
// discrete dominating pair on the grid Interval·ℤ, built with the
// "connect the dots" construction of Doroshenko et al. 2022: its privacy
// profile δ(ε) equals the event's exact one at every grid point and is
// linear in e^ε between them, so, the profile being convex in e^ε, it lies
// above the exact profile everywhere. Composition convolves the
// distributions with the FFT (gonum dsp/fourier); a self-composition is
// one transform raised to the k-th power pointwise, on a window sized by a
// Chernoff bound. Both directions of the add/remove relation are tracked
// and the worse is reported. The result is an upper bound on the true δ(ε)
// (resp. ε(δ)) whose slack is the discretisation error: it shrinks with
// Interval, and [PLDAccountant.Epsilon] can be compared against a run at
// half the interval to measure it.
//
// Supported events: Gaussian, Laplace, PoissonSampled Gaussian or Laplace
// (add/remove only), PureDP, and their compositions.
// A PLDAccountant is not safe for concurrent use.
type PLDAccountant struct {
	cfg  PLDConfig
	dirs [2]pmf // [0]: the "remove" direction, [1]: "add"
}

// pmf is a privacy loss distribution on the grid: mass[k] sits at loss
// (offset+k)·interval, and inf is the mass at +∞.
type pmf struct {
	offset int
	mass   []float64
	inf    float64
}

// NewPLDAccountant returns an empty PLD accountant.
func NewPLDAccountant(cfg PLDConfig) (*PLDAccountant, error) {
	if cfg.Interval == 0 {
		cfg.Interval = 1e-4
	}
	if cfg.TailMass == 0 {
		cfg.TailMass = 1e-15
	}
	if err := checkPositive("PLD interval", cfg.Interval); err != nil {
		return nil, err
	}
	if math.IsNaN(cfg.TailMass) || cfg.TailMass <= 0 || cfg.TailMass > 1e-6 {
		return nil, invalid("PLD tail mass", cfg.TailMass, "in (0, 1e-6]")
	}
	if cfg.Relation != AddRemoveOne && cfg.Relation != ReplaceOne {
		return nil, invalid("neighbouring relation", int(cfg.Relation), "AddRemoveOne or ReplaceOne")
	}
	id := pmf{mass: []float64{1}}
	return &PLDAccountant{cfg: cfg, dirs: [2]pmf{id, id}}, nil
}

// Interval returns the grid spacing in use.
func (a *PLDAccountant) Interval() float64 { return a.cfg.Interval }

// Compose adds e. On error the accountant is unchanged.
func (a *PLDAccountant) Compose(e Event) error {
	if e == nil {
		return invalid("event", "nil", "an event")
	}
	if err := e.validate(); err != nil {
		return err
	}
	d, err := a.build(e)
	if err != nil {
		return err
	}
	var next [2]pmf
	for i := range a.dirs {
		if next[i], err = a.convolve(a.dirs[i], d[i]); err != nil {
			return err
		}
	}
	a.dirs = next
	return nil
}

// build returns the PLD pair of e.
func (a *PLDAccountant) build(e Event) ([2]pmf, error) {
	f := a.cfg.Relation.sensitivityFactor()
	switch e := e.(type) {
	case Gaussian:
		return a.fromCurve(gaussianPair(e.NoiseMultiplier/f), 1)
	case Laplace:
		return a.fromCurve(laplacePair(e.NoiseMultiplier/f), 1)
	case PureDP:
		return a.fromCurve(pureDPPair(e.Epsilon), 1)
	case PoissonSampled:
		if a.cfg.Relation != AddRemoveOne {
			return [2]pmf{}, fmt.Errorf("%w: Poisson sampling is accounted under add-remove-one, accountant uses %v", ErrUnsupportedEvent, a.cfg.Relation)
		}
		if s, ok := gaussianMultiplier(e.Event); ok {
			return a.fromCurve(gaussianPair(s), e.Rate)
		}
		if l, ok := e.Event.(Laplace); ok {
			return a.fromCurve(laplacePair(l.NoiseMultiplier), e.Rate)
		}
		return [2]pmf{}, fmt.Errorf("%w: Poisson-sampled %T (PLD supports Gaussian and Laplace)", ErrUnsupportedEvent, e.Event)
	case SelfComposed:
		base, err := a.build(e.Event)
		if err != nil {
			return base, err
		}
		var out [2]pmf
		for i := range out {
			if out[i], err = a.selfCompose(base[i], e.Count); err != nil {
				return out, err
			}
		}
		return out, nil
	case Composed:
		id := pmf{mass: []float64{1}}
		out := [2]pmf{id, id}
		for _, ev := range e.Events {
			d, err := a.build(ev)
			if err != nil {
				return out, err
			}
			for i := range out {
				if out[i], err = a.convolve(out[i], d[i]); err != nil {
					return out, err
				}
			}
		}
		return out, nil
	}
	return [2]pmf{}, fmt.Errorf("%w: %T", ErrUnsupportedEvent, e)
}

// basePair describes a symmetric dominating pair (P, Q) by its hockey-stick
// divergence H_γ(P‖Q) = sup_S P(S) - γQ(S) for γ > 0, returned as a log
// (-Inf for 0), and a range [lo, hi] outside which its privacy loss ln(dP/dQ)
// has mass below 1e-17 under both P and Q. Symmetric means H_γ(P‖Q) =
// H_γ(Q‖P).
type basePair struct {
	logH   func(logGamma float64) float64
	lo, hi float64
}

// gaussianPair is N(1, s²) against N(0, s²) (Balle and Wang 2018, Thm. 8).
func gaussianPair(s float64) basePair {
	m := 1 / (2 * s * s)
	w := 8.5 / s // 8.5 standard deviations of the loss
	return basePair{
		logH: func(lg float64) float64 {
			a := logNormCDF(1/(2*s) - s*lg)
			b := lg + logNormCDF(-1/(2*s)-s*lg)
			return logSub(a, b)
		},
		lo: -m - w, hi: m + w,
	}
}

// laplacePair is Lap(1, b) against Lap(0, b); its loss lies in [-1/b, 1/b].
func laplacePair(b float64) basePair {
	e := 1 / b
	return basePair{
		logH: func(lg float64) float64 {
			switch {
			case lg >= e:
				return math.Inf(-1)
			case lg <= -e:
				return math.Log(-math.Expm1(lg))
			}
			return math.Log(-math.Expm1((lg - e) / 2))
		},
		lo: -e, hi: e,
	}
}

// pureDPPair is binary randomized response with loss ±eps, the dominating
// pair of every eps-DP mechanism (Kairouz, Oh and Viswanath 2015).
func pureDPPair(eps float64) basePair {
	return basePair{
		logH: func(lg float64) float64 {
			switch {
			case lg >= eps:
				return math.Inf(-1)
			case lg <= -eps:
				return math.Log(-math.Expm1(lg))
			}
			// P = (e^ε, 1)/(1+e^ε), Q reversed: H = (e^ε - γ)/(1+e^ε)
			return logSub(eps, lg) - softplus(eps)
		},
		lo: -eps, hi: eps,
	}
}

// subsampledDeltas returns the log privacy profiles of the two directions of
// the Poisson-subsampled pair with M = (1-q)Q + qP (Balle, Barthe and
// Gaboardi 2018; Zhu, Dong and Wang 2022, Prop. 30):
//
//	remove: H_{e^ε}(M‖Q) = q·H_γ(P‖Q),             γ = (e^ε - 1 + q)/q
//	add:    H_{e^ε}(Q‖M) = c·H_γ(Q‖P), c = 1 - e^ε(1-q), γ = e^ε q / c.
//
// For q = 1 both reduce to the pair itself.
func subsampledDeltas(p basePair, q float64) (remove, add func(eps float64) float64) {
	lq := math.Log(q)
	remove = func(eps float64) float64 {
		// e^ε - 1 + q > 0 is needed; below that the set S is everything.
		if eps <= math.Log1p(-q) {
			return math.Log(-math.Expm1(eps))
		}
		var lg float64
		if eps > 0 {
			lg = logAdd(logExpm1(eps), lq) - lq
		} else {
			lg = logSub(lq, math.Log(-math.Expm1(eps))) - lq
		}
		return lq + p.logH(lg)
	}
	add = func(eps float64) float64 {
		// c = 1 - e^ε(1-q) must be positive, else δ = 0.
		if q < 1 && eps >= -math.Log1p(-q) {
			return math.Inf(-1)
		}
		if q == 1 {
			return p.logH(eps)
		}
		lc := math.Log(-math.Expm1(eps + math.Log1p(-q)))
		return lc + p.logH(eps+lq-lc)
	}
	return remove, add
}

// lossRange maps the base pair's loss range through subsampling.
func lossRange(p basePair, q float64) (lo, hi [2]float64) {
	g := func(l float64) float64 { return logAdd(math.Log1p(-q), math.Log(q)+l) } // log(1-q+q e^l)
	if q == 1 {
		g = func(l float64) float64 { return l }
	}
	return [2]float64{g(p.lo), -g(p.hi)}, [2]float64{g(p.hi), -g(p.lo)}
}

// fromCurve discretises the two directions of the pair subsampled at rate q.
func (a *PLDAccountant) fromCurve(p basePair, q float64) ([2]pmf, error) {
	rem, add := subsampledDeltas(p, q)
	lo, hi := lossRange(p, q)
	for i := range lo {
		if err := a.checkSize((hi[i] - lo[i]) / a.cfg.Interval); err != nil {
			return [2]pmf{}, err
		}
	}
	return [2]pmf{
		connectTheDots(rem, lo[0], hi[0], a.cfg.Interval),
		connectTheDots(add, lo[1], hi[1], a.cfg.Interval),
	}, nil
}

// maxPLDPoints bounds the number of grid points of one distribution, so
// that memory stays near 100 MB.
const maxPLDPoints = 1 << 22

// GridSizeError reports a privacy loss distribution that needs more grid
// points than a [PLDAccountant] allows at its [PLDConfig.Interval]. It
// wraps [ErrUnsupportedEvent]; its fields let a caller phrase the advice in
// its own terms (a command-line flag, say).
type GridSizeError struct {
	Points   float64 // grid points needed
	Interval float64 // the grid interval in use
	Limit    int     // the most grid points allowed
}

func (e *GridSizeError) Error() string {
	return fmt.Sprintf("%v: the privacy loss distribution needs %.3g grid points at PLDConfig.Interval = %g (limit %d); use a larger interval or the RDP accountant",
		ErrUnsupportedEvent, e.Points, e.Interval, e.Limit)
}

// Unwrap returns [ErrUnsupportedEvent].
func (e *GridSizeError) Unwrap() error { return ErrUnsupportedEvent }

// checkSize rejects a distribution of n grid points above maxPLDPoints with
// a [*GridSizeError].
func (a *PLDAccountant) checkSize(n float64) error {
	if !(n <= maxPLDPoints) {
		return &GridSizeError{Points: n, Interval: a.cfg.Interval, Limit: maxPLDPoints}
	}
	return nil
}

// connectTheDots builds the dominating discrete PLD whose privacy profile
// interpolates logDelta at the grid points in [lo, hi] linearly in e^ε
// (Doroshenko et al. 2022, Alg. 1). The mass above the top point becomes
// infinite loss and the mass below the bottom point sits on it.
func connectTheDots(logDelta func(float64) float64, lo, hi, dx float64) pmf {
	k0 := int(math.Floor(lo / dx))
	k1 := int(math.Ceil(hi / dx))
	if k1 <= k0 {
		k1 = k0 + 1
	}
	n := k1 - k0 + 1
	eps := make([]float64, n)
	del := make([]float64, n)
	for i := range n {
		eps[i] = float64(k0+i) * dx
		del[i] = math.Exp(logDelta(eps[i]))
	}
	inf := del[n-1]
	// slope[i] = (δ_i - δ_{i-1}) / (e^{ε_i} - e^{ε_{i-1}}), slope[n] = 0
	slope := make([]float64, n+1)
	for i := 1; i < n; i++ {
		du := math.Exp(eps[i-1]) * math.Expm1(dx)
		slope[i] = (del[i] - del[i-1]) / du
	}
	mass := make([]float64, n)
	var total float64
	for i := 1; i < n; i++ {
		m := math.Exp(eps[i]) * (slope[i+1] - slope[i])
		if m < 0 { // rounding; the exact profile is convex
			m = 0
		}
		mass[i] = m
		total += m
	}
	mass[0] = math.Max(0, 1-inf-total)
	return pmf{offset: k0, mass: mass, inf: inf}
}

// convolve returns the PLD of the composition of x and y, with the tails
// truncated pessimistically.
func (a *PLDAccountant) convolve(x, y pmf) (pmf, error) {
	if len(x.mass) == 1 && x.mass[0] == 1 && x.offset == 0 && x.inf == 0 {
		return y, nil
	}
	if len(y.mass) == 1 && y.mass[0] == 1 && y.offset == 0 && y.inf == 0 {
		return x, nil
	}
	n := len(x.mass) + len(y.mass) - 1
	if err := a.checkSize(float64(n)); err != nil {
		return pmf{}, err
	}
	var out []float64
	if min(len(x.mass), len(y.mass)) <= 64 {
		out = make([]float64, n)
		for i, u := range x.mass {
			if u == 0 {
				continue
			}
			for j, v := range y.mass {
				out[i+j] += u * v
			}
		}
	} else {
		size := 1
		for size < n {
			size <<= 1
		}
		fft := fourier.NewFFT(size)
		xs := make([]float64, size)
		copy(xs, x.mass)
		cx := fft.Coefficients(nil, xs)
		clear(xs)
		copy(xs, y.mass)
		cy := fft.Coefficients(nil, xs)
		for i := range cx {
			cx[i] *= cy[i]
		}
		out = fft.Sequence(xs, cx)[:n]
		inv := 1 / float64(size)
		for i := range out {
			out[i] *= inv
		}
	}
	inf := 1 - (1-x.inf)*(1-y.inf)
	return a.truncate(pmf{offset: x.offset + y.offset, mass: out, inf: inf}), nil
}

// truncate clamps FFT round-off below zero and drops up to TailMass from
// each end: the top into infinite loss, the bottom onto the lowest kept
// point.
func (a *PLDAccountant) truncate(p pmf) pmf {
	m := p.mass
	for i, v := range m {
		if v < 0 {
			m[i] = 0
		}
	}
	tail := a.cfg.TailMass
	hi := len(m) - 1
	var cut float64
	for hi > 0 && cut+m[hi] <= tail {
		cut += m[hi]
		hi--
	}
	p.inf = math.Min(1, p.inf+cut)
	lo := 0
	cut = 0
	for lo < hi && cut+m[lo] <= tail {
		cut += m[lo]
		lo++
	}
	m[lo] += cut
	p.offset += lo
	p.mass = m[lo : hi+1]
	return p
}

// selfCompose returns the k-fold composition of p in one transform: the
// window of the k-fold sum that holds all but TailMass of each tail is found
// with the Chernoff bound P(S >= t) <= exp(k·log E[e^{λX}] - λt) over a grid
// of λ, the pmf is transformed at that length, raised to the k-th power
// pointwise and transformed back. Mass outside the window would alias into
// it; its total is bounded by the two tail bounds, which are added to the
// mass at infinite loss, so the result stays pessimistic.
func (a *PLDAccountant) selfCompose(p pmf, k int) (pmf, error) {
	if k == 1 {
		return p, nil
	}
	n := len(p.mass)
	fin := 1 - p.inf
	out := pmf{inf: 1 - math.Pow(fin, float64(k))}
	if fin <= 0 {
		return pmf{offset: 0, mass: []float64{0}, inf: 1}, nil
	}
	// Log-MGF of the (normalised) finite part in index units j = idx-offset,
	// by Horner's rule run in the direction in which the powers of e^λ
	// shrink, so nothing overflows.
	logMGF := func(lam float64) float64 {
		var acc float64
		if lam > 0 {
			r := math.Exp(-lam)
			for _, m := range p.mass {
				acc = acc*r + m
			}
			// acc = Σ_j m_j e^{-λ(n-1-j)}
			return lam*float64(n-1) + math.Log(acc/fin)
		}
		r := math.Exp(lam)
		for j := n - 1; j >= 0; j-- {
			acc = acc*r + p.mass[j]
		}
		// acc = Σ_j m_j e^{λj}
		return math.Log(acc / fin)
	}
	kf := float64(k)
	logTail := math.Log(a.cfg.TailMass)
	upper, lower := kf*float64(n-1), 0.0
	for e := -10.0; e <= 3; e += 0.5 {
		lam := math.Pow(10, e)
		// P(S >= t) <= exp(k·M(λ) - λt) <= tail  ⇔  t >= (k·M(λ) - log tail)/λ.
		// A λ at which the sum underflows gives no bound and is skipped.
		if m := logMGF(lam); !math.IsInf(m, 0) && !math.IsNaN(m) {
			upper = math.Min(upper, (kf*m-logTail)/lam)
		}
		if m := logMGF(-lam); !math.IsInf(m, 0) && !math.IsNaN(m) {
			lower = math.Max(lower, -(kf*m-logTail)/lam)
		}
	}
	flo := math.Floor(math.Max(lower, 0))
	fhi := math.Ceil(math.Min(upper, kf*float64(n-1)))
	if !(fhi >= flo) {
		flo, fhi = 0, kf*float64(n-1)
	}
	// Checked in float64 first: a huge k must not overflow the int window.
	if err := a.checkSize(fhi - flo + 1); err != nil {
		return pmf{}, err
	}
	lo, hi := int(flo), int(fhi)
	size := 1
	for size < hi-lo+1 {
		size <<= 1
	}
	fft := fourier.NewFFT(size)
	buf := make([]float64, size)
	for j, m := range p.mass {
		buf[j%size] += m / fin
	}
	c := fft.Coefficients(nil, buf)
	for i, v := range c {
		c[i] = cmplx.Pow(v, complex(kf, 0))
	}
	y := fft.Sequence(buf, c)
	mass := make([]float64, hi-lo+1)
	scale := math.Pow(fin, kf) / float64(size)
	for v := lo; v <= hi; v++ {
		mass[v-lo] = y[v%size] * scale
	}
	out.offset = k*p.offset + lo
	out.mass = mass
	// Mass outside [lo, hi] (at most 2·TailMass of the finite part) may have
	// aliased into the window; count it as infinite loss as well.
	out.inf = math.Min(1, out.inf+2*a.cfg.TailMass)
	return a.truncate(out), nil
}

// delta returns δ(ε) of one direction: inf + Σ_{ε_k > ε} m_k (1 - e^{ε-ε_k}).
func (p pmf) delta(eps, dx float64) float64 {
	d := p.inf
	for k := len(p.mass) - 1; k >= 0; k-- {
		l := float64(p.offset+k) * dx
		if l <= eps {
			break
		}
		d += p.mass[k] * -math.Expm1(eps-l)
	}
	return math.Min(d, 1)
}

// Delta returns the δ at which everything composed so far is (eps, δ)-DP,
// an upper bound within the discretisation error.
func (a *PLDAccountant) Delta(eps float64) (float64, error) {
	if err := checkNonNegative("epsilon", eps); err != nil {
		return 0, err
	}
	dx := a.cfg.Interval
	return math.Max(a.dirs[0].delta(eps, dx), a.dirs[1].delta(eps, dx)), nil
}

// Epsilon returns the smallest ε at which everything composed so far is
// (ε, delta)-DP, an upper bound within the discretisation error. It is +Inf
// when the mass at infinite loss exceeds delta.
func (a *PLDAccountant) Epsilon(delta float64) (float64, error) {
	if err := checkDelta("delta", delta); err != nil {
		return 0, err
	}
	var worst float64
	for _, p := range a.dirs {
		e := p.epsilon(delta, a.cfg.Interval)
		if math.IsInf(e, 1) {
			return e, nil
		}
		worst = math.Max(worst, e)
	}
	return worst, nil
}

// epsilon inverts delta exactly: between two grid losses l_k < ε <= l_{k+1},
// δ(ε) = inf + S1 - e^ε·S2 with S1 = Σ_{j>k} m_j and S2 = Σ_{j>k} m_j e^{-l_j},
// so the crossing point has a closed form. The suffix sums run from the top,
// adding small terms first. S2 underflows for losses beyond 745 (and e^ε
// overflows beyond 709), so it is carried scaled, as t = e^{l}·S2 at the
// current loss l: t ← t·e^{-dx} + m at each step down, and every use is of
// the form e^{x-l}·t with x <= l.
func (p pmf) epsilon(delta, dx float64) float64 {
	if p.inf > delta {
		return math.Inf(1)
	}
	decay := math.Exp(-dx)
	var s1, t float64
	for k := len(p.mass) - 1; k >= 0; k-- {
		l := float64(p.offset+k) * dx
		lower := 0.0
		if k > 0 {
			lower = math.Max(0, float64(p.offset+k-1)*dx)
		}
		if l <= 0 {
			break
		}
		s1 += p.mass[k]
		t = t*decay + p.mass[k]
		// On (lower, l], δ(ε) = inf + s1 - e^{ε-l}·t, decreasing in ε.
		if p.inf+s1-math.Exp(lower-l)*t > delta {
			e := l + math.Log((p.inf+s1-delta)/t)
			return math.Max(e, lower)
		}
	}
	return 0
}

// PoissonGaussianEpsilonPLD is [PoissonGaussianEpsilon] with the PLD
// accountant configured by cfg.
func PoissonGaussianEpsilonPLD(q, sigma float64, steps int, delta float64, cfg PLDConfig) (float64, error) {
	if err := checkPoissonGaussian(q, sigma, steps, delta); err != nil {
		return 0, err
	}
	a, err := NewPLDAccountant(cfg)
	if err != nil {
		return 0, err
	}
	if err := a.Compose(SelfComposed{Event: PoissonSampled{Rate: q, Event: Gaussian{NoiseMultiplier: sigma}}, Count: steps}); err != nil {
		return 0, err
	}
	return a.Epsilon(delta)
}

// CalibratePoissonGaussianPLD is [CalibratePoissonGaussian] with the PLD
// accountant.
func CalibratePoissonGaussianPLD(targetEps, q float64, steps int, delta float64, cfg PLDConfig) (sigma, eps float64, err error) {
	if err := checkPoissonGaussian(q, 1, steps, delta); err != nil {
		return 0, 0, err
	}
	sigma, err = CalibrateNoiseMultiplier(targetEps, func(s float64) (float64, error) {
		return PoissonGaussianEpsilonPLD(q, s, steps, delta, cfg)
	})
	if err != nil {
		return 0, 0, err
	}
	eps, err = PoissonGaussianEpsilonPLD(q, sigma, steps, delta, cfg)
	return sigma, eps, err
}
