package accounting

import "math"

// This file holds the Rényi-DP curves ε(α) of single events, all computed in
// log space.

// rdpGaussian is the RDP of the Gaussian mechanism with σ/Δ = s (Mironov
// 2017, Prop. 7): α/(2s²). Exact.
func rdpGaussian(s, alpha float64) float64 { return alpha / (2 * s * s) }

// sgm is the Poisson-subsampled Gaussian with rate q and σ/Δ = s under
// add/remove-one. Its RDP is an upper bound by construction at every order,
// tight to float64 rounding where the value is not tiny: the binomial
// expansion at integer orders (Mironov, Talwar and Zhang 2019, Sec. 3.2),
// and at fractional orders the least of three bounds ([sgm.logAFracBound]),
// the first being the two-sided series of their Sec. 3.3 summed with the
// signs of the generalised binomial coefficients plus a rounding margin.
//
// sgm evaluates the RDP curve of one sampled Gaussian mechanism, caching
// what does not depend on the order.
type sgm struct {
	q, s         float64
	lq, l1q      float64
	inv2s2       float64
	z0, h        float64
	useBand      bool
	e0           []float64 // e0[i] = log Φ((zlo-i)/s), independent of α
	bandA, bandB []float64 // band quadrature: log-weight·density and log ratio per node
	logAInts     map[int]float64
	nodeLogMu    []float64 // logAIntegral's nodes z_k = -12s-2 + k·h: log μ0(z_k)
	nodeX        []float64 // and x(z_k) = q·(e^{(2z_k-1)/(2s²)} - 1) (+Inf if it overflows)
	nodeE        []float64 // and (2z_k-1)/(2s²)
	nodeV        []float64 // scratch: the log-integrand at the nodes
}

func newSGM(q, s float64) *sgm {
	g := &sgm{q: q, s: s, inv2s2: 1 / (2 * s * s)}
	if q == 1 {
		return g
	}
	g.lq, g.l1q = math.Log(q), math.Log1p(-q)
	s2 := s * s
	g.z0 = s2*(g.l1q-g.lq) + 0.5
	// Near z0 the series terms are about exp(-(s·log((1-q)/q))²/2) of the
	// total; when that is below e^-50 no band is needed.
	if sl := s * (g.l1q - g.lq); sl*sl/2 < 50 {
		g.useBand = true
		g.h = math.Min(2*s2, 4*s)
		a, b := g.z0-g.h, g.z0+g.h
		half, mid := (b-a)/2, (a+b)/2
		lnorm := -math.Log(s) - 0.5*math.Log(2*math.Pi) + math.Log(half)
		g.bandA = make([]float64, len(glNodes))
		g.bandB = make([]float64, len(glNodes))
		for k, x := range glNodes {
			z := mid + half*x
			g.bandA[k] = lnorm - z*z*g.inv2s2 + math.Log(glWeights[k])
			g.bandB[k] = logAdd(g.l1q, g.lq+(2*z-1)*g.inv2s2)
		}
	}
	return g
}

func (g *sgm) rdp(alpha float64) float64 {
	if g.q == 1 {
		return rdpGaussian(g.s, alpha)
	}
	if math.IsInf(alpha, 1) {
		return math.Inf(1)
	}
	switch {
	case alpha > maxSGMOrder:
		// Not evaluated: +Inf excludes the order from the conversion.
		return math.Inf(1)
	case alpha == math.Trunc(alpha):
		return g.logAIntCached(int(alpha)) / (alpha - 1)
	case alpha > maxFracOrder:
		// Rényi divergence grows with the order, so the next integer
		// order bounds it (an upper bound, not exact, above maxFracOrder).
		c := math.Ceil(alpha)
		return g.logAInt(int(c)) / (c - 1)
	}
	return g.logAFracBound(alpha) / (alpha - 1)
}

