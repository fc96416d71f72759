package he

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/lintrans"
	"github.com/tuneinsight/lattigo/v6/circuits/ckks/polynomial"
	commonlt "github.com/tuneinsight/lattigo/v6/circuits/common/lintrans"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/utils/bignum"
)

// Mode is the packing of samples into ciphertexts.
type Mode int

const (
	// Latency packs one sample per ciphertext (replicated across the
	// slots) and evaluates dense layers by the baby-step giant-step
	// diagonal method with hoisted rotations. It needs Galois keys.
	Latency Mode = iota + 1
	// Batch packs features major: ciphertext i holds feature i of up to
	// [Parameters.Slots] samples. Dense layers are plaintext-scalar
	// multiply-accumulates with no rotation and no Galois key.
	Batch
)

func (m Mode) String() string {
	switch m {
	case Latency:
		return "latency"
	case Batch:
		return "batch"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// CompileOptions configure [Compile]. The zero value selects latency mode
// and the smallest preset deep enough for the model.
type CompileOptions struct {
	// Mode is the packing; zero means [Latency].
	Mode Mode
	// Parameters, when non-nil, are used instead of the smallest
	// sufficient preset (for example [InsecureTestParameters] in tests).
	Parameters *Parameters
	// Calibration, when non-empty, holds representative plaintext samples:
	// approximation intervals left at zero are set to 1.25 times the
	// largest activation input seen; if outputs would come within a factor
	// 2 of the modulus headroom, a last layer without activation is scaled
	// down by a power of two (undone at decryption) and any other model is
	// rejected.
	Calibration [][]float64
	// Bootstrap lets the planner insert bootstrapping when the model is
	// deeper than the largest preset (or than the given Parameters, which
	// must then be bootstrappable): it then uses [NewBootstrapParameters]
	// unless Parameters is set, and bootstraps the ciphertexts at the
	// start of a layer whose dense part and activation do not fit in the
	// levels left. A model that fits is never bootstrapped. Only the
	// outputs of ReLU, sigmoid and tanh layers, whose range is known, can
	// be bootstrapped. See the package documentation for the cost.
	Bootstrap bool
	// Conv selects how a first layer declared a convolution ([Dense.Conv])
	// is evaluated in latency mode; zero means [ConvAuto]. Batch mode
	// ignores it.
	Conv ConvPacking
	// InputRange, when not {0, 0}, is the interval [lo, hi] every input
	// feature must lie in; otherwise, with Calibration, each feature's
	// range is that of the calibration samples widened by a quarter of
	// its width on each side (by a quarter of max(|x|, 1) for a constant
	// feature). [Client.Encrypt] refuses samples outside the range with
	// [ErrRange], and the noise estimate ([Plan.Explain]) assumes it;
	// without either, it assumes |x| ≤ 1 and nothing is checked.
	InputRange [2]float64
}

// ConvPacking selects the evaluation of a convolution layer in latency
// mode.
type ConvPacking int

const (
	// ConvAuto lets the planner pick the cheaper of [ConvDirect] and
	// [ConvIm2col] by its cost estimate (key switches and plaintext
	// products).
	ConvAuto ConvPacking = iota
	// ConvDirect packs a first-layer convolution directly: one
	// rotation per kernel offset (baby-step giant-step, hoisted) and one
	// plaintext mask product per offset, with strided outputs left in
	// place and absorbed by the next layer's matrix. [Compile] fails with
	// [ErrModel] if the model has no such layer or it does not fit (the
	// convolution is the last layer, or its packing needs more slots than
	// the parameters have).
	ConvDirect
	// ConvIm2col evaluates the convolution as its im2col matrix, like any
	// dense layer.
	ConvIm2col
)

func (c ConvPacking) String() string {
	switch c {
	case ConvAuto:
		return "auto"
	case ConvDirect:
		return "direct"
	case ConvIm2col:
		return "im2col"
	}
	return fmt.Sprintf("ConvPacking(%d)", int(c))
}

// Plan is a model compiled for encrypted evaluation: parameters truncated to
// the model's depth (bootstrappable parameters are kept whole), the
// bootstraps, the packing, the level of every layer and the Galois
// elements the evaluation keys must cover. A Plan is immutable and safe for
// concurrent use.
type Plan struct {
	model  *Model
	params Parameters
	mode   Mode
	block  int // latency: slot period of the input (power of two, ≤ slots)
	depth  int
	layers []layerPlan
	galEls []uint64
	// galLevel is the level each Galois key is generated at: the highest
	// level its rotation is used at, so keys only used deep in the model
	// are smaller.
	galLevel   map[uint64]int
	relin      bool
	relinLevel int // highest level a relinearization happens at
	// outScale (a power of two, 1 by default) divides the last layer so
	// that outputs fit the modulus headroom; decryption multiplies it back.
	outScale float64
	boots    int // layers preceded by a bootstrap
	// convDirect: the first layer is a packed direct convolution.
	convDirect bool
	// inLo, inHi: the range of every input feature (nil: unchecked)
	inLo, inHi []float64
}

type layerPlan struct {
	levelIn int // level of the layer input
	// boot > 0: bootstrap the layer input first, divided by boot (a power
	// of two bounding the previous activation's output)
	boot     float64
	fold     float64 // factor folded into weights and bias (1/interval)
	actDepth int
	poly     *polynomial.Polynomial // Chebyshev interpolant on [-1, 1]
	// relu: the sign stages on [-1, 1], the last mapped to
	// (interval/2)·(1 + p), so that relu(interval·u) = u·stages(u)
	relu []polynomial.Polynomial
	// latency: input and output slot periods, layout, and the non-zero
	// diagonal indexes per (out block, in block)
	dIn, dOut int
	hybrid    bool
	diagIdx   [][][]int
	expand    int // > 0: first layer with client-expanded input of expand blocks
	// inAt, when non-nil, is the input held by each slot of the period
	// dIn, -1 for none (the outputs of a packed convolution are strided);
	// nil means slot i holds input i.
	inAt []int32
	conv *convPlan // packed direct convolution
}

const bsgsRatio = 3

// Compile plans the encrypted evaluation of m: it computes the
// multiplicative depth, chooses parameters (or checks the given ones), the
// input level and the packing, and fails before anything is encrypted if
// the model does not fit, for example with "model needs depth 17; the
// largest preset without bootstrapping (PN15) has 15".
func Compile(m *Model, opts CompileOptions) (*Plan, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m = m.clone()
	mode := opts.Mode
	if mode == 0 {
		mode = Latency
	}
	if mode != Latency && mode != Batch {
		return nil, fmt.Errorf("he: unknown mode %d: %w", int(mode), ErrInput)
	}
	inLo, inHi, err := inputRange(m, opts)
	if err != nil {
		return nil, err
	}
	var peaks []float64
	var maxOut float64
	for si, x := range opts.Calibration {
		out, pk, err := m.forward(x)
		if err != nil {
			return nil, fmt.Errorf("he: calibration sample %d: %w", si, err)
		}
		if peaks == nil {
			peaks = pk
		}
		for i := range pk {
			peaks[i] = math.Max(peaks[i], pk[i])
		}
		for _, v := range out {
			maxOut = math.Max(maxOut, math.Abs(v))
		}
	}
	if math.IsInf(maxOut, 0) || math.IsNaN(maxOut) {
		return nil, fmt.Errorf("he: calibration output is not finite: %w", ErrModel)
	}
	depth := 0
	for li := range m.Layers {
		l := &m.Layers[li]
		if l.Activation == ActSigmoid || l.Activation == ActTanh || l.Activation == ActReLU {
			if l.Degree == 0 && l.Activation != ActReLU {
				l.Degree = DefaultDegree
			}
			if l.Alpha == 0 && l.Activation == ActReLU {
				l.Alpha = DefaultReLUAlpha
			}
			if l.Interval == 0 {
				l.Interval = DefaultInterval
				if peaks != nil {
					l.Interval = math.Max(1, math.Ceil(1.25*peaks[li]))
					if !(l.Interval <= 1e6) {
						return nil, fmt.Errorf("he: calibration drives the input of layer %d to %g, beyond the largest interval 1e6: %w", li, peaks[li], ErrModel)
					}
				}
			}
		}
		depth += 1 + activationDepth(l)
	}

	var params Parameters
	if opts.Parameters != nil {
		params = *opts.Parameters
		if params.p.N() == 0 {
			return nil, fmt.Errorf("he: zero Parameters: %w", ErrInput)
		}
		if !params.Insecure() && !params.Secure128() {
			return nil, fmt.Errorf("he: parameters %s: %w", params.Name(), ErrInsecureParameters)
		}
		if depth > params.Depth() && !(opts.Bootstrap && params.Bootstrappable()) {
			hint := ""
			if params.Bootstrappable() {
				hint = " (set CompileOptions.Bootstrap to bootstrap)"
			}
			return nil, fmt.Errorf("he: model needs depth %d; parameters %s have %d%s: %w", depth, params.Name(), params.Depth(), hint, ErrDepth)
		}
	} else {
		found := false
		var largest Parameters
		for _, pr := range Presets() {
			p, err := NewParameters(pr)
			if err != nil {
				return nil, err
			}
			largest = p
			if p.Depth() >= depth {
				params, found = p, true
				break
			}
		}
		if !found && !opts.Bootstrap {
			return nil, fmt.Errorf("he: model needs depth %d; the largest preset without bootstrapping (%s) has %d: %w",
				depth, largest.Name(), largest.Depth(), ErrDepth)
		}
		if !found {
			p, err := NewBootstrapParameters()
			if err != nil {
				return nil, err
			}
			params = p
		}
	}
	params, err = params.truncate(depth)
	if err != nil {
		return nil, err
	}
	direct := false
	switch opts.Conv {
	case ConvAuto, ConvIm2col:
	case ConvDirect:
		if mode == Latency {
			if why := convDirectFits(m, params); why != "" {
				return nil, fmt.Errorf("he: cannot pack the convolution directly: %s: %w", why, ErrModel)
			}
			direct = true
		}
	default:
		return nil, fmt.Errorf("he: unknown convolution packing %d: %w", int(opts.Conv), ErrInput)
	}
	pl, err := newPlan(m, params, mode, direct)
	if err != nil {
		return nil, err
	}
	if opts.Conv == ConvAuto && mode == Latency && convDirectFits(m, params) == "" {
		alt, err := newPlan(m, params, mode, true)
		if err != nil {
			return nil, err
		}
		if alt.cost() < pl.cost() {
			pl = alt
		}
	}
	if bound := math.Exp2(params.LogOutputBound()); maxOut > bound/2 {
		// Outputs would overflow the first prime. A last layer without
		// activation is scaled down by a power of two folded into its
		// weights; the client scales the decrypted outputs back.
		if m.Layers[len(m.Layers)-1].Activation != ActNone {
			return nil, fmt.Errorf("he: calibration output reaches %.4g but %s leaves room for %.4g (with a factor 2 margin): %w",
				maxOut, params.Name(), bound/2, ErrModel)
		}
		pl.setOutScale(math.Exp2(math.Ceil(math.Log2(maxOut / (bound / 4)))))
	}
	pl.inLo, pl.inHi = inLo, inHi
	return pl, nil
}

// inputRange checks the calibration samples and the input range of the
// options and returns the range of every feature (nil for none).
func inputRange(m *Model, opts CompileOptions) (lo, hi []float64, err error) {
	for si, x := range opts.Calibration {
		if len(x) != m.InputDim {
			return nil, nil, fmt.Errorf("he: calibration sample %d has %d features, model wants %d: %w", si, len(x), m.InputDim, ErrInput)
		}
		for i, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("he: calibration sample %d feature %d is %v: %w", si, i, v, ErrInput)
			}
		}
	}
	r := opts.InputRange
	if r != [2]float64{} {
		if !(r[0] < r[1]) || math.IsInf(r[0], 0) || math.IsInf(r[1], 0) {
			return nil, nil, fmt.Errorf("he: input range [%v, %v] is not a finite interval: %w", r[0], r[1], ErrInput)
		}
		lo, hi = make([]float64, m.InputDim), make([]float64, m.InputDim)
		for i := range lo {
			lo[i], hi[i] = r[0], r[1]
		}
		return lo, hi, nil
	}
	if len(opts.Calibration) == 0 {
		return nil, nil, nil
	}
	lo, hi = slices.Clone(opts.Calibration[0]), slices.Clone(opts.Calibration[0])
	for _, x := range opts.Calibration {
		for i, v := range x {
			lo[i], hi[i] = math.Min(lo[i], v), math.Max(hi[i], v)
		}
	}
	for i := range lo {
		w := hi[i] - lo[i]
		if w == 0 {
			w = math.Max(math.Abs(lo[i]), 1)
		}
		lo[i] -= w / 4
		hi[i] += w / 4
	}
	return lo, hi, nil
}

