package he

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
)

// Noise flooding for decryptions that leave the key owner.
//
// A CKKS decryption c0 + c1·s = Δ·m + e reveals the error e, which
// depends on the secret key; Li and Micciancio (Eurocrypt 2021) recover
// the key from such decryptions. Flooding adds, in the coefficient domain
// and before decoding, a Gaussian z of standard deviation
//
//	σ = √(12τ) · 2^(s/2) · B
//
// where B bounds the coefficients of e, s is the statistical security in
// bits and τ the number of decryptions of the same or related ciphertexts
// the adversary sees. This is the bound of Li, Micciancio, Schultz and
// Sorrell (Securing approximate homomorphic encryption using differential
// privacy, Crypto 2022) as OpenFHE applies it in its
// NOISE_FLOODING_DECRYPT mode (CKKS_NOISE_FLOODING.md, with the √(2N)
// factor of the paper's Corollary 2 dropped because the game is played
// over the coefficient embedding). OpenFHE measures B in a first
// execution; this package takes it from the plan's noise estimate (see
// [Plan.Explain]) times a safety factor of 2, as B = 2·t·σ_c, with σ_c
// the estimated coefficient standard deviation and t the Gaussian tail
// that a union bound over the N coefficients makes fail with probability
// 2^-s.
//
// The flooding noise is a rounded continuous Gaussian sampled with the
// Box-Muller transform from uniforms read from crypto/rand (or
// [PublicDecryption.Rand]; 64 bits for the radius, 53 for the angle):
// rounding is post-processing, so the Rényi
// divergence bound of the continuous Gaussian carries over (data
// processing inequality, and round(x + e) = round(x) + e for integer e);
// the radius uniform has 64 bits, so the transform truncates each pair
// of coefficients to the disc of radius √(128·ln 2)·σ ≈ 9.42σ, whose
// outside has probability 2^-64: the truncation moves the N coefficients
// by a statistical distance of at most N·2^-65 (2^-49 at N = 2^16). The
// argument above is for exact arithmetic: the float64 samples move by
// up to about σ·2^-51, which changes the probability of each integer by
// a relative amount of that order (2^-11 at σ = 2^40), and neither the
// Rényi argument nor the statistical distance above covers that. σ is
// capped at 2^40 ([ErrPrecision] past it), where the samples are still
// spaced below 2^-7 (see maxFloodSigma). The flooding
// sizes honest ciphertexts only: B is not a bound for a ciphertext a
// malicious server crafted.

// DefaultStatisticalSecurity is the statistical security s, in bits, of
// the noise flooding when [PublicDecryption.StatisticalSecurity] is zero
// (OpenFHE's default).
const DefaultStatisticalSecurity = 30

// DefaultMinPrecision is the precision, in bits, below which
// [Client.DecryptPublic] and [ThresholdDecrypt] refuse to decrypt when
// [PublicDecryption.MinPrecision] is zero.
const DefaultMinPrecision = 8

// maxFloodSigma caps the flooding's standard deviation. The samples are
// float64 values up to 9.42σ: past about 2^40 their spacing (9.42σ·2^-52,
// and 2π·9.42σ·2^-53 from the 53-bit angle) nears 2^-9, and past 2^52 the
// rounded samples are multiples of powers of two, so that the flooded
// coefficient z + e would give the low bits of the noise e away.
const maxFloodSigma = 0x1p40

// floodSafety multiplies the estimated noise bound.
const floodSafety = 2

// PublicDecryption configures a noise-flooded decryption.
type PublicDecryption struct {
	// StatisticalSecurity is s in bits, 1 to 128; zero means
	// [DefaultStatisticalSecurity].
	StatisticalSecurity int
	// Queries is τ, the number of decryptions of the same or related
	// ciphertexts an adversary may see; zero means 1. The flooding grows
	// with √τ.
	Queries int
	// MinPrecision is the number of bits of [Decrypted.DecryptionPrecision]
	// below which decryption is refused with [ErrPrecision]; zero means
	// [DefaultMinPrecision], negative means no minimum. It does not count
	// the approximation error of the activations, which [Client.Decrypt]
	// carries as well ([Plan.Explain] reports it).
	MinPrecision float64
	// Rand is the source of the flooding noise; nil means crypto/rand.
	// Set it only in tests.
	Rand io.Reader
}

