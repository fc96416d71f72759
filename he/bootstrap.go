package he

import (
	"fmt"
	"math"
	"sync"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/bootstrapping"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
	"github.com/tuneinsight/lattigo/v6/utils"
)

// bootSpec attaches lattigo bootstrapping parameters to [Parameters]; the
// CKKS parameters are then its residual parameters (the levels left
// between bootstraps).
type bootSpec struct {
	params bootstrapping.Parameters
}

// MaxLogQP128Bootstrap is the total modulus bound used for the
// bootstrapping parameters at ring degree 2^16: 1772 bits, the 128-bit
// classical bound for ternary secrets at N = 2^16 from the lattice
// estimator (the figure OpenFHE tabulates; the Homomorphic Encryption
// Standard stops at N = 2^15).
const MaxLogQP128Bootstrap = 1772

// NewBootstrapParameters returns the bootstrappable parameters the planner
// uses when a model is deeper than the largest preset and
// [CompileOptions.Bootstrap] is set: lattigo's default set
// N16QP1767H32768H32 (circuits/ckks/bootstrapping/default_parameters.go,
// after Bossuat, Troncoso-Pastoriza and Hubaux, eprint 2022/024): ring
// degree 2^16 (32768 slots), residual chain 60 + 13·40 bits (13 levels
// between bootstraps at a 2^40 scale) with P = 6·61 bits for the model's
// keys; the bootstrapping modulus adds the circuit's primes (SlotsToCoeffs
// 3·39, EvalMod 8·60, CoeffsToSlots 4·56) and P = 5·61 bits, in all
// log2 QP = 1706 with lattigo v6.2.0 (the set's name gives 1767, lattigo's
// earlier figure), below [MaxLogQP128Bootstrap]. The secret is ternary
// with Hamming weight N/2 = 32768; bootstrapping switches to an ephemeral
// sparse secret of weight 32 for its modulus raising only (sparse-secret
// encapsulation, which eprint 2022/024 shows keeps 128-bit security),
// with a failure probability of about 2^-138.
func NewBootstrapParameters() (Parameters, error) {
	return secureBootParameters()
}

// secureBootParameters builds the (immutable) secure set once: it takes
// about half a second.
var secureBootParameters = sync.OnceValues(func() (Parameters, error) {
	return newBootParameters(16, false)
})

// InsecureBootstrapTestParameters returns bootstrappable parameters that are
// NOT secure, for tests only: the chains of [NewBootstrapParameters] on a
// ring of degree 2^logN (10 ≤ logN ≤ 14), with the message ratio raised by
// 16 − logN bits to keep the same precision on fewer slots, as lattigo's
// own short bootstrapping tests do.
func InsecureBootstrapTestParameters(logN int) (Parameters, error) {
	if logN < 10 || logN > 14 {
		return Parameters{}, fmt.Errorf("he: insecure bootstrapping test logN %d out of [10, 14]: %w", logN, ErrInput)
	}
	v, _ := insecureBootCache.LoadOrStore(logN, sync.OnceValues(func() (Parameters, error) {
		return newBootParameters(logN, true)
	}))
	return v.(func() (Parameters, error))()
}

// insecureBootCache holds one builder per logN: building bootstrapping
// parameters generates dozens of primes, and decoders rebuild them.
var insecureBootCache sync.Map

func newBootParameters(logN int, insecure bool) (Parameters, error) {
	lit := ckks.ParametersLiteral{
		LogN:            logN,
		LogQ:            append([]int{60}, rep(40, 13)...),
		LogP:            rep(61, 6),
		Xs:              ring.Ternary{H: 1 << (logN - 1)},
		Xe:              rlwe.DefaultXe,
		RingType:        ring.Standard,
		LogDefaultScale: 40,
	}
	residual, err := ckks.NewParametersFromLiteral(lit)
	if err != nil {
		return Parameters{}, fmt.Errorf("he: cannot build bootstrapping residual parameters: %w", err)
	}
	// Xs only labels the bootstrapping parameters (their keys are made
	// under the client's secret, extended); lattigo's default literal
	// leaves it at H=192, which would mislabel this set.
	btpLit := bootstrapping.ParametersLiteral{LogN: utils.Pointy(logN), Xs: lit.Xs}
	if logN < 16 {
		btpLit.LogMessageRatio = utils.Pointy(bootstrapping.DefaultLogMessageRatio + 16 - logN)
	}
	btp, err := bootstrapping.NewParametersFromLiteral(residual, btpLit)
	if err != nil {
		return Parameters{}, fmt.Errorf("he: cannot build bootstrapping parameters: %w", err)
	}
	name := "N16QP1767H32768H32"
	if insecure {
		name = fmt.Sprintf("insecure-bootstrap-test-logN%d", logN)
	}
	return Parameters{p: residual, name: name, insecure: insecure, boot: &bootSpec{params: btp}}, nil
}

