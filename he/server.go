package he

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/bootstrapping"
	"github.com/tuneinsight/lattigo/v6/circuits/ckks/lintrans"
	"github.com/tuneinsight/lattigo/v6/circuits/ckks/polynomial"
	commonlt "github.com/tuneinsight/lattigo/v6/circuits/common/lintrans"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// EvaluationKeys are the public keys a [Server] evaluates with: a
// relinearization key and Galois (rotation) keys. They cannot decrypt.
type EvaluationKeys struct {
	params Parameters
	set    *rlwe.MemEvaluationKeySet
	boot   *bootKeys // bootstrapping keys, for plans that bootstrap
}

// Bytes returns the size of the keys as [EvaluationKeys.WriteTo] encodes
// them (compressed).
func (k *EvaluationKeys) Bytes() int {
	n, err := k.WriteTo(io.Discard)
	if err != nil { // keys from CollectiveKeyGen are not compressed
		return k.set.BinarySize()
	}
	return int(n)
}

// GaloisKeys returns the number of Galois keys held for the layers (the
// bootstrapping keys, if any, are not counted).
func (k *EvaluationKeys) GaloisKeys() int { return len(k.set.GaloisKeys) }

// Server evaluates a compiled model on ciphertexts with evaluation keys
// only: it holds no secret key and cannot decrypt. A Server is safe for
// concurrent use by multiple goroutines; each call to [Server.Evaluate]
// takes a private evaluator from a pool (evaluators share the read-only
// keys and encoded weights but not their scratch buffers). One call spreads
// its independent work over min(GOMAXPROCS, work items) goroutines, each
// with its own evaluator (see the package documentation). Bootstraps, if
// the plan has any, go through one shared bootstrapper and are serialized.
type Server struct {
	plan   *Plan
	keys   *EvaluationKeys
	layers []serverLayer
	pool   sync.Pool
	// idle keeps up to 2·GOMAXPROCS workers across garbage collections
	// (which empty the pool); the pool takes the overflow.
	idle chan *worker
	// btp bootstraps; lattigo's bootstrapper has no shallow copy and its
	// precomputed matrices are large, so one is shared under btpMu.
	btp   *bootstrapping.Evaluator
	btpMu sync.Mutex
	// zeroOut is the plan's output on an all-zero input (polynomial
	// activations), in the units of the output ciphertexts: batch outputs
	// subtract it in the slots no sample uses before masking them.
	zeroOut []float64
	// maskRand, when set (by tests only), replaces crypto/rand for the
	// masks.
	maskRand io.Reader
}

// getWorker takes an idle worker, or a new one.
func (s *Server) getWorker() *worker {
	select {
	case w := <-s.idle:
		return w
	default:
		return s.pool.Get().(*worker)
	}
}

// putWorker returns w to the idle list, or to the pool when it is full.
func (s *Server) putWorker(w *worker) {
	select {
	case s.idle <- w:
	default:
		s.pool.Put(w)
	}
}

type serverLayer struct {
	lts      [][]*lintrans.LinearTransformation // latency: [out block][in block], nil for zero blocks
	bias     []*rlwe.Plaintext                  // latency: per out block, nil for no bias
	w        [][]float64                        // batch: folded weights
	wMont    [][][]uint64                       // batch: [prime][out][in] round(w·q), Montgomery form
	nz       [][]int                            // batch: per output, the inputs with a non-zero weight
	b        []float64                          // batch: folded bias (nil for none)
	scale    rlwe.Scale                         // scale of the layer input
	expanded *rlwe.Plaintext                    // latency, client-expanded first layer: all diagonals side by side
}

type worker struct {
	eval  *ckks.Evaluator
	lt    *lintrans.Evaluator
	poly  *polynomial.Evaluator
	plain *ckks.Encoder
}