// InputRange returns the range [lo[i], hi[i]] of every input feature that
// [Client.Encrypt] enforces, or nil slices when the plan has none (see
// [CompileOptions.InputRange]).
func (p *Plan) InputRange() (lo, hi []float64) {
	return slices.Clone(p.inLo), slices.Clone(p.inHi)
}

// ClampInput moves every feature of x that lies outside the plan's input
// range (see [Plan.InputRange]) to the nearest end of it, in place, and
// returns how many it moved; NaN features are left for [Client.Encrypt]
// to refuse. It is the explicit choice for serving inputs beyond the
// calibrated range, which Encrypt otherwise refuses: the polynomial
// activations are then evaluated where they were fitted, on an input that
// is no longer the caller's. A plan without a range moves nothing. It
// panics if len(x) is not the model's input dimension.
func (p *Plan) ClampInput(x []float64) int {
	if p.inLo == nil {
		return 0
	}
	if len(x) != len(p.inLo) {
		panic(fmt.Sprintf("he: ClampInput of %d features, the plan has %d", len(x), len(p.inLo)))
	}
	moved := 0
	for i, v := range x {
		switch {
		case v < p.inLo[i]:
			x[i], moved = p.inLo[i], moved+1
		case v > p.inHi[i]:
			x[i], moved = p.inHi[i], moved+1
		}
	}
	return moved
}