// Bootstrappable reports whether the parameters carry bootstrapping
// parameters ([NewBootstrapParameters], [InsecureBootstrapTestParameters]).
func (p Parameters) Bootstrappable() bool { return p.boot != nil }

// secure reports whether bootstrappable parameters are the vetted set.
func (b *bootSpec) secure() bool {
	bp := b.params.BootstrappingParameters
	return bp.LogN() == 16 && bp.LogQP() <= MaxLogQP128Bootstrap && bp.Xs() == (ring.Ternary{H: 1 << 15})
}

// bootBound returns the power of two B that the output of a layer with the
// given activation is divided by before bootstrapping (bootstrapping wants
// values of magnitude at most about 1), and false if the output has no
// known bound.
func bootBound(l *Dense) (float64, bool) {
	switch l.Activation {
	case ActReLU:
		return math.Exp2(math.Ceil(math.Log2(l.Interval))), true
	case ActSigmoid, ActTanh:
		return 1, true
	}
	return 0, false
}

// placeBootstrap checks that the input of layer li, which needs need
// levels, can be bootstrapped and returns the power of two its values are
// divided by during bootstrapping.
func (p *Plan) placeBootstrap(m *Model, li, need int) (float64, error) {
	params := p.params
	if params.boot == nil || li == 0 {
		return 0, fmt.Errorf("he: layer %d needs %d levels, %s has fewer left: %w", li, need, params.Name(), ErrDepth)
	}
	if need > params.Depth() {
		return 0, fmt.Errorf("he: layer %d needs depth %d; %s leaves %d levels between bootstraps: %w",
			li, need, params.Name(), params.Depth(), ErrDepth)
	}
	prev := &m.Layers[li-1]
	b, ok := bootBound(prev)
	if !ok {
		return 0, fmt.Errorf("he: layer %d must be bootstrapped, but the output of layer %d (activation %q) has no known range; only relu, sigmoid and tanh outputs can be bootstrapped: %w",
			li, li-1, prev.Activation, ErrDepth)
	}
	// Bootstrapping a level-0 ciphertext needs its scale (2^logScale·b, a
	// power of two) below q0 over the message ratio.
	bp := params.boot.params
	room := math.Log2(float64(params.p.Q()[0])) - float64(bp.Mod1ParametersLiteral.LogMessageRatio) - float64(params.LogScale())
	if math.Log2(b) >= math.Floor(room) {
		return 0, fmt.Errorf("he: layer %d: interval %v of layer %d too wide to bootstrap with %s (at most 2^%d): %w",
			li, prev.Interval, li-1, params.Name(), int(math.Floor(room))-1, ErrModel)
	}
	p.boots++
	return b, nil
}

// bootKeys are the bootstrapping evaluation keys, all compressed (seeded)
// and under the secret extended to the bootstrapping modulus: a
// relinearization key and the Galois keys of the bootstrapping circuit,
// and the two keys of the sparse-secret encapsulation.
type bootKeys struct {
	rlk      *rlwe.RelinearizationKey
	gks      map[uint64]*rlwe.GaloisKey
	d2s, s2d *rlwe.EvaluationKey // dense to sparse (at Q[:1], P[:1]), sparse to dense
}