// NewServer prepares the evaluation of plan with keys: it checks that the
// keys cover every rotation the plan needs and encodes the weights.
func NewServer(plan *Plan, keys *EvaluationKeys) (*Server, error) {
	if plan == nil || keys == nil || keys.set == nil {
		return nil, fmt.Errorf("he: NewServer: nil plan or keys: %w", ErrInput)
	}
	if !plan.params.Equal(keys.params) {
		return nil, fmt.Errorf("he: NewServer: keys for %s, plan for %s: %w", keys.params.Name(), plan.params.Name(), ErrMismatch)
	}
	if plan.relin && keys.set.RelinearizationKey == nil {
		return nil, fmt.Errorf("he: NewServer: model has activations but keys hold no relinearization key: %w", ErrMissingKey)
	}
	if plan.relin && keys.set.RelinearizationKey.LevelQ() < plan.relinLevel {
		return nil, fmt.Errorf("he: NewServer: relinearization key at level %d, the plan relinearizes at %d: %w",
			keys.set.RelinearizationKey.LevelQ(), plan.relinLevel, ErrMissingKey)
	}
	for _, g := range plan.galEls {
		gk, ok := keys.set.GaloisKeys[g]
		if !ok {
			return nil, fmt.Errorf("he: NewServer: keys lack the Galois key for element %d: %w", g, ErrMissingKey)
		}
		if gk.LevelQ() < plan.galLevel[g] {
			return nil, fmt.Errorf("he: NewServer: Galois key %d at level %d, the plan uses it at %d: %w", g, gk.LevelQ(), plan.galLevel[g], ErrMissingKey)
		}
	}
	params := plan.params.p
	// Expand compressed keys into a private set.
	set := rlwe.NewMemEvaluationKeySet(nil)
	if rlk := keys.set.RelinearizationKey; rlk != nil {
		k := rlk.CopyNew()
		k.Seed = rlk.Seed // lattigo v6.2.0's CopyNew drops the seed
		if k.IsCompressed() {
			if err := k.Expand(params, nil); err != nil {
				return nil, fmt.Errorf("he: NewServer: cannot expand relinearization key: %w", err)
			}
		}
		set.RelinearizationKey = k
	}
	for _, g := range plan.galEls {
		k := keys.set.GaloisKeys[g].CopyNew()
		k.Seed = keys.set.GaloisKeys[g].Seed // lattigo v6.2.0's CopyNew drops the seed
		if k.IsCompressed() {
			if err := k.Expand(params, nil); err != nil {
				return nil, fmt.Errorf("he: NewServer: cannot expand Galois key %d: %w", g, err)
			}
		}
		set.GaloisKeys[g] = k
	}
	// The server keeps the model keys but not the compressed bootstrapping
	// keys (gigabytes at logN 16): it holds their expanded form.
	s := &Server{plan: plan, keys: &EvaluationKeys{params: keys.params, set: keys.set}, idle: make(chan *worker, 2*runtime.GOMAXPROCS(0))}
	if plan.boots > 0 {
		if keys.boot == nil {
			return nil, fmt.Errorf("he: NewServer: the plan bootstraps but the keys hold no bootstrapping keys: %w", ErrMissingKey)
		}
		btp, err := newBootstrapper(plan.params.boot, keys.boot)
		if err != nil {
			return nil, fmt.Errorf("he: NewServer: %w", err)
		}
		s.btp = btp
	}
	ecd := ckks.NewEncoder(params)
	scale := params.DefaultScale()
	m := plan.model
	in := m.InputDim
	for li := range m.Layers {
		l := &m.Layers[li]
		lp := &plan.layers[li]
		if lp.boot > 0 {
			// Bootstrapped inputs come back at the default scale over boot.
			scale = params.DefaultScale().Div(rlwe.NewScale(lp.boot))
		}
		sl := serverLayer{scale: scale}
		q := rlwe.NewScale(params.Q()[lp.levelIn])
		switch plan.mode {
		case Latency:
			slots := params.MaxSlots()
			sl.lts = make([][]*lintrans.LinearTransformation, len(lp.diagIdx))
			sl.bias = make([]*rlwe.Plaintext, len(lp.diagIdx))
			for bo := range lp.diagIdx {
				sl.lts[bo] = make([]*lintrans.LinearTransformation, len(lp.diagIdx[bo]))
				for bi, idx := range lp.diagIdx[bo] {
					if len(idx) == 0 {
						continue
					}
					var diags lintrans.Diagonals[float64]
					if lp.conv != nil {
						diags = lp.conv.masks(l.Weights, idx, lp.fold, slots)
					} else {
						diags = lp.diagonals(l.Weights, bo, bi, idx, lp.fold, slots)
					}
					lt := lintrans.NewTransformation(params, lp.ltParams(plan.params, idx))
					if err := lintrans.Encode(ecd, diags, lt); err != nil {
						return nil, fmt.Errorf("he: layer %d: cannot encode block (%d, %d): %w", li, bo, bi, err)
					}
					sl.lts[bo][bi] = &lt
				}
				if lp.expand > 0 && len(lp.diagIdx[0][0]) > 0 {
					// Block j of the plaintext holds diagonal j mod E.
					v := make([]float64, slots)
					P := lp.period()
					for sIdx := range v {
						o, i := lp.weightAt(0, 0, (sIdx/P)%lp.expand, sIdx%P)
						if o < l.Out() && i >= 0 && i < in && (sIdx/P)%lp.expand < lp.diagonalDim() {
							v[sIdx] = l.Weights[o][i] * lp.fold
						}
					}
					pt := ckks.NewPlaintext(params, lp.levelIn)
					pt.Scale = q
					if err := ecd.Encode(v, pt); err != nil {
						return nil, fmt.Errorf("he: layer %d: cannot encode expanded weights: %w", li, err)
					}
					sl.expanded = pt
				}
				if len(l.Bias) != 0 {
					// The bias is added after the folds, in the output period
					// (at the slots of the strided outputs of a convolution).
					v := lp.biasSlots(l.Bias, bo, lp.fold, slots)
					// Added after the rescale, at the layer's input scale.
					pt := ckks.NewPlaintext(params, lp.levelIn-1)
					pt.Scale = scale
					if err := ecd.Encode(v, pt); err != nil {
						return nil, fmt.Errorf("he: layer %d: cannot encode bias: %w", li, err)
					}
					sl.bias[bo] = pt
				}
			}
		case Batch:
			// Each weight becomes the integer round(w·q) with q the prime the
			// rescale drops, in Montgomery form modulo every prime of the
			// level: the multiply-accumulate is then one vector operation per
			// prime, with no per-call big-number conversion.
			ringQ := params.RingQ().AtLevel(lp.levelIn)
			qf := float64(params.Q()[lp.levelIn])
			sl.w = make([][]float64, l.Out())
			sl.wMont = make([][][]uint64, lp.levelIn+1)
			for j := range sl.wMont {
				sl.wMont[j] = make([][]uint64, l.Out())
				for o := range sl.wMont[j] {
					sl.wMont[j][o] = make([]uint64, in)
				}
			}
			sl.nz = make([][]int, l.Out())
			for o := range sl.w {
				sl.w[o] = make([]float64, in)
				for i := range in {
					v := l.Weights[o][i] * lp.fold
					sl.w[o][i] = v
					if v == 0 || math.Round(v*qf) == 0 {
						continue
					}
					sl.nz[o] = append(sl.nz[o], i)
					iv := math.Round(v * qf)
					if math.Abs(iv) >= 1<<62 {
						return nil, fmt.Errorf("he: layer %d: weight [%d][%d] = %g too large for the modulus: %w", li, o, i, v, ErrModel)
					}
					for j, sub := range ringQ.SubRings[:lp.levelIn+1] {
						r := uint64(math.Abs(iv)) % sub.Modulus
						if iv < 0 && r != 0 {
							r = sub.Modulus - r
						}
						sl.wMont[j][o][i] = ring.MForm(r, sub.Modulus, sub.BRedConstant)
					}
				}
			}
			if len(l.Bias) != 0 {
				sl.b = make([]float64, l.Out())
				for o := range sl.b {
					sl.b[o] = l.Bias[o] * lp.fold
				}
			}
		}
		// Scale after the layer: the dense part restores the input scale
		// exactly (weights are encoded at the scale of the prime dropped
		// by the rescale); square maps s to s²/q; polynomials return the
		// default scale.
		switch l.Activation {
		case ActSquare:
			qa := rlwe.NewScale(params.Q()[lp.levelIn-1])
			scale = scale.Mul(scale).Div(qa)
		case ActSigmoid, ActTanh, ActReLU:
			scale = params.DefaultScale()
		}
		s.layers = append(s.layers, sl)
		in = l.Out()
	}
	s.pool.New = func() any {
		eval := ckks.NewEvaluator(params, set)
		return &worker{
			eval:  eval,
			lt:    lintrans.NewEvaluator(eval),
			poly:  polynomial.NewEvaluator(params, eval),
			plain: ckks.NewEncoder(params),
		}
	}
	if plan.mode == Batch {
		z, err := plan.predictApprox(make([]float64, m.InputDim))
		if err != nil {
			return nil, fmt.Errorf("he: NewServer: %w", err)
		}
		for i := range z {
			z[i] /= plan.outScale
		}
		s.zeroOut = z
	}
	return s, nil
}