// logAIntCached is logAInt, remembered per order.
func (g *sgm) logAIntCached(n int) float64 {
	if n < 2 {
		return 0
	}
	if v, ok := g.logAInts[n]; ok {
		return v
	}
	if g.logAInts == nil {
		g.logAInts = map[int]float64{}
	}
	v := g.logAInt(n)
	g.logAInts[n] = v
	return v
}

// seriesMargin is the allowance for the float64 rounding of the fractional
// series, relative to the sum of the absolute values of its terms. Its
// largest terms, near 1, come from logs of size near 0 and are exact to a
// few ulps, the rest are smaller by orders of magnitude; against 40-digit
// quadrature the error was about one ulp of that sum (1e-16 at q = 1e-4,
// s = 10, α = 1.1). The margin is 32 ulps.
const seriesMargin = 0x1p-48

// logAFracBound returns an upper bound on log A_α at a fractional order α,
// the least of three, each an upper bound by construction:
//
//   - the two-sided series ([sgm.logAFracSeries]) plus seriesMargin times
//     the sum of the absolute values of its terms, which covers its
//     rounding; where the signed terms cancel (A_α - 1 below about 1e-5 of
//     that sum), this bound is loose and the next two take over;
//   - A_α - 1 = E_{z~μ0}[(1+x)^α - 1 - αx], x = q·(e^{(2z-1)/(2s²)} - 1)
//     (E[x] = 0), the integral of a non-negative function computed by the
//     trapezoidal rule at two spacings with their difference added, so
//     that tiny values keep their relative precision;
//   - log-convexity of α ↦ A_α (a moment generating function, by Hölder's
//     inequality): log A_α <= (n+1-α)·log A_n + (α-n)·log A_{n+1} for
//     n = ⌊α⌋, from the exact integer orders (log A_1 = 0).
func (g *sgm) logAFracBound(alpha float64) float64 {
	// The integer sums are exact up to rounding, padded in logAInt.
	n := math.Floor(alpha)
	interp := (n+1-alpha)*g.logAIntCached(int(n)) + (alpha-n)*g.logAIntCached(int(n)+1)
	// The series' margin is at least seriesMargin (its absolute sum is at
	// least A_α >= 1); where A_α - 1 < interp's bound is that small, the
	// series cannot win and is skipped.
	const rel = 1e-10 // the slack of the series bound that sends to the integral
	if interp > 0 && logExpm1(interp) < math.Log(seriesMargin/rel) {
		return math.Min(interp, g.logAIntegral(alpha))
	}
	v, abs := g.logAFracSeries(alpha)
	margin := abs + math.Log(seriesMargin)
	best := logAdd(v, margin)
	// When the margin is not negligible against A_α - 1, try the integral.
	if !(v > 0) || margin > logExpm1(v)+math.Log(rel) {
		best = math.Min(best, g.logAIntegral(alpha))
	}
	return math.Min(best, interp)
}

// maxIntegralNodes bounds the trapezoidal rule of logAIntegral.
const maxIntegralNodes = 1 << 16