// setOutScale divides the last layer by s (a power of two); decryption
// multiplies by s.
func (p *Plan) setOutScale(s float64) {
	p.outScale = s
	p.layers[len(p.layers)-1].fold = 1 / s
}

func activationDepth(l *Dense) int {
	switch l.Activation {
	case ActSquare:
		return 1
	case ActSigmoid, ActTanh:
		return bits.Len(uint(l.Degree))
	case ActReLU:
		return reluDepth(l.Alpha)
	}
	return 0
}

// newPlan builds the plan of a validated model with resolved activation
// settings on parameters of exactly the model's depth; direct packs the
// first layer as a convolution (in latency mode, where
// [convDirectFits] allows it).
func newPlan(m *Model, params Parameters, mode Mode, direct bool) (*Plan, error) {
	pl := &Plan{model: m, params: params, mode: mode, outScale: 1}
	var cp *convPlan
	if direct && mode == Latency {
		if why := convDirectFits(m, params); why != "" {
			return nil, fmt.Errorf("he: cannot pack the convolution directly: %s: %w", why, ErrModel)
		}
		cp = newConvPlan(*m.Layers[0].Conv)
		cp.chooseGroups(m.Layers[0].Weights, params)
		pl.convDirect = true
	}
	slots := params.Slots()
	maxDim := m.InputDim
	for li := range m.Layers {
		maxDim = max(maxDim, m.Layers[li].Out())
		pl.depth += 1 + activationDepth(&m.Layers[li])
	}
	nodes := 0
	for li := range m.Layers {
		if l := &m.Layers[li]; l.Activation == ActSigmoid || l.Activation == ActTanh {
			nodes += l.Degree + 1
		}
	}
	if nodes > MaxInterpolationNodes {
		return nil, fmt.Errorf("he: the sigmoid and tanh layers need %d interpolation nodes in all, more than %d: %w", nodes, MaxInterpolationNodes, ErrModel)
	}
	if params.boot == nil && pl.depth != params.Depth() {
		return nil, fmt.Errorf("he: model depth %d does not match parameters depth %d: %w", pl.depth, params.Depth(), ErrMismatch)
	}
	blocked := nextPow2(maxDim) > slots
	period := min(nextPow2(m.InputDim), slots)
	if blocked {
		period = slots
	}
	if cp != nil {
		period = cp.block
	}
	pl.block = period
	var inPos []int // slot layout of the current layer's input
	level := params.Depth()
	gal := map[uint64]int{} // Galois element → highest level it is used at
	use := func(g uint64, level int) { gal[g] = max(gal[g], level) }
	in := m.InputDim
	for li := range m.Layers {
		l := &m.Layers[li]
		var boot float64
		if need := 1 + activationDepth(l); need > level {
			b, err := pl.placeBootstrap(m, li, need)
			if err != nil {
				return nil, err
			}
			boot, level = b, params.Depth()
		}
		lp := layerPlan{levelIn: level, fold: 1, actDepth: activationDepth(l), boot: boot}
		if l.Activation == ActSigmoid || l.Activation == ActTanh {
			lp.fold = 1 / l.Interval
			f := l.Activation
			a := l.Interval
			interval := bignum.Interval{
				Nodes: l.Degree,
				A:     *bignum.NewFloat(-1, 128),
				B:     *bignum.NewFloat(1, 128),
			}
			bp := bignum.ChebyshevApproximation(func(x *big.Float) *big.Float {
				xf, _ := x.Float64()
				return new(big.Float).SetPrec(x.Prec()).SetFloat64(f.apply(a * xf))
			}, interval)
			poly := polynomial.NewPolynomial(bp)
			if poly.Degree() != l.Degree {
				return nil, fmt.Errorf("he: layer %d: interpolant has degree %d, want %d: %w", li, poly.Degree(), l.Degree, ErrModel)
			}
			lp.poly = &poly
		}
		if l.Activation == ActReLU {
			lp.fold = 1 / l.Interval
			polys, err := reluPolys(l.Alpha, l.Interval)
			if err != nil {
				return nil, fmt.Errorf("he: layer %d: %w", li, err)
			}
			lp.relu = polys
		}
		if l.Activation != ActNone {
			// Activations start after the layer's rescale.
			pl.relin = true
			pl.relinLevel = max(pl.relinLevel, level-1)
		}
		if mode == Latency && li == 0 && cp != nil {
			// Packed direct convolution: one diagonal per kernel offset.
			lp.dIn, lp.dOut, lp.conv = cp.block, cp.period, cp
			idx := cp.diagonals(l.Weights)
			lp.diagIdx = [][][]int{{idx}}
			if len(idx) > 0 {
				for _, g := range lintrans.GaloisElements(params.p, lp.ltParams(params, idx)) {
					use(g, level)
				}
			}
			for _, round := range foldRounds(lp.foldSteps()) {
				for _, r := range round {
					use(params.p.GaloisElementForRotation(r), level-1)
				}
			}
			period, inPos = cp.period, cp.outPos
		} else if mode == Latency {
			lp.dIn = period
			if inPos != nil {
				lp.inAt = make([]int32, period)
				for t := range lp.inAt {
					lp.inAt[t] = -1
				}
				for i, t := range inPos {
					lp.inAt[t] = int32(i)
				}
				inPos = nil
			}
			mp := nextPow2(l.Out())
			switch {
			case blocked:
				lp.dOut = slots
			case mp < period:
				// Gazelle hybrid: mp extended diagonals, then fold.
				lp.hybrid = true
				lp.dOut = mp
			default:
				lp.dOut = mp
			}
			nbIn, nbOut := 1, 1
			if blocked {
				nbIn, nbOut = ceilDiv(in, slots), ceilDiv(l.Out(), slots)
			}
			if li == 0 && !blocked {
				// Client-expanded input: the client packs rot(x, k) for
				// every diagonal k side by side, so the first layer is one
				// plaintext product and log2(E) rotate-and-adds at the
				// next level instead of a baby-step giant-step transform.
				if E := nextPow2(lp.diagonalDim()); E >= 2 && E*lp.period() <= slots {
					lp.expand = E
				}
			}
			for _, round := range foldRounds(lp.foldSteps()) {
				for _, r := range round {
					use(params.p.GaloisElementForRotation(r), level-1) // folds run after the rescale
				}
			}
			lp.diagIdx = make([][][]int, nbOut)
			for bo := range nbOut {
				lp.diagIdx[bo] = make([][]int, nbIn)
				for bi := range nbIn {
					idx := lp.blockDiagonals(l.Weights, bo, bi)
					lp.diagIdx[bo][bi] = idx
					if len(idx) == 0 {
						continue
					}
					if lp.expand > 0 {
						continue
					}
					for _, g := range lintrans.GaloisElements(params.p, lp.ltParams(params, idx)) {
						use(g, level)
					}
				}
			}
			period = lp.dOut
		}
		pl.layers = append(pl.layers, lp)
		level -= 1 + lp.actDepth
		in = l.Out()
	}
	for g := range gal {
		pl.galEls = append(pl.galEls, g)
	}
	slices.Sort(pl.galEls)
	pl.galLevel = gal
	return pl, nil
}