// Plan returns the server's plan.
func (s *Server) Plan() *Plan { return s.plan }

// Evaluate runs the model on an encrypted input made by [Client.Encrypt]
// for the same plan and returns the encrypted output. The input is not
// modified. Safe for concurrent use.
func (s *Server) Evaluate(in *Ciphertext) (*Ciphertext, error) {
	pl := s.plan
	if err := in.check(pl.params); err != nil {
		return nil, err
	}
	if in.mode != pl.mode || in.dim != pl.model.InputDim || (in.mode == Latency && in.block != pl.block) {
		return nil, fmt.Errorf("he: ciphertext (mode %v, dim %d) does not match plan (mode %v, dim %d): %w",
			in.mode, in.dim, pl.mode, pl.model.InputDim, ErrMismatch)
	}
	for i, e := range in.cts {
		if e.Level() != pl.params.Depth() {
			return nil, fmt.Errorf("he: input part %d at level %d, plan wants %d: %w", i, e.Level(), pl.params.Depth(), ErrMismatch)
		}
		if e.Scale.Cmp(pl.params.p.DefaultScale()) != 0 {
			return nil, fmt.Errorf("he: input part %d has a non-default scale: %w", i, ErrMismatch)
		}
	}
	w := s.getWorker()
	defer s.putWorker(w)
	cur := in.cts
	var err error
	for li := range pl.model.Layers {
		if b := pl.layers[li].boot; b > 0 {
			if err := s.bootstrap(cur, b); err != nil {
				return nil, fmt.Errorf("he: layer %d: %w", li, err)
			}
		}
		if pl.mode == Latency {
			cur, err = s.denseLatency(w, li, cur)
		} else {
			cur, err = s.denseBatch(w, li, cur)
		}
		if err != nil {
			return nil, fmt.Errorf("he: layer %d: %w", li, err)
		}
		if cur, err = s.activate(w, li, cur); err != nil {
			return nil, fmt.Errorf("he: layer %d activation: %w", li, err)
		}
	}
	if pl.mode == Batch && in.samples < pl.params.Slots() {
		if err := s.maskUnused(w, cur, in.samples); err != nil {
			return nil, fmt.Errorf("he: masking unused slots: %w", err)
		}
	}
	return &Ciphertext{mode: in.mode, samples: in.samples, dim: pl.model.OutputDim(), block: pl.outBlock(), scale: pl.outScale, cts: cur}, nil
}

