package he

import (
	"math"

	"github.com/tuneinsight/lattigo/v6/utils/bignum"
)

// Noise estimation.
//
// The planner tracks, through the layers of a plan, three quantities per
// layer, all in the units of the values held in the slots (after the
// folded 1/Interval factors):
//
//   - mag: a bound on the magnitude of every value, from the input range
//     by interval arithmetic (|Wx + b| ≤ |W|·|x| + |b|); the input of a
//     sigmoid, tanh or ReLU layer is capped at its interval (the design
//     assumption of the approximation);
//   - noise: the standard deviation of the encryption noise of one slot
//     (real part), which depends on the secret key;
//   - approx: a bound on the deterministic error (polynomial
//     approximation of the activations, rounding of the encoded weights).
//
// The noise model follows the average-case (central-limit) analysis of
// Costache, Curtis, Hales, Murphy, Ogilvie and Player (On the precision
// loss in approximate homomorphic encryption, SAC 2023): a polynomial
// with independent coefficients of variance v adds N·v/2 to the variance
// of the real part of a slot. Fresh encryption adds coefficient variance
// max(σ², (h+1)/12) + 1/12 (σ = 3.2, h the expected Hamming weight of the
// secret, the second term public-key encryption and the last encoding), a
// rescale (h+1)/12 ((h²+h+1)/12 for a degree-2 ciphertext, whose third
// part multiplies s², in batch mode's lazy relinearization), a key switch Σ_g N·σ²·(Q_g/P)²/12 + (h+1)/12 over the
// RNS decomposition groups Q_g. Noise carried through a layer is bounded
// by the triangle inequality for standard deviations (std(Σ w_i e_i) ≤
// Σ |w_i|·std(e_i), whatever the correlation of the e_i), through x² by
// 2·|x|·e + e², through a polynomial p by max|p'|·e (measured on a grid
// of [-1, 1]). Noise added inside a layer is added in quadrature. Two
// terms are heuristics: a polynomial of Chebyshev coefficients c_k adds
// Σ_k k·|c_k| fresh rescale and key-switch errors, and a key switch
// inside a linear transform is charged max(1, ‖W‖_1) (baby steps are
// multiplied by the weights). A bootstrap leaves boot·2^-20 (lattigo's
// bootstrapping keeps 22 to 24 bits at these parameters). Tests measure
// the estimate against encrypted evaluations (TestNoiseEstimateHolds).

// errorTail is the number of standard deviations past which a Gaussian
// value falls with probability 2^-30 (two-sided): error bounds reported
// by this package hold for each value except with that probability.
var errorTail = math.Sqrt2 * math.Erfcinv(math.Exp2(-30))

// bootstrapRelError is the error a bootstrap leaves, relative to the
// bound its input is divided by.
const bootstrapRelError = 0x1p-20

// noiseModel holds the per-operation noise of a parameter set.
type noiseModel struct {
	n        float64 // ring degree
	delta    float64 // default scale
	freshVar float64 // coefficient variance of a fresh encryption
	rsVar    float64 // coefficient variance added by a rescale
	rs2Var   float64 // the same for a degree-2 (not relinearized) ciphertext
	ksVar    float64 // coefficient variance added by a key switch
}

// newNoiseModel returns the noise model of params for a secret key that
// is the sum of parties ternary shares (1 for a single client).
func newNoiseModel(params Parameters, parties int) noiseModel {
	p := params.p
	n := float64(p.N())
	h := float64(p.XsHammingWeight()) * float64(parties)
	sigma := p.NoiseFreshSK()
	m := noiseModel{n: n, delta: p.DefaultScale().Float64()}
	m.freshVar = math.Max(sigma*sigma*float64(parties), (h+1)/12) + 1.0/12
	m.rsVar = (h + 1) / 12
	// Rounding c2 multiplies s², whose coefficients have variance about
	// h²/N (N products, each nonzero with probability (h/N)²).
	m.rs2Var = (h*h + h + 1) / 12
	// Key switching: the digits of each RNS group Q_g (uniform, variance
	// Q_g²/12) times the key's error, divided by P, plus the rounding of
	// the division by P.
	logP := 0.0
	for _, q := range p.P() {
		logP += math.Log2(float64(q))
	}
	group := len(p.P())
	q := p.Q()
	sum := 0.0
	for g := 0; g < len(q); g += group {
		logQg := 0.0
		for _, qi := range q[g:min(g+group, len(q))] {
			logQg += math.Log2(float64(qi))
		}
		sum += math.Exp2(2 * (logQg - logP))
	}
	m.ksVar = n*sigma*sigma*float64(parties)*sum/12 + (h+1)/12
	return m
}

// slotStd converts a coefficient variance at scale delta into the
// standard deviation of a slot's real part, in value units.
func (m noiseModel) slotStd(coeffVar float64) float64 {
	return math.Sqrt(m.n*coeffVar/2) / m.delta
}

// coeffStd converts a slot standard deviation (value units) into the
// standard deviation of a coefficient at the default scale.
func (m noiseModel) coeffStd(slotStd float64) float64 {
	return slotStd * m.delta * math.Sqrt(2/m.n)
}