// Decrypted is the result of a noise-flooded decryption.
type Decrypted struct {
	// Values holds one output vector per sample.
	Values [][]float64
	// NoiseBound is B, the bound on the coefficients of the ciphertext's
	// noise the flooding hides (at the ciphertext's scale).
	NoiseBound float64
	// Sigma is the standard deviation of the flooding noise per
	// coefficient (for a threshold decryption, per party).
	Sigma float64
	// FloodError bounds |Values − unflooded decryption| per value (the
	// flooding alone), except with probability 2^-30 per value.
	FloodError float64
	// ErrorBound bounds |Values − plaintext inference| per value: the
	// flooding, the encryption noise and the polynomial approximation,
	// except with probability 2^-30 per value.
	ErrorBound float64
	// Precision is −log2(ErrorBound), the bits left against plaintext
	// inference.
	Precision float64
	// DecryptionPrecision is −log2 of the bound on |Values − exact result
	// of the encrypted computation| (flooding and encryption noise, not
	// the approximation of the activations), the figure
	// [PublicDecryption.MinPrecision] is compared with.
	DecryptionPrecision float64
}

// floodSetup is a flooding resolved against a plan and a ciphertext.
type floodSetup struct {
	sigma, bound, floodErr, errBound, precision, decPrecision float64
	// outBound bounds the magnitude of the values (output units) for
	// inputs in the plan's range whose activation inputs stay in their
	// intervals, the premise of the noise estimate.
	outBound float64
	rand     io.Reader
}

// resolve checks the options and computes the flooding of a ciphertext
// of the plan decrypted with a secret shared by parties (1 for a
// client); the flooding noise is added by parties parties.
func (o PublicDecryption) resolve(plan *Plan, ct *Ciphertext, parties int) (floodSetup, error) {
	s := o.StatisticalSecurity
	if s == 0 {
		s = DefaultStatisticalSecurity
	}
	if s < 1 || s > 128 {
		return floodSetup{}, fmt.Errorf("he: statistical security %d out of [1, 128]: %w", s, ErrInput)
	}
	tau := o.Queries
	if tau == 0 {
		tau = 1
	}
	if tau < 1 {
		return floodSetup{}, fmt.Errorf("he: %d queries, want at least 1: %w", tau, ErrInput)
	}
	minPrec := o.MinPrecision
	if minPrec == 0 {
		minPrec = DefaultMinPrecision
	}
	if math.IsNaN(minPrec) || minPrec > 60 {
		return floodSetup{}, fmt.Errorf("he: minimum precision %v bits out of range: %w", minPrec, ErrInput)
	}
	if plan == nil {
		return floodSetup{}, fmt.Errorf("he: nil plan: %w", ErrInput)
	}
	if err := ct.check(plan.params); err != nil {
		return floodSetup{}, err
	}
	for li := range plan.model.Layers {
		if plan.inLo == nil && plan.model.Layers[li].Activation == ActSquare {
			return floodSetup{}, fmt.Errorf("he: layer %d squares values whose size the plan does not bound: compile with CompileOptions.Calibration or InputRange to size the flooding: %w", li, ErrInput)
		}
	}
	nm := newNoiseModel(plan.params, parties)
	// The noise of the ciphertext: an output of the plan, or a fresh
	// encryption of inputs.
	last := &plan.layers[len(plan.layers)-1]
	switch {
	case ct.dim == plan.model.OutputDim() && ct.Level() == last.levelIn-1-last.actDepth:
		return plan.flooding(plan.estimate(parties), parties, s, tau, minPrec, o.Rand)
	case ct.dim == plan.model.InputDim && ct.Level() == plan.params.Depth():
		peak := math.Exp2(plan.params.LogOutputBound()) / 2
		if plan.inLo != nil {
			peak = 0
			for i := range plan.inLo {
				peak = math.Max(peak, math.Max(-plan.inLo[i], plan.inHi[i]))
			}
		}
		fresh := LayerEstimate{LevelOut: plan.params.Depth(), OutputBound: peak, NoiseStd: nm.slotStd(nm.freshVar), ApproxError: 0.5 / nm.delta}
		fresh.WorstNoiseStd = fresh.NoiseStd * math.Sqrt(math.Log(nm.n/2)+10*math.Ln2)
		return plan.floodingOf(fresh, 1, parties, s, tau, minPrec, o.Rand)
	}
	return floodSetup{}, fmt.Errorf("he: ciphertext (dim %d, level %d) is neither an input nor an output of the plan: %w", ct.dim, ct.Level(), ErrMismatch)
}