// sparseParams returns the parameters of the dense-to-sparse key: the
// bootstrapping ring with its first primes of Q and P only.
func sparseParams(bp bootstrapping.Parameters) (rlwe.Parameters, error) {
	p := bp.BootstrappingParameters
	return rlwe.NewParametersFromLiteral(rlwe.ParametersLiteral{LogN: p.LogN(), Q: p.Q()[:1], P: p.P()[:1]})
}

// genBootKeys generates the bootstrapping keys for sk, as lattigo's
// bootstrapping.Parameters.GenEvaluationKeys does for equal ring degrees,
// but compressed.
func genBootKeys(b *bootSpec, sk *rlwe.SecretKey) (*bootKeys, error) {
	bp := b.params
	p2 := bp.BootstrappingParameters
	ringQ, ringP := p2.RingQ(), p2.RingP()
	// The same secret, extended to the bootstrapping moduli.
	skN2 := rlwe.NewSecretKey(p2)
	buf := ringQ.NewPoly()
	rlwe.ExtendBasisSmallNormAndCenterNTTMontgomery(ringQ, ringQ, sk.Value.Q, buf, skN2.Value.Q)
	rlwe.ExtendBasisSmallNormAndCenterNTTMontgomery(ringQ, ringP, sk.Value.Q, buf, skN2.Value.P)
	defer func() {
		skN2.Value.Q.Zero()
		skN2.Value.P.Zero()
	}()
	comp := rlwe.EvaluationKeyParameters{Compressed: true}
	kgen := rlwe.NewKeyGenerator(p2)
	k := &bootKeys{rlk: kgen.GenRelinearizationKeyNew(skN2, comp), gks: map[uint64]*rlwe.GaloisKey{}}
	for _, g := range append(bp.GaloisElements(p2), p2.GaloisElementForComplexConjugation()) {
		if _, ok := k.gks[g]; !ok {
			k.gks[g] = kgen.GenGaloisKeyNew(g, skN2, comp)
		}
	}
	sp, err := sparseParams(bp)
	if err != nil {
		return nil, fmt.Errorf("cannot build encapsulation parameters: %w", err)
	}
	kgenSparse := rlwe.NewKeyGenerator(sp)
	skSparse := kgenSparse.GenSecretKeyWithHammingWeightNew(bp.EphemeralSecretWeight)
	k.d2s = kgenSparse.GenEvaluationKeyNew(skN2, skSparse, comp)
	k.s2d = kgen.GenEvaluationKeyNew(skSparse, skN2, comp)
	skSparse.Value.Q.Zero()
	skSparse.Value.P.Zero()
	return k, nil
}