// logAIntegral returns an upper bound on log A_α from
// A_α - 1 = ∫ μ0(z)·f(x(z)) dz with f(x) = (1+x)^α - 1 - αx >= 0, by the
// trapezoidal rule on [-12s-2, α+12s+2] (outside which the integrand,
// below about C(α,2)q²(z/s²)² times a Gaussian of deviation s centred at 0,
// or x^α times one centred at α, carries below e^-70 of its mass) with spacing
// h = min(s, s²)/3 (the integrand varies on the scale s, and on s² where
// x(z) crosses 1), plus the difference from spacing 2h and a relative
// 2^-40·(1 + 4/(α-1)). For such smooth, fast-decaying integrands the trapezoidal error
// falls like e^{-c/h²}, far below the difference of the two spacings. It
// returns +Inf when that would take more than maxIntegralNodes nodes.
func (g *sgm) logAIntegral(alpha float64) float64 {
	s := g.s
	lo, hi := -12*s-2, alpha+12*s+2
	h := math.Min(s, s*s) / 3
	n := int(math.Ceil((hi-lo)/h)) + 1
	if n > maxIntegralNodes {
		return math.Inf(1)
	}
	if n%2 == 0 {
		n++
	}
	g.integralNodes(lo, h, n)
	// Two passes over the log-integrand: its maximum, then the sums of
	// e^{v-max} at spacing h and 2h from the same exponentials.
	if cap(g.nodeV) < n {
		g.nodeV = make([]float64, n)
	}
	vs := g.nodeV[:n]
	top := math.Inf(-1)
	for k := range n {
		var lf float64
		if e := g.nodeE[k]; e > 700 {
			// x overflows: bound the excess by (1+x)^α, in logs.
			lf = alpha * (g.lq + e + math.Log1p(math.Exp(-e-g.lq)))
		} else {
			lf = logPowExcess(g.nodeX[k], alpha)
		}
		v := g.nodeLogMu[k] + lf
		if k == 0 || k == n-1 {
			v -= math.Ln2
		}
		vs[k] = v
		top = math.Max(top, v)
	}
	if math.IsInf(top, -1) {
		return math.Inf(1) // below float64's range: no bound from here
	}
	var sf, sc float64
	for k, v := range vs {
		w := math.Exp(v - top)
		sf += w
		if k%2 == 0 {
			sc += w
		}
	}
	f, c := top+math.Log(sf*h), top+math.Log(sc*2*h)
	diff := math.Inf(-1)
	if f != c {
		diff = logSub(math.Max(f, c), math.Min(f, c))
	}
	// The relative margin covers the cancellation in logPowExcess, larger
	// near α = 1.
	i := logAdd(logAdd(f, diff), f+math.Log(0x1p-40*(1+4/(alpha-1))))
	if i > 0 {
		return i + math.Log1p(math.Exp(-i))
	}
	return math.Log1p(math.Exp(i))
}

// integralNodes extends the cached node values to n nodes from lo by h
// (the same lo and h at every order).
func (g *sgm) integralNodes(lo, h float64, n int) {
	lnorm := -math.Log(g.s) - 0.5*math.Log(2*math.Pi)
	for k := len(g.nodeX); k < n; k++ {
		z := lo + float64(k)*h
		e := (2*z - 1) * g.inv2s2
		g.nodeE = append(g.nodeE, e)
		g.nodeX = append(g.nodeX, g.q*math.Expm1(e))
		g.nodeLogMu = append(g.nodeLogMu, lnorm-z*z*g.inv2s2)
	}
}

// logPowExcess returns log((1+x)^α - 1 - αx) for x > -1 and α > 1, a
// non-negative quantity (convexity), accurate also for tiny x: by the
// binomial series Σ_{k>=2} C(α,k) x^k when α|x| < 1/10 (ratio of
// successive terms below 1/10), otherwise directly (where the cancellation
// costs at most a relative 2α/((α-1)·(α|x|)²)·2^-53 <= 3e-13 for α >= 1.1).
func logPowExcess(x, alpha float64) float64 {
	if x == 0 {
		return math.Inf(-1)
	}
	if alpha*math.Abs(x) < 0.1 {
		c := alpha * (alpha - 1) / 2
		term := c * x * x
		sum := term
		for k := 3; k < 200; k++ {
			term *= (alpha - float64(k) + 1) / float64(k) * x
			sum += term
			if math.Abs(term) < 1e-18*math.Abs(sum) {
				break
			}
		}
		if sum <= 0 {
			return math.Inf(-1)
		}
		return math.Log(sum)
	}
	l := alpha * math.Log1p(x) // log (1+x)^α
	r := math.Log1p(alpha * x) // log(1 + αx), αx > -1 here only if x > -1/α
	if alpha*x <= -1 {
		// 1 + αx <= 0: the excess is (1+x)^α + |1 + αx|.
		return logAdd(l, math.Log(-(1 + alpha*x)))
	}
	return logSub(l, r)
}