// maskUnused replaces, in batch outputs holding samples samples, the
// slots no sample uses (which hold the model's output on an all-zero
// input) by fresh uniform values: it subtracts the plaintext output on
// zero, which leaves only encryption and approximation noise there, and
// adds values uniform on ±2^(LogOutputBound−2) drawn from crypto/rand.
// What is left of the model's output in those slots is hidden up to a
// statistical distance of about noise/2^(LogOutputBound−1) per slot. It
// assumes the client encrypted zeros there: a client that encrypts an
// input x in every unused slot reads f(x) − f(0) from the midpoint of
// the masked values, within about 2^(LogOutputBound−2)/(unused slots).
func (s *Server) maskUnused(w *worker, cts []*rlwe.Ciphertext, samples int) error {
	params := s.plan.params
	slots := params.Slots()
	r := math.Exp2(params.LogOutputBound() - 2)
	buf := make([]byte, 8*(slots-samples))
	v := make([]float64, slots)
	for o, ct := range cts {
		rnd := s.maskRand
		if rnd == nil {
			rnd = crand.Reader
		}
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return err
		}
		for k := samples; k < slots; k++ {
			u := float64(binary.LittleEndian.Uint64(buf[8*(k-samples):])>>11) * 0x1p-53
			v[k] = r*(2*u-1) - s.zeroOut[o]
		}
		pt := ckks.NewPlaintext(params.p, ct.Level())
		pt.Scale = ct.Scale
		if err := w.plain.Encode(v, pt); err != nil {
			return err
		}
		if err := w.eval.Add(ct, pt, ct); err != nil {
			return err
		}
	}
	clear(buf)
	return nil
}