// LayerEstimate describes one layer of a plan: where it sits in the
// modulus chain and the error it is expected to leave.
type LayerEstimate struct {
	Layer      int
	In, Out    int        // input and output dimensions
	Activation Activation // the layer's activation
	Degree     int        // sigmoid or tanh degree, ReLU alpha; 0 otherwise
	Interval   float64    // approximation half-width (0 for none)
	Depth      int        // levels the layer uses (dense part and activation)
	LevelIn    int        // level of the layer's input
	LevelOut   int        // level of the layer's output
	Bootstrap  bool       // the layer's input is bootstrapped first
	// InputBound bounds the magnitude of the activation input (the dense
	// output), by interval arithmetic from the plan's input range; when it
	// exceeds Interval, inputs in the range can leave the interval of
	// the approximation.
	InputBound float64
	// OutputBound bounds the magnitude of the layer's output.
	OutputBound float64
	// NoiseStd is the estimated standard deviation of the encryption noise
	// of one output value, averaged over the slots (it depends on the
	// secret key); it sizes the noise flooding.
	NoiseStd float64
	// WorstNoiseStd bounds the standard deviation in the worst slot: the
	// rounding errors of rescales and key switches multiply the secret s
	// (s² for a degree-2 ciphertext), slot by slot in the canonical
	// embedding, and the largest of the N/2 slot values |s(ζ_j)|² exceeds
	// their mean h by the factor t = ln(N/2) + 10·ln 2 at most, except for
	// one key in 2^10 (they are close to exponential): those terms count √t
	// times (t times for s²).
	WorstNoiseStd float64
	// ApproxError bounds the deterministic error of the outputs so far:
	// polynomial approximation of the activations (measured on a grid of
	// the interval) and rounding of the encoded weights.
	ApproxError float64
	// ExpectedError bounds |encrypted − plaintext| for one output of the
	// layer: ApproxError plus WorstNoiseStd times the two-sided 2^-30
	// Gaussian tail (6.1).
	ExpectedError float64
}

// estimate walks the layers of the plan with the noise model of a secret
// shared by parties parties. The estimates are in the units of the
// decrypted outputs (the output scale applied).
func (p *Plan) estimate(parties int) []LayerEstimate {
	nm := newNoiseModel(p.params, parties)
	m := p.model
	mag := make([]float64, m.InputDim)
	for i := range mag {
		mag[i] = 1
		if p.inLo != nil {
			mag[i] = math.Max(math.Abs(p.inLo[i]), math.Abs(p.inHi[i]))
		}
	}
	noise := nm.slotStd(nm.freshVar)
	worst := noise
	slotT := math.Log(nm.n/2) + 10*math.Ln2
	approx := 0.5 / nm.delta // encoding rounding of the input
	eRS := nm.slotStd(nm.rsVar)
	eKS := nm.slotStd(nm.ksVar)
	lazyRelin := false
	var out []LayerEstimate
	for li := range m.Layers {
		l := &m.Layers[li]
		lp := &p.layers[li]
		est := LayerEstimate{Layer: li, In: l.In(), Out: l.Out(), Activation: l.Activation, Interval: l.Interval,
			Depth: 1 + lp.actDepth, LevelIn: lp.levelIn, LevelOut: lp.levelIn - 1 - lp.actDepth, Bootstrap: lp.boot > 0}
		switch l.Activation {
		case ActSigmoid, ActTanh:
			est.Degree = l.Degree
		case ActReLU:
			est.Degree = l.Alpha
		}
		if lp.boot > 0 {
			noise = math.Hypot(noise, lp.boot*bootstrapRelError)
			worst = math.Hypot(worst, lp.boot*bootstrapRelError)
		}
		// Dense part, in folded units.
		q := float64(p.params.p.Q()[lp.levelIn])
		rowL1 := 0.0
		next := make([]float64, l.Out())
		magSum := 0.0
		for _, v := range mag {
			magSum += v
		}
		for o, row := range l.Weights {
			s, a := 0.0, 0.0
			for i, w := range row {
				s += math.Abs(w * lp.fold)
				a += math.Abs(w*lp.fold) * mag[i]
			}
			if len(l.Bias) != 0 {
				a += math.Abs(l.Bias[o] * lp.fold)
			}
			rowL1 = math.Max(rowL1, s)
			next[o] = a
		}
		keySwitches := 0
		if p.mode == Latency {
			keySwitches = len(lp.foldSteps())
			for _, blocks := range lp.diagIdx {
				for _, idx := range blocks {
					keySwitches += len(idx)
				}
			}
		} else if lazyRelin {
			keySwitches = 1
		}
		rs, rsWorst := eRS, eRS*math.Sqrt(slotT)
		if lazyRelin {
			rs = nm.slotStd(nm.rs2Var)
			rsWorst = rs * slotT
		}
		lazyRelin = false
		ks := math.Sqrt(float64(keySwitches)) * eKS * math.Max(1, rowL1)
		noise = rowL1*noise + math.Hypot(rs, ks)
		worst = rowL1*worst + math.Hypot(rsWorst, ks*math.Sqrt(slotT))
		approx = rowL1*approx + magSum*0.5/q + 0.5/nm.delta
		mag = next
		inBound := 0.0
		for _, v := range mag {
			inBound = math.Max(inBound, v)
		}
		est.InputBound = inBound / lp.fold
		// Activation.
		e0 := math.Hypot(eRS, eKS)
		switch l.Activation {
		case ActSquare:
			lazyRelin = p.mode == Batch && li+1 < len(m.Layers)
			// The product is rescaled before (lazily) being relinearized.
			rs, rsWorst := eRS, eRS*math.Sqrt(slotT)
			if lazyRelin {
				rs = nm.slotStd(nm.rs2Var)
				rsWorst = rs * slotT
			}
			noise = 2*inBound*noise + noise*noise + rs
			worst = 2*inBound*worst + worst*worst + rsWorst
			approx = 2*inBound*approx + approx*approx
			for i := range mag {
				mag[i] *= mag[i]
			}
		case ActSigmoid, ActTanh, ActReLU:
			g := p.activationGrid(li)
			noise = g.slope*noise + g.evalGain*e0
			worst = g.slope*worst + g.evalGain*e0*math.Sqrt(slotT)
			approx = g.slope*approx + g.approx
			for i := range mag {
				mag[i] = g.max
			}
		}
		outScale := p.outScale
		if li+1 < len(m.Layers) {
			outScale = 1
		}
		ob := 0.0
		for _, v := range mag {
			ob = math.Max(ob, v)
		}
		est.OutputBound = ob * outScale
		est.NoiseStd = noise * outScale
		est.ApproxError = approx * outScale
		est.WorstNoiseStd = worst * outScale
		est.ExpectedError = est.ApproxError + errorTail*est.WorstNoiseStd
		out = append(out, est)
	}
	return out
}