func (lp *layerPlan) ltParams(params Parameters, idx []int) lintrans.Parameters {
	return lintrans.Parameters{
		DiagonalsIndexList:        idx,
		LevelQ:                    lp.levelIn,
		LevelP:                    params.p.MaxLevelP(),
		Scale:                     rlwe.NewScale(params.p.Q()[lp.levelIn]),
		LogDimensions:             params.p.LogMaxDimensions(),
		LogBabyStepGiantStepRatio: bsgsRatio,
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func nextPow2(n int) int { return 1 << bits.Len(uint(n-1)) }

// diagonalDim returns the number of candidate diagonals of the layer.
func (lp *layerPlan) diagonalDim() int {
	if lp.hybrid {
		return lp.dOut
	}
	return max(lp.dIn, lp.dOut)
}

// weightAt maps slot r (within one period) of diagonal k of block
// (bo, bi) to the weight it carries, as (output, input) indexes; i is -1
// when the input slot holds no input.
//
// Square layout (Halevi-Shoup), with d the larger period:
// diag_k[r] = W[bo·d + r][bi·d + (r+k) mod d].
// Hybrid layout (Gazelle), with dIn the input period and mp the padded
// output count: diag_k[r] = W[r mod mp][(r+k) mod dIn] for k < mp,
// followed by log2(dIn/mp) rotate-and-add folds.
// With a strided input layout (after a packed convolution), the input
// index is that of the slot, inAt[(r+k) mod period]: the next layer's
// columns are permuted to where the convolution left its outputs.
func (lp *layerPlan) weightAt(bo, bi, k, r int) (o, i int) {
	var t int
	if lp.hybrid {
		o, t = r%lp.dOut, (r+k)%lp.dIn
	} else {
		d := max(lp.dIn, lp.dOut)
		o, t = bo*d+r, (r+k)%d
	}
	if lp.inAt != nil {
		if t >= len(lp.inAt) {
			return o, -1
		}
		return o, int(lp.inAt[t])
	}
	if !lp.hybrid {
		t += bi * max(lp.dIn, lp.dOut)
	}
	return o, t
}

// foldSteps returns the rotate-and-add folds y ← y + rot(y, j) that
// follow the layer's plaintext products: the sums of the copies of a
// packed convolution, or the log2(E) sums of the blocks of a
// client-expanded input, then the log2(dIn/dOut) folds of the hybrid
// layout.
func (lp *layerPlan) foldSteps() []int {
	if lp.conv != nil {
		return lp.conv.foldSteps()
	}
	var steps []int
	for j := lp.expand / 2; j >= 1; j /= 2 {
		steps = append(steps, j*lp.period())
	}
	if lp.hybrid {
		for j := lp.dIn / 2; j >= lp.dOut; j /= 2 {
			steps = append(steps, j)
		}
	}
	return steps
}

// foldRounds groups fold steps into rounds evaluated by
// [Server.addRotations]: two folds by a and b (which commute) are one
// round y + rot(y, a) + rot(y, b) + rot(y, a+b), three rotations hoisted
// from one decomposition of y and summed before one modulus switch,
// instead of two key switches in sequence. A last odd step is a round of
// its own.
func foldRounds(steps []int) [][]int {
	var rounds [][]int
	for len(steps) >= 2 {
		a, b := steps[0], steps[1]
		rounds = append(rounds, []int{a, b, a + b})
		steps = steps[2:]
	}
	if len(steps) == 1 {
		rounds = append(rounds, []int{steps[0]})
	}
	return rounds
}

// period returns the slot period of the layer's diagonals.
func (lp *layerPlan) period() int {
	if lp.hybrid {
		return lp.dIn
	}
	return max(lp.dIn, lp.dOut)
}

// blockDiagonals lists the diagonals of block (bo, bi) with a non-zero
// entry.
func (lp *layerPlan) blockDiagonals(w [][]float64, bo, bi int) []int {
	var idx []int
	for k := range lp.diagonalDim() {
		for r := range lp.period() {
			o, i := lp.weightAt(bo, bi, k, r)
			if o < len(w) && i >= 0 && i < len(w[o]) && w[o][i] != 0 {
				idx = append(idx, k)
				break
			}
		}
	}
	return idx
}

// bsgsCost estimates the cost of a baby-step giant-step transformation
// with the given diagonals, in plaintext products: one per diagonal, half
// a key switch per hoisted baby step, a key switch per giant step.
func bsgsCost(params Parameters, idx []int) int {
	slots := params.Slots()
	n1 := commonlt.FindBestBSGSRatio(idx, slots, bsgsRatio)
	_, giants, babies := commonlt.BSGSIndex(idx, slots, n1)
	return len(idx) + costKeySwitch/2*(len(babies)-1) + costKeySwitch*(len(giants)-1)
}

// costKeySwitch is the cost of a key switch in plaintext products.
const costKeySwitch = 8

// cost estimates the work of the linear layers in latency mode, in
// plaintext products (activations and rescales cost the same in every
// packing, so they are left out).
func (p *Plan) cost() int {
	c := 0
	for li := range p.layers {
		lp := &p.layers[li]
		for bo := range lp.diagIdx {
			for _, idx := range lp.diagIdx[bo] {
				switch {
				case len(idx) == 0:
				case lp.expand > 0:
					c++
				default:
					c += bsgsCost(p.params, idx)
				}
			}
			c += costKeySwitch * len(lp.foldSteps())
		}
	}
	return c
}

// outBlock returns the slot period of the output in latency mode.
func (p *Plan) outBlock() int {
	if p.mode != Latency {
		return 0
	}
	return p.layers[len(p.layers)-1].dOut
}

// Parameters returns the parameters of the plan (a preset truncated to the
// model's depth, or the bootstrapping parameters whole); build the
// [Client] from them.
func (p *Plan) Parameters() Parameters { return p.params }

// Mode returns the packing.
func (p *Plan) Mode() Mode { return p.mode }

// Depth returns the multiplicative depth of the model.
func (p *Plan) Depth() int { return p.depth }

// Model returns a copy of the model with its resolved activation degrees
// and intervals.
func (p *Plan) Model() *Model { return p.model.clone() }

// SamplesPerCiphertext returns how many samples one [Ciphertext] holds.
func (p *Plan) SamplesPerCiphertext() int {
	if p.mode == Batch {
		return p.params.Slots()
	}
	return 1
}

// Bootstraps returns the number of bootstrapping operations per
// ciphertext that one evaluation performs (zero unless the plan was
// compiled with [CompileOptions.Bootstrap] for a model deeper than its
// parameters).
func (p *Plan) Bootstraps() int { return p.boots }

// Rotations returns the number of Galois keys the plan's layers need; a
// plan that bootstraps also needs the bootstrapping keys (48 Galois keys
// at logN 16), which [Client.GenEvaluationKeys] adds.
func (p *Plan) Rotations() int { return len(p.galEls) }

// String summarises the plan.
func (p *Plan) String() string {
	conv := ""
	if p.convDirect {
		conv = " conv=direct"
	}
	return fmt.Sprintf("mode=%v depth=%d bootstraps=%d block=%d%s galois_keys=%d params=[%v]", p.mode, p.depth, p.boots, p.block, conv, len(p.galEls), p.params)
}