func (s *Server) denseLatency(w *worker, li int, in []*rlwe.Ciphertext) ([]*rlwe.Ciphertext, error) {
	sl := &s.layers[li]
	params := s.plan.params.p
	level := s.plan.layers[li].levelIn
	if lp := &s.plan.layers[li]; lp.expand > 0 {
		return s.denseExpanded(w, li, in[0])
	}
	out := make([]*rlwe.Ciphertext, len(sl.lts))
	// For each input block, evaluate all its output blocks with one
	// hoisted decomposition (EvaluateMany), then accumulate.
	for bi := range in {
		var lts []lintrans.LinearTransformation
		var dst []int
		for bo := range sl.lts {
			if lt := sl.lts[bo][bi]; lt != nil {
				lts = append(lts, *lt)
				dst = append(dst, bo)
			}
		}
		if len(lts) == 0 {
			continue
		}
		res := make([]*rlwe.Ciphertext, len(lts))
		for i := range res {
			res[i] = rlwe.NewCiphertext(params, 1, level)
		}
		clts := make([]commonlt.LinearTransformation, len(lts))
		for i := range lts {
			clts[i] = commonlt.LinearTransformation(lts[i])
		}
		if err := s.evaluateLTs(w, in[bi], clts, res); err != nil {
			return nil, err
		}
		for i, bo := range dst {
			if out[bo] == nil {
				out[bo] = res[i]
			} else if err := w.eval.Add(out[bo], res[i], out[bo]); err != nil {
				return nil, err
			}
		}
	}
	for bo := range out {
		if out[bo] == nil { // all-zero block row: encrypt nothing, use a zero ciphertext
			out[bo] = rlwe.NewCiphertext(params, 1, level)
			out[bo].Scale = sl.scale.Mul(rlwe.NewScale(params.Q()[level]))
		}
	}
	// Output blocks are independent: rescale, fold and add the bias in
	// parallel.
	err := s.parallel(w, len(out), func(w *worker, bo int) error {
		// Rescale first: the folds then rotate at the lower level.
		if err := w.eval.Rescale(out[bo], out[bo]); err != nil {
			return err
		}
		for _, round := range foldRounds(s.plan.layers[li].foldSteps()) {
			if err := s.addRotations(w, out[bo], round); err != nil {
				return err
			}
		}
		if sl.bias[bo] != nil {
			if err := w.eval.Add(out[bo], sl.bias[bo], out[bo]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// diagonals returns the diagonals idx of block (bo, bi) of w, scaled by
// fold and repeated with the layer's period over slots.
func (lp *layerPlan) diagonals(w [][]float64, bo, bi int, idx []int, fold float64, slots int) map[int][]float64 {
	P := lp.period()
	diags := make(map[int][]float64, len(idx))
	for _, k := range idx {
		d := make([]float64, slots)
		for r := range P {
			o, i := lp.weightAt(bo, bi, k, r)
			if o < len(w) && i >= 0 && i < len(w[o]) {
				d[r] = w[o][i] * fold
			}
		}
		for sIdx := P; sIdx < slots; sIdx++ {
			d[sIdx] = d[sIdx%P]
		}
		diags[k] = d
	}
	return diags
}

// biasSlots returns the bias of output block bo, scaled by fold, at the
// slots of the outputs (after the folds) over all slots.
func (lp *layerPlan) biasSlots(bias []float64, bo int, fold float64, slots int) []float64 {
	v := make([]float64, slots)
	if lp.conv != nil {
		for o, t := range lp.conv.outPos {
			for sIdx := t; sIdx < slots; sIdx += lp.dOut {
				v[sIdx] = bias[o] * fold
			}
		}
		return v
	}
	for sIdx := range v {
		if o := bo*lp.dOut + sIdx%lp.dOut; o < len(bias) {
			v[sIdx] = bias[o] * fold
		}
	}
	return v
}

func (s *Server) denseBatch(w *worker, li int, in []*rlwe.Ciphertext) ([]*rlwe.Ciphertext, error) {
	sl := &s.layers[li]
	params := s.plan.params.p
	level := s.plan.layers[li].levelIn
	ringQ := params.RingQ().AtLevel(level)
	accScale := in[0].Scale.Mul(rlwe.NewScale(params.Q()[level]))
	deg := in[0].Degree()
	for i, ct := range in {
		if ct.Level() != level || ct.Degree() != deg || ct.Scale.Cmp(in[0].Scale) != 0 {
			return nil, fmt.Errorf("feature %d: level, degree or scale differs from feature 0: %w", i, ErrMismatch)
		}
	}
	out := make([]*rlwe.Ciphertext, len(sl.w))
	for o := range out {
		out[o] = ckks.NewCiphertext(params, deg, level)
		out[o].Scale = accScale
	}
	// The (part, prime) pairs are independent multiply-accumulates over
	// all outputs: split them across goroutines.
	nPrimes := level + 1
	err := s.parallel(w, (deg+1)*nPrimes, func(_ *worker, item int) error {
		d, j := item/nPrimes, item%nPrimes
		sub := ringQ.SubRings[j]
		src := make([][]uint64, len(in))
		dst := make([][]uint64, len(out))
		for i := range in {
			src[i] = in[i].Value[d].Coeffs[j]
		}
		for o := range out {
			dst[o] = out[o].Value[d].Coeffs[j]
		}
		macMontMany(dst, src, sl.wMont[j], sl.nz, sub.Modulus, sub.MRedConstant)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = s.parallel(w, len(out), func(w *worker, o int) error {
		acc := out[o]
		if sl.b != nil && sl.b[o] != 0 {
			if err := w.eval.Add(acc, sl.b[o], acc); err != nil {
				return err
			}
		}
		if err := w.eval.Rescale(acc, acc); err != nil {
			return err
		}
		if acc.Degree() > 1 {
			if err := w.eval.Relinearize(acc, acc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) activate(w *worker, li int, in []*rlwe.Ciphertext) ([]*rlwe.Ciphertext, error) {
	l := &s.plan.model.Layers[li]
	lp := &s.plan.layers[li]
	switch l.Activation {
	case ActSquare:
		// Batch mode relinearizes lazily: the next dense layer works on
		// degree-2 ciphertexts and relinearizes its (fewer) outputs.
		lazy := s.plan.mode == Batch && li+1 < len(s.plan.model.Layers)
		err := s.parallel(w, len(in), func(w *worker, i int) error {
			ct := in[i]
			var err error
			if lazy {
				if in[i], err = w.eval.MulNew(ct, ct); err != nil {
					return err
				}
			} else if err = w.eval.MulRelin(ct, ct, ct); err != nil {
				return err
			}
			return w.eval.Rescale(in[i], in[i])
		})
		if err != nil {
			return nil, err
		}
	case ActSigmoid, ActTanh:
		target := s.plan.params.p.DefaultScale()
		err := s.parallel(w, len(in), func(w *worker, i int) error {
			res, err := w.poly.Evaluate(in[i], *lp.poly, target)
			if err != nil {
				return err
			}
			in[i] = res
			return nil
		})
		if err != nil {
			return nil, err
		}
	case ActReLU:
		err := s.parallel(w, len(in), func(w *worker, i int) error {
			res, err := w.evalReLU(in[i], lp.relu, s.plan.params)
			if err != nil {
				return err
			}
			in[i] = res
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return in, nil
}

// denseExpanded evaluates a first layer whose input the client packed as
// rot(x, j mod E) in slot block j: one plaintext product, a rescale, then
// log2(E) rotate-and-adds at the lower level sum the E partial products
// (with the hybrid folds, in rounds of two; see [foldRounds]).
func (s *Server) denseExpanded(w *worker, li int, in *rlwe.Ciphertext) ([]*rlwe.Ciphertext, error) {
	sl := &s.layers[li]
	lp := &s.plan.layers[li]
	params := s.plan.params.p
	var out *rlwe.Ciphertext
	if sl.expanded == nil { // all-zero weights
		out = rlwe.NewCiphertext(params, 1, lp.levelIn-1)
		out.Scale = sl.scale
	} else {
		var err error
		if out, err = w.eval.MulNew(in, sl.expanded); err != nil {
			return nil, err
		}
		if err := w.eval.Rescale(out, out); err != nil {
			return nil, err
		}
	}
	for _, round := range foldRounds(lp.foldSteps()) {
		if err := s.addRotations(w, out, round); err != nil {
			return nil, err
		}
	}
	if sl.bias[0] != nil {
		if err := w.eval.Add(out, sl.bias[0], out); err != nil {
			return nil, err
		}
	}
	return []*rlwe.Ciphertext{out}, nil
}