// gridStats summarises an activation polynomial on a grid of [-1, 1]
// (in the units of its folded input u = x/Interval).
type gridStats struct {
	slope    float64 // max |p'(u)|
	max      float64 // max |p(u)|
	approx   float64 // max |p(u) − f(Interval·u)|
	evalGain float64 // Σ_k k·|c_k| over the Chebyshev stages
}

// activationGrid evaluates the activation polynomial of layer li on 2001
// points of [-1, 1].
func (p *Plan) activationGrid(li int) gridStats {
	l := &p.model.Layers[li]
	lp := &p.layers[li]
	var stages []func(float64) float64
	var g gridStats
	if lp.poly != nil {
		stages = append(stages, polyFloat(&lp.poly.Polynomial))
		g.evalGain = chebGain(&lp.poly.Polynomial)
	}
	for k := range lp.relu {
		stages = append(stages, polyFloat(&lp.relu[k].Polynomial))
		g.evalGain += chebGain(&lp.relu[k].Polynomial)
	}
	eval := func(u float64) float64 {
		y := u
		for _, f := range stages {
			y = f(y)
		}
		if l.Activation == ActReLU {
			return u * y
		}
		return y
	}
	const pts = 2000
	prev := eval(-1)
	for k := 0; k <= pts; k++ {
		u := -1 + 2*float64(k)/pts
		y := eval(u)
		g.max = math.Max(g.max, math.Abs(y))
		g.approx = math.Max(g.approx, math.Abs(y-l.Activation.apply(l.Interval*u)))
		if k > 0 {
			g.slope = math.Max(g.slope, math.Abs(y-prev)*pts/2)
		}
		prev = y
	}
	return g
}

// polyFloat returns a float64 evaluation of a lattigo polynomial (real
// coefficients, monomial or Chebyshev basis).
func polyFloat(p *bignum.Polynomial) func(float64) float64 {
	c := make([]float64, len(p.Coeffs))
	for i, v := range p.Coeffs {
		if v != nil {
			c[i], _ = v[0].Float64()
		}
	}
	if p.Basis == bignum.Monomial {
		return func(x float64) float64 {
			y := 0.0
			for i := len(c) - 1; i >= 0; i-- {
				y = y*x + c[i]
			}
			return y
		}
	}
	sc, cst := p.ChangeOfBasis()
	a, _ := sc.Float64()
	b, _ := cst.Float64()
	return func(x float64) float64 {
		t := a*x + b
		// Clenshaw recurrence for Σ c_k T_k(t).
		var b1, b2 float64
		for k := len(c) - 1; k >= 1; k-- {
			b1, b2 = 2*t*b1-b2+c[k], b1
		}
		return t*b1 - b2 + c[0]
	}
}

// chebGain returns Σ_k k·|c_k|, the heuristic number of fresh errors a
// polynomial evaluation adds.
func chebGain(p *bignum.Polynomial) float64 {
	s := 0.0
	for k, v := range p.Coeffs {
		if v != nil {
			f, _ := v[0].Float64()
			s += float64(k) * math.Abs(f)
		}
	}
	return math.Max(s, 1)
}