// maxSGMOrder is the largest order at which the subsampled Gaussian's RDP
// is evaluated (its integer sum has α+1 terms); maxFracOrder the largest
// fractional order given by the exact series.
const (
	maxSGMOrder  = 1e6
	maxFracOrder = 2000
)

// logSum accumulates Σ exp(x_i) against a running reference, one exp per
// term.
type logSum struct {
	ref, sum float64
}

func newLogSum() logSum { return logSum{ref: math.Inf(-1)} }

func (l *logSum) add(x float64) {
	switch {
	case math.IsInf(x, -1):
	case x > l.ref:
		l.sum = l.sum*math.Exp(l.ref-x) + 1
		l.ref = x
	default:
		l.sum += math.Exp(x - l.ref)
	}
}

func (l *logSum) log() float64 {
	if l.sum == 0 {
		return math.Inf(-1)
	}
	return l.ref + math.Log(l.sum)
}

// logAInt returns log A_α = log E_{z~N(0,s²)}[((1-q) + q·e^{(2z-1)/(2s²)})^α]
// for integer α. As Σ_i C(α,i) q^i (1-q)^(α-i) = 1,
//
//	A_α - 1 = Σ_{i>=2} C(α,i) q^i (1-q)^(α-i) (exp((i²-i)/(2s²)) - 1),
//
// a sum of positive terms, each from the previous binomial weight by the
// ratio (α-i+1)/i · q/(1-q); log A_α = log1p(A_α - 1) then keeps full
// relative precision even when A_α - 1 is far below float64's epsilon.
func logAInt(q, s float64, alpha int) float64 { return newSGM(q, s).logAInt(alpha) }