// flooding sizes the flooding of the plan's outputs from its estimate.
func (p *Plan) flooding(est []LayerEstimate, parties, s, tau int, minPrec float64, rnd io.Reader) (floodSetup, error) {
	last := est[len(est)-1]
	if p.inLo == nil {
		// Without an input range, outputs are bounded by the headroom.
		last.OutputBound = math.Min(last.OutputBound, math.Exp2(p.params.LogOutputBound())/2*p.outScale)
	}
	return p.floodingOf(last, p.outScale, parties, s, tau, minPrec, rnd)
}

// floodingOf sizes the flooding of values whose estimate is e (in output
// units, outScale times the slot values) at level e.LevelOut.
func (p *Plan) floodingOf(e LayerEstimate, outScale float64, parties, s, tau int, minPrec float64, rnd io.Reader) (floodSetup, error) {
	nm := newNoiseModel(p.params, parties)
	noiseStd := e.NoiseStd / outScale
	n := nm.n
	tail := gaussTail(math.Exp2(-float64(s)) / n)
	bound := floodSafety * tail * nm.coeffStd(noiseStd)
	sigma := math.Sqrt(12*float64(tau)) * math.Exp2(float64(s)/2) * bound
	floodSlot := nm.slotStd(sigma*sigma*float64(parties)) * outScale
	fs := floodSetup{sigma: sigma, bound: bound, outBound: e.OutputBound, rand: rnd}
	fs.floodErr = errorTail * floodSlot
	noiseBound := errorTail * math.Hypot(floodSlot, e.WorstNoiseStd)
	fs.errBound = noiseBound + e.ApproxError
	fs.precision = -math.Log2(fs.errBound)
	fs.decPrecision = -math.Log2(noiseBound)
	if fs.rand == nil {
		fs.rand = rand.Reader
	}
	// The flooded coefficients must not wrap around the modulus.
	logQ := 0.0
	for _, q := range p.params.p.Q()[:e.LevelOut+1] {
		logQ += math.Log2(float64(q))
	}
	top := e.OutputBound/outScale*nm.delta + 9.5*sigma*math.Sqrt(float64(parties))
	if sigma > maxFloodSigma {
		return fs, fmt.Errorf("he: flooding noise of 2^%.1f (s = %d, τ = %d) exceeds the sampler's granularity limit 2^%.0f: %w",
			math.Log2(sigma), s, tau, math.Log2(maxFloodSigma), ErrPrecision)
	}
	if math.Log2(top) >= logQ-1 {
		return fs, fmt.Errorf("he: flooding noise of 2^%.1f (s = %d, τ = %d) overflows the %.0f-bit modulus at level %d: %w",
			math.Log2(sigma), s, tau, logQ, e.LevelOut, ErrPrecision)
	}
	if minPrec >= 0 && fs.decPrecision < minPrec {
		return fs, fmt.Errorf("he: flooding for s = %d, τ = %d (σ = 2^%.1f over a noise bound of 2^%.1f) leaves %.1f bits of precision, below the %.1f required (a larger scale or fewer queries helps): %w",
			s, tau, math.Log2(sigma), math.Log2(bound), fs.decPrecision, minPrec, ErrPrecision)
	}
	return fs, nil
}