// expandEVK returns an expanded copy of a compressed key.
func expandEVK(ek *rlwe.EvaluationKey, params rlwe.ParameterProvider) (*rlwe.EvaluationKey, error) {
	c := ek.CopyNew()
	c.Seed = ek.Seed // lattigo v6.2.0's CopyNew drops the seed
	if c.IsCompressed() {
		if err := c.Expand(params, nil); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// newBootstrapper expands the bootstrapping keys and builds lattigo's
// bootstrapping evaluator (which precomputes the encoded DFT matrices).
func newBootstrapper(b *bootSpec, k *bootKeys) (*bootstrapping.Evaluator, error) {
	bp := b.params
	p2 := bp.BootstrappingParameters
	sp, err := sparseParams(bp)
	if err != nil {
		return nil, err
	}
	set := rlwe.NewMemEvaluationKeySet(nil)
	rlk, err := expandEVK(&k.rlk.EvaluationKey, p2)
	if err != nil {
		return nil, fmt.Errorf("cannot expand bootstrapping relinearization key: %w", err)
	}
	set.RelinearizationKey = &rlwe.RelinearizationKey{EvaluationKey: *rlk}
	for g, gk := range k.gks {
		e, err := expandEVK(&gk.EvaluationKey, p2)
		if err != nil {
			return nil, fmt.Errorf("cannot expand bootstrapping Galois key %d: %w", g, err)
		}
		set.GaloisKeys[g] = &rlwe.GaloisKey{EvaluationKey: *e, GaloisElement: gk.GaloisElement, NthRoot: gk.NthRoot}
	}
	d2s, err := expandEVK(k.d2s, sp)
	if err != nil {
		return nil, fmt.Errorf("cannot expand encapsulation key: %w", err)
	}
	s2d, err := expandEVK(k.s2d, p2)
	if err != nil {
		return nil, fmt.Errorf("cannot expand encapsulation key: %w", err)
	}
	ev, err := bootstrapping.NewEvaluator(bp, &bootstrapping.EvaluationKeys{
		EvkDenseToSparse:    d2s,
		EvkSparseToDense:    s2d,
		MemEvaluationKeySet: set,
	})
	if err != nil {
		return nil, fmt.Errorf("bootstrapping keys: %v: %w", err, ErrMissingKey)
	}
	return ev, nil
}

// bootstrap refreshes the ciphertexts in place: each holds a value of
// magnitude at most about b at the default scale; it is bootstrapped as
// value/b and read back at scale default/b.
func (s *Server) bootstrap(cts []*rlwe.Ciphertext, b float64) error {
	def := s.plan.params.p.DefaultScale()
	for i, ct := range cts {
		if r := ct.Scale.Div(def).Float64(); math.Abs(r-1) > 1e-9 {
			return fmt.Errorf("bootstrap input %d: scale off the default by a factor %v: %w", i, r, ErrMismatch)
		}
		ct.Scale = def.Mul(rlwe.NewScale(b)) // exact power of two: the value reads x/b
		s.btpMu.Lock()
		out, err := s.btp.Bootstrap(ct)
		s.btpMu.Unlock()
		if err != nil {
			return fmt.Errorf("bootstrap input %d: %w", i, err)
		}
		out.Scale = out.Scale.Div(rlwe.NewScale(b))
		cts[i] = out
	}
	return nil
}

// MaxBootstrapKeyBytes bounds the bootstrapping keys in an encoded key set
// (on top of [MaxEvaluationKeyBytes]): the keys of [NewBootstrapParameters]
// take about 5.5 GB (5.7 GB with the model's own keys).
const MaxBootstrapKeyBytes = 8 << 30

// decodeBootParameters rebuilds bootstrappable parameters from their
// constructor (the stream cannot choose bootstrapping parameters) and
// checks that the decoded moduli, scale and name are theirs.
func decodeBootParameters(d *decoder, lit ckks.ParametersLiteral, name string, insecure bool, policy SecurityPolicy) Parameters {
	var p Parameters
	var err error
	switch {
	case insecure && lit.LogN <= 14:
		p, err = InsecureBootstrapTestParameters(lit.LogN)
	case !insecure && lit.LogN == 16:
		p, err = NewBootstrapParameters()
	default:
		d.fail(ErrMalformed, "no bootstrappable parameters with logN %d (insecure %v)", lit.LogN, insecure)
		return Parameters{}
	}
	if err != nil {
		d.fail(ErrMalformed, "%v", err)
		return Parameters{}
	}
	if !slicesEqual(p.p.Q(), lit.Q) || !slicesEqual(p.p.P(), lit.P) || p.LogScale() != lit.LogDefaultScale || p.name != name {
		d.fail(ErrMalformed, "bootstrappable parameters %q do not match %s", name, p.name)
		return Parameters{}
	}
	if insecure && policy != AllowInsecureForTesting {
		d.fail(ErrInsecureParameters, "%s is below 128-bit security", p.name)
		return Parameters{}
	}
	return p
}

func slicesEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// check verifies the shapes WriteTo relies on: compressed keys, the
// relinearization, Galois and sparse-to-dense keys at the full
// bootstrapping modulus, the dense-to-sparse key at its first primes.
func (k *bootKeys) check(b *bootSpec) error {
	p2 := b.params.BootstrappingParameters
	lq, lp := p2.MaxLevelQ(), p2.MaxLevelP()
	ok := k.rlk != nil && evkShapeAt(&k.rlk.EvaluationKey, lq, lp) &&
		evkShapeAt(k.s2d, lq, lp) && evkShapeAt(k.d2s, 0, 0) && len(k.gks) <= MaxGaloisKeys
	for _, gk := range k.gks {
		ok = ok && gk != nil && evkShapeAt(&gk.EvaluationKey, lq, lp)
	}
	if !ok {
		return fmt.Errorf("he: bootstrapping keys are not compressed keys of the bootstrapping parameters: %w", ErrMismatch)
	}
	return nil
}

// encode writes the bootstrapping keys: the Galois key count, the
// relinearization key, the Galois keys (element, key) in increasing
// order, and the dense-to-sparse and sparse-to-dense keys. Their shapes
// follow from the parameters.
func (k *bootKeys) encode(e *encoder) {
	gal := make([]uint64, 0, len(k.gks))
	for g := range k.gks {
		gal = append(gal, g)
	}
	gal = sortedU64(gal)
	e.u32(uint32(len(gal)))
	e.evk(&k.rlk.EvaluationKey)
	for _, g := range gal {
		e.u64(g)
		e.evk(&k.gks[g].EvaluationKey)
	}
	e.evk(k.d2s)
	e.evk(k.s2d)
}

func decodeBootKeys(d *decoder, b *bootSpec, strict bool) *bootKeys {
	p2 := b.params.BootstrappingParameters
	nGal := d.u32()
	if d.err != nil {
		return nil
	}
	if nGal > MaxGaloisKeys {
		d.fail(ErrTooLarge, "%d bootstrapping Galois keys, limit %d", nGal, MaxGaloisKeys)
		return nil
	}
	// strict: exactly the Galois elements genBootKeys generates.
	var want map[uint64]bool
	if strict {
		want = map[uint64]bool{}
		for _, g := range append(b.params.GaloisElements(p2), p2.GaloisElementForComplexConjugation()) {
			want[g] = true
		}
		if int(nGal) != len(want) {
			d.fail(ErrMismatch, "%d bootstrapping Galois keys, the parameters need %d", nGal, len(want))
			return nil
		}
	}
	comp := rlwe.EvaluationKeyParameters{Compressed: true}
	keyBytes := int64(8*p2.N()) * int64(len(p2.Q())+len(p2.P())) * int64(p2.BaseRNSDecompositionVectorSize(p2.MaxLevelQ(), p2.MaxLevelP()))
	if keyBytes*int64(nGal+2) > MaxBootstrapKeyBytes {
		d.fail(ErrTooLarge, "%d bootstrapping keys of %d bytes exceed %d bytes", nGal+2, keyBytes, int64(MaxBootstrapKeyBytes))
		return nil
	}
	sp, err := sparseParams(b.params)
	if err != nil {
		d.fail(ErrMalformed, "%v", err)
		return nil
	}
	q, p := p2.Q(), p2.P()
	k := &bootKeys{rlk: rlwe.NewRelinearizationKey(p2, comp), gks: map[uint64]*rlwe.GaloisKey{}}
	d.evkModuli(&k.rlk.EvaluationKey, q, p, "bootstrapping relinearization key")
	nthRoot := uint64(2 * p2.N())
	for i := range int(nGal) {
		g := d.u64()
		if d.err != nil {
			return nil
		}
		if g%2 == 0 || g >= nthRoot {
			d.fail(ErrMalformed, "bootstrapping Galois key %d: element %d is not odd and below 2N", i, g)
			return nil
		}
		if _, dup := k.gks[g]; dup {
			d.fail(ErrMalformed, "bootstrapping Galois key %d: duplicate element %d", i, g)
			return nil
		}
		if want != nil && !want[g] {
			d.fail(ErrMismatch, "bootstrapping Galois key %d: element %d is not one of the bootstrapping circuit", i, g)
			return nil
		}
		gk := rlwe.NewGaloisKey(p2, comp)
		gk.GaloisElement, gk.NthRoot = g, nthRoot
		d.evkModuli(&gk.EvaluationKey, q, p, fmt.Sprintf("bootstrapping Galois key %d", i))
		if d.err != nil {
			return nil
		}
		k.gks[g] = gk
	}
	k.d2s = rlwe.NewEvaluationKey(sp, comp)
	d.evkModuli(k.d2s, sp.Q(), sp.P(), "dense-to-sparse key")
	k.s2d = rlwe.NewEvaluationKey(p2, comp)
	d.evkModuli(k.s2d, q, p, "sparse-to-dense key")
	if d.err != nil {
		return nil
	}
	return k
}