func (g *sgm) logAInt(alpha int) float64 {
	if alpha < 2 {
		return 0
	}
	a := float64(alpha)
	c := g.lq - g.l1q
	lw := a*g.l1q + math.Log(a) + c // log of the i = 1 weight α q (1-q)^(α-1)
	acc := newLogSum()
	for i := 2; i <= alpha; i++ {
		fi := float64(i)
		lw += math.Log((a-fi+1)/fi) + c
		e := (fi*fi - fi) * g.inv2s2
		t := lw + e // log(w·e^e)
		if e < 40 {
			t += math.Log(-math.Expm1(-e)) // log(w·(e^e - 1))
		}
		acc.add(t)
	}
	// log(A_α - 1), padded by a relative 2^-40 for the rounding of the
	// positive terms, so that the result is an upper bound.
	x := acc.log() + 0x1p-40
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// maxSeriesTerms bounds the fractional-order series; with the band around
// z0 cut out they converge geometrically and stop long before.
const maxSeriesTerms = 5000

// logAFrac returns log A_α at a fractional order. Following Mironov, Talwar
// and Zhang 2019, Sec. 3.3, the integral over z is split where the two
// mixture components have equal weight, z0 = s²·log((1-q)/q) + 1/2, and each
// side is expanded in a binomial series with the generalised coefficients
// C(α,i), which change sign for i > α; positive and negative terms are summed
// apart, so the result is the series' value, not an upper bound on it
// (logAFracBound adds the margin that makes it one). At z0
// itself both series converge only polynomially, so where the terms there
// matter the band [z0-h, z0+h], h = min(2s², 4s), is integrated by 64-point
// Gauss-Legendre quadrature instead (the integrand is smooth there and its
// error is below float64 rounding), and the two series, now geometric with
// ratio at most exp(-h/s²), cover the half-lines outside it.
func logAFrac(q, s, alpha float64) float64 { return newSGM(q, s).logAFracBound(alpha) }

// e0At returns log Φ((zlo-i)/s), cached.
func (g *sgm) e0At(i int) float64 {
	for len(g.e0) <= i {
		k := float64(len(g.e0))
		g.e0 = append(g.e0, math.Log(0.5)+logErfc((k-(g.z0-g.h))/(math.Sqrt2*g.s)))
	}
	return g.e0[i]
}

// logAFracSeries returns the series' value of log A_α and the log of the
// sum of the absolute values of its terms (the scale of its rounding).
func (g *sgm) logAFracSeries(alpha float64) (value, abs float64) {
	lq, l1q, inv2s2 := g.lq, g.l1q, g.inv2s2
	zlo, zhi := g.z0-g.h, g.z0+g.h
	rs2 := math.Sqrt2 * g.s
	ln05 := math.Log(0.5)

	band := math.Inf(-1)
	if g.useBand {
		acc := newLogSum()
		for k, a := range g.bandA {
			acc.add(a + alpha*g.bandB[k])
		}
		band = acc.log()
	}
	pos0, neg0, pos1, neg1 := newLogSum(), newLogSum(), newLogSum(), newLogSum()
	lc, sign := 0.0, 1.0 // log|C(α,i)| and its sign
	last0, last1 := math.Inf(1), math.Inf(1)
	for i := 0; i < maxSeriesTerms; i++ {
		fi := float64(i)
		if i > 0 {
			d := alpha - fi + 1
			if d < 0 {
				sign = -sign
			}
			lc += math.Log(math.Abs(d) / fi)
		}
		j := alpha - fi
		// ∫_{-∞}^{zlo} μ0(z) e^{i(2z-1)/(2s²)} dz = e^{(i²-i)/(2s²)} Φ((zlo-i)/s)
		t0 := lc + fi*lq + j*l1q + (fi*fi-fi)*inv2s2 + g.e0At(i)
		// ∫_{zhi}^{∞} μ0(z) e^{j(2z-1)/(2s²)} dz = e^{(j²-j)/(2s²)} Φ((j-zhi)/s)
		t1 := lc + j*lq + fi*l1q + (j*j-j)*inv2s2 + ln05 + logErfc((zhi-j)/rs2)
		if sign > 0 {
			pos0.add(t0)
			pos1.add(t1)
		} else {
			neg0.add(t0)
			neg1.add(t1)
		}
		if fi > alpha+1 && t0 < last0 && t1 < last1 && math.Max(t0, t1) < logAdd(band, logAdd(pos0.log(), pos1.log()))-40 {
			total := logAdd(band, logAdd(pos0.log(), pos1.log()))
			// Past α+1, |C(α,i)| decreases and t1 falls geometrically. t0
			// falls geometrically past zlo; before zlo its log is at most
			// log|C(α,i)| + α·log(1-q) + f(i'), with f convex, so its
			// largest future value is at i or at zlo.
			if fi >= zlo {
				break
			}
			f := func(x float64) float64 { return x*(lq-l1q) + (x*x-x)*inv2s2 }
			if lc+alpha*l1q+math.Max(f(fi), f(zlo)) < total-40 {
				break
			}
		}
		last0, last1 = t0, t1
	}
	value = logAdd(band, logAdd(logSub(pos0.log(), neg0.log()), logSub(pos1.log(), neg1.log())))
	abs = logAdd(band, logAdd(logAdd(pos0.log(), neg0.log()), logAdd(pos1.log(), neg1.log())))
	return value, abs
}

// glNodes and glWeights are the 64-point Gauss-Legendre rule on [-1, 1].
var glNodes, glWeights = gaussLegendre(64)

// gaussLegendre computes the n-point rule by Newton's method on the Legendre
// polynomial P_n from the Chebyshev-like initial guesses.
func gaussLegendre(n int) ([]float64, []float64) {
	x := make([]float64, n)
	w := make([]float64, n)
	for i := 0; i < (n+1)/2; i++ {
		z := math.Cos(math.Pi * (float64(i) + 0.75) / (float64(n) + 0.5))
		var dp float64
		for range 100 {
			p1, p2 := 1.0, 0.0
			for j := 1; j <= n; j++ {
				p3 := p2
				p2 = p1
				p1 = ((2*float64(j)-1)*z*p2 - (float64(j)-1)*p3) / float64(j)
			}
			dp = float64(n) * (z*p1 - p2) / (z*z - 1)
			dz := p1 / dp
			z -= dz
			if math.Abs(dz) < 1e-16 {
				break
			}
		}
		// recompute the derivative at the converged root
		p1, p2 := 1.0, 0.0
		for j := 1; j <= n; j++ {
			p3 := p2
			p2 = p1
			p1 = ((2*float64(j)-1)*z*p2 - (float64(j)-1)*p3) / float64(j)
		}
		dp = float64(n) * (z*p1 - p2) / (z*z - 1)
		x[i], x[n-1-i] = -z, z
		w[i] = 2 / ((1 - z*z) * dp * dp)
		w[n-1-i] = w[i]
	}
	return x, w
}

// smallPureRDP returns αε²/2 when that is below 1e-6. Every ε-DP mechanism
// is ε²/2-zCDP (Bun and Steinke 2016, Prop. 3.3), so αε²/2 bounds its RDP
// at order α; for such small ε the exact closed forms below lose their
// value to cancellation (ε - ε + O(ε²)) and may come out below the truth or
// at 0, while αε²/2 exceeds the truth by a relative O(αε²) only.
func smallPureRDP(eps, alpha float64) (float64, bool) {
	v := alpha * eps * eps / 2
	return v, v < 1e-6
}

// rdpLaplace is the RDP of the Laplace mechanism with b/Δ = 1/eps (Mironov
// 2017, Prop. 6). Exact, but for tiny values ([smallPureRDP]).
func rdpLaplace(eps, alpha float64) float64 {
	if math.IsInf(alpha, 1) {
		return eps
	}
	if v, ok := smallPureRDP(eps, alpha); ok {
		return v
	}
	return eps + math.Log1p((alpha-1)*math.Expm1(eps*(1-2*alpha))/(2*alpha-1))/(alpha-1)
}

// softplus returns log(1 + e^x).
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// rdpPure is the largest RDP at order alpha of any eps-DP mechanism, reached
// by binary randomized response (Mironov 2017, Prop. 5 and its tight form):
// (αε + log(1+e^{ε(1-2α)}) - log(1+e^ε)) / (α-1), or for tiny values the
// bound of [smallPureRDP].
func rdpPure(eps, alpha float64) float64 {
	if eps == 0 {
		return 0
	}
	if math.IsInf(alpha, 1) {
		return eps
	}
	if v, ok := smallPureRDP(eps, alpha); ok {
		return v
	}
	return (alpha*eps + softplus(eps*(1-2*alpha)) - softplus(eps)) / (alpha - 1)
}

// rdpRandomizedResponse is the RDP of k-ary randomized response with noise
// parameter p under replace-one: the Rényi divergence between
// P = (1-p+p/k, p/k, ..., p/k) and Q, P with its first two entries swapped.
// Exact, but for tiny values ([smallPureRDP]).
func rdpRandomizedResponse(p float64, k int, alpha float64) float64 {
	if k == 1 || p == 1 {
		return 0
	}
	if p == 0 {
		return math.Inf(1)
	}
	fk := float64(k)
	l := math.Log(fk/p - fk + 1) // log((1-p+p/k)/(p/k))
	if math.IsInf(alpha, 1) {
		return l
	}
	if v, ok := smallPureRDP(l, alpha); ok { // it is l-DP
		return v
	}
	t := logAdd(math.Log(p/fk)+alpha*l, math.Log(1-p+p/fk)-alpha*l)
	if k > 2 {
		t = logAdd(t, math.Log((1-2/fk)*p))
	}
	return t / (alpha - 1)
}

// rdpExponential bounds the RDP of the eps-exponential mechanism by its
// ε²/8-zCDP guarantee (Cesar and Rogers 2021) and by the pure-DP bound.
func rdpExponential(eps, alpha float64) float64 {
	return math.Min(alpha*eps*eps/8, rdpPure(eps, alpha))
}