// gaussTail returns t with P(|X| > t) = p for a standard Gaussian X,
// 0 < p < 1. math.Erfcinv(p) is Erfinv(1−p), which is +Inf once 1−p
// rounds to 1 (p below 2^-53, reached by s ≥ 40 at N = 2^15); this
// bisects Erfc, which keeps its relative precision down to 1e-300.
func gaussTail(p float64) float64 {
	lo, hi := 0.0, 40.0
	for range 200 {
		mid := (lo + hi) / 2
		if math.Erfc(mid/math.Sqrt2) > p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// result packages the decrypted values with the flooding figures. A
// value beyond the output bound (plus the error bound) shows that the
// premise of the noise estimate failed: an activation input left the
// interval of its polynomial, where the polynomial's slope, and with it
// the noise, is not bounded by the estimate, so the flooding may be too
// small. Such a decryption is refused with [ErrRange] (the values are
// dropped; the error names no value).
func (fs floodSetup) result(vals [][]float64) (*Decrypted, error) {
	limit := fs.outBound + fs.errBound
	for i, v := range vals {
		for j, x := range v {
			if !(math.Abs(x) <= limit) {
				for k := range vals {
					clear(vals[k])
				}
				return nil, fmt.Errorf("he: output %d of sample %d is beyond the bound %.3g the flooding was sized for (an activation input left its interval; the plan's input range or intervals are too narrow for this input): %w",
					j, i, limit, ErrRange)
			}
		}
	}
	return &Decrypted{Values: vals, NoiseBound: fs.bound, Sigma: fs.sigma, FloodError: fs.floodErr, ErrorBound: fs.errBound,
		Precision: fs.precision, DecryptionPrecision: fs.decPrecision}, nil
}

// floodPoly returns a polynomial at the given level of ringQ, in the NTT
// domain, whose coefficients are independent rounded Gaussians of
// standard deviation sigma.
func floodPoly(ringQ *ring.Ring, level int, sigma float64, rnd io.Reader) (ring.Poly, error) {
	r := ringQ.AtLevel(level)
	z := r.NewPoly()
	n := r.N()
	buf := make([]byte, 8*n)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return z, fmt.Errorf("he: cannot read flooding randomness: %w", err)
	}
	moduli := r.ModuliChain()[:level+1]
	set := func(k int, x float64) {
		v := int64(math.Round(x))
		for j, q := range moduli {
			if v >= 0 {
				z.Coeffs[j][k] = uint64(v) % q
			} else if m := uint64(-v) % q; m != 0 {
				z.Coeffs[j][k] = q - m
			}
		}
	}
	for k := 0; k < n; k += 2 {
		// (0, 1], down to 2^-64: the radius reaches √(128·ln 2)·σ.
		u1 := (float64(binary.LittleEndian.Uint64(buf[8*k:])) + 1) * 0x1p-64
		u2 := float64(binary.LittleEndian.Uint64(buf[8*k+8:])>>11) * 0x1p-53 // [0, 1)
		rad := sigma * math.Sqrt(-2*math.Log(u1))
		sin, cos := math.Sincos(2 * math.Pi * u2)
		set(k, rad*cos)
		set(k+1, rad*sin)
	}
	clear(buf)
	r.NTT(z, z)
	return z, nil
}

// addFlooding adds flooding noise of standard deviation sigma to a
// decrypted plaintext.
func addFlooding(ringQ *ring.Ring, pt *rlwe.Plaintext, sigma float64, rnd io.Reader) error {
	level := pt.Level()
	z, err := floodPoly(ringQ, level, sigma, rnd)
	if err != nil {
		return err
	}
	r := ringQ.AtLevel(level)
	if !pt.IsNTT {
		r.INTT(z, z)
	}
	r.Add(pt.Value, z, pt.Value)
	return nil
}
