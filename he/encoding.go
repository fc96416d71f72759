package he

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Wire format. Every encoded object starts with the 4-byte magic "PMHE",
// a kind byte and a version byte, followed by a kind-specific body in
// little-endian order. Shapes follow from the parameters, so a decoder
// never allocates more than the parameters (themselves bounded) imply.
const (
	magic          = "PMHE"
	formatVersion  = 1
	kindParameters = 'P'
	kindKeys       = 'K'
	kindCiphertext = 'C'
	kindPlan       = 'M'
	// planVersion is the version of plans whose model declares a
	// convolution (version 2 adds the layer shapes and the packing);
	// plans with an input range are written as version 3
	// (planVersionRange), version 2 followed by the range; other plans
	// as version 1, which readers before these versions read.
	planVersion      = 2
	planVersionRange = 3
)

// Decoder limits.
const (
	// MaxCiphertextParts bounds the number of ring ciphertexts in one
	// encoded Ciphertext.
	MaxCiphertextParts = 1 << 16
	// MaxGaloisKeys bounds the number of Galois keys in an encoded key set.
	MaxGaloisKeys = 1 << 12
	// MaxEvaluationKeyBytes bounds the total size of an encoded key set.
	MaxEvaluationKeyBytes = 4 << 30
)

// SecurityPolicy says whether a decoder accepts parameters below 128-bit
// security.
type SecurityPolicy int

const (
	// Require128 (the zero value) rejects parameters that do not meet
	// [MaxLogQP128] with [ErrInsecureParameters].
	Require128 SecurityPolicy = iota
	// AllowInsecureForTesting accepts insecure parameters; for tests only.
	AllowInsecureForTesting
)

type encoder struct {
	w   io.Writer
	n   int64
	err error
	buf [8]byte
}

func (e *encoder) write(p []byte) {
	if e.err != nil {
		return
	}
	k, err := e.w.Write(p)
	e.n += int64(k)
	e.err = err
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.write(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:2], v)
	e.write(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.write(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:8], v)
	e.write(e.buf[:8])
}
func (e *encoder) f64(v float64) { e.u64(math.Float64bits(v)) }

// header writes the magic, the kind and the format version.
func (e *encoder) header(kind byte) { e.headerVersion(kind, formatVersion) }

// headerVersion writes a header with a version of the kind's own.
func (e *encoder) headerVersion(kind, version byte) {
	e.write([]byte(magic))
	e.u8(kind)
	e.u8(version)
}

type decoder struct {
	r    io.Reader
	n    int64
	err  error
	what string // object being decoded, for messages
	buf  [8]byte
}

func (d *decoder) fail(err error, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("he: decoding %s at byte %d: %s: %w", d.what, d.n, fmt.Sprintf(format, args...), err)
	}
}

func (d *decoder) read(p []byte) {
	if d.err != nil {
		return
	}
	k, err := io.ReadFull(d.r, p)
	d.n += int64(k)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			d.fail(ErrMalformed, "truncated input")
		} else {
			d.err = fmt.Errorf("he: decoding %s: %w", d.what, err)
		}
	}
}

func (d *decoder) u8() uint8 {
	d.read(d.buf[:1])
	return d.buf[0]
}
func (d *decoder) u16() uint16 {
	d.read(d.buf[:2])
	return binary.LittleEndian.Uint16(d.buf[:2])
}
func (d *decoder) u32() uint32 {
	d.read(d.buf[:4])
	return binary.LittleEndian.Uint32(d.buf[:4])
}
func (d *decoder) u64() uint64 {
	d.read(d.buf[:8])
	return binary.LittleEndian.Uint64(d.buf[:8])
}
func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

func (d *decoder) header(kind byte) {
	d.headerVersion(kind, formatVersion)
}

// headerVersion reads a header of the given kind with a version in
// [1, maxVersion] and returns the version (0 on error).
func (d *decoder) headerVersion(kind byte, maxVersion uint8) uint8 {
	var h [6]byte
	d.read(h[:])
	if d.err != nil {
		return 0
	}
	if string(h[:4]) != magic {
		d.fail(ErrMalformed, "bad magic %q, want %q", h[:4], magic)
		return 0
	}
	if h[4] != kind {
		d.fail(ErrMalformed, "object kind %q, want %q", h[4], kind)
		return 0
	}
	if h[5] < 1 || h[5] > maxVersion {
		d.fail(ErrMalformed, "format version %d, this package reads 1 to %d", h[5], maxVersion)
		return 0
	}
	return h[5]
}

// ---- Parameters ----

// WriteTo writes the parameters (moduli, ring degree, scale, and whether
// they were built by an insecure option).
func (p Parameters) WriteTo(w io.Writer) (int64, error) {
	e := &encoder{w: w}
	e.header(kindParameters)
	p.encode(e)
	return e.n, e.err
}

func (p Parameters) encode(e *encoder) {
	q, pp := p.p.Q(), p.p.P()
	e.u8(uint8(p.LogN()))
	e.u8(uint8(p.LogScale()))
	var flags uint8
	if p.insecure {
		flags |= 1
	}
	if p.boot != nil {
		flags |= 2 // bootstrappable: rebuilt by the decoder from its constructor
	}
	e.u8(flags)
	e.u8(uint8(len(q)))
	e.u8(uint8(len(pp)))
	for _, v := range q {
		e.u64(v)
	}
	for _, v := range pp {
		e.u64(v)
	}
	e.u8(uint8(len(p.name)))
	e.write([]byte(p.name))
}

// ReadParameters decodes parameters written by [Parameters.WriteTo]. With
// [Require128] it rejects parameters below 128-bit security, whatever the
// stream claims.
func ReadParameters(r io.Reader, policy SecurityPolicy) (Parameters, error) {
	d := &decoder{r: r, what: "parameters"}
	d.header(kindParameters)
	p := decodeParameters(d, policy)
	return p, d.err
}

func decodeParameters(d *decoder, policy SecurityPolicy) Parameters {
	logN := int(d.u8())
	logScale := int(d.u8())
	flags := d.u8()
	nQ, nP := int(d.u8()), int(d.u8())
	if d.err != nil {
		return Parameters{}
	}
	switch {
	case logN < 10 || logN > 16:
		d.fail(ErrMalformed, "logN %d out of [10, 16]", logN)
	case logScale < 10 || logScale > 60:
		d.fail(ErrMalformed, "log scale %d out of [10, 60]", logScale)
	case flags > 3:
		d.fail(ErrMalformed, "unknown flags %#x", flags)
	case nQ < 1 || nQ > 64:
		d.fail(ErrMalformed, "%d primes in Q, want 1..64", nQ)
	case nP < 1 || nP > 8:
		d.fail(ErrMalformed, "%d primes in P, want 1..8", nP)
	}
	if d.err != nil {
		return Parameters{}
	}
	lit := ckks.ParametersLiteral{
		LogN:            logN,
		LogDefaultScale: logScale,
		RingType:        ring.Standard,
		Xs:              rlwe.DefaultXs,
		Xe:              rlwe.DefaultXe,
		Q:               make([]uint64, nQ),
		P:               make([]uint64, nP),
	}
	nthRoot := uint64(2) << logN
	for i := range lit.Q {
		lit.Q[i] = d.u64()
	}
	for i := range lit.P {
		lit.P[i] = d.u64()
	}
	name := make([]byte, d.u8())
	d.read(name)
	if d.err != nil {
		return Parameters{}
	}
	seen := map[uint64]bool{}
	for i, q := range append(append([]uint64(nil), lit.Q...), lit.P...) {
		if q < 3 || q >= 1<<61 || q%nthRoot != 1 || seen[q] || !ring.IsPrime(q) {
			d.fail(ErrMalformed, "modulus %d (%d) is not a distinct NTT-friendly prime below 2^61", i, q)
			return Parameters{}
		}
		seen[q] = true
	}
	for _, c := range name {
		if c < 0x20 || c > 0x7e {
			d.fail(ErrMalformed, "parameter name is not printable ASCII")
			return Parameters{}
		}
	}
	if flags&2 != 0 {
		return decodeBootParameters(d, lit, string(name), flags&1 != 0, policy)
	}
	var cp ckks.Parameters
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		cp, err = ckks.NewParametersFromLiteral(lit)
		return err
	}()
	if err != nil {
		d.fail(ErrMalformed, "invalid parameters: %v", err)
		return Parameters{}
	}
	p := Parameters{p: cp, name: string(name), insecure: flags&1 != 0}
	if !p.Secure128() && (policy != AllowInsecureForTesting || !p.insecure) {
		// Rejected under Require128, and always when the stream does not
		// flag them as insecure.
		d.fail(ErrInsecureParameters, "%s (logN=%d, logQP=%.1f) is below 128-bit security", p.name, logN, p.LogQP())
		return Parameters{}
	}
	return p
}

// ---- Evaluation keys and ciphertexts ----
//
// Lattigo's own decoders trust the length fields inside their encodings
// (a corrupted length makes them allocate gigabytes or recurse until the
// stack overflows), so untrusted bytes never reach them: ring elements are
// written here as raw coefficients into objects allocated from the
// parameters, and every coefficient is checked to be reduced.

func (e *encoder) poly(p ring.Poly) {
	var b []byte
	for _, row := range p.Coeffs {
		b = b[:0]
		for _, v := range row {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		e.write(b)
	}
}

// poly reads coefficients into p, which was allocated from the parameters;
// it fails on a coefficient not below its prime.
func (d *decoder) poly(p ring.Poly, moduli []uint64, item string) {
	var b [8 * 512]byte
	for i, row := range p.Coeffs {
		q := moduli[i]
		for k := 0; k < len(row) && d.err == nil; k += 512 {
			n := min(512, len(row)-k)
			d.read(b[:8*n])
			for t := range n {
				v := binary.LittleEndian.Uint64(b[8*t:])
				if v >= q {
					d.fail(ErrMalformed, "%s: coefficient %d of residue %d is not reduced", item, k+t, i)
					return
				}
				row[k+t] = v
			}
		}
	}
}

// evkShapeOK checks that a key was made with the parameters' P modulus,
// a level of Q within the chain, and compressed (one polynomial per gadget
// entry).
func evkShapeOK(ek *rlwe.EvaluationKey, params Parameters) bool {
	return ek.LevelQ() <= params.p.MaxLevelQ() && ek.LevelP() == params.p.MaxLevelP() &&
		ek.IsCompressed() && ek.Seed != nil && ek.BaseTwoDecomposition == 0
}

// evkShapeAt checks that a key is compressed, with the given levels of Q
// and P.
func evkShapeAt(ek *rlwe.EvaluationKey, levelQ, levelP int) bool {
	return ek != nil && ek.LevelQ() == levelQ && ek.LevelP() == levelP &&
		ek.IsCompressed() && ek.Seed != nil && ek.BaseTwoDecomposition == 0
}

func (e *encoder) evk(ek *rlwe.EvaluationKey) {
	e.write(ek.Seed[:])
	for _, row := range ek.Value {
		for _, v := range row {
			e.poly(v[0].Q)
			e.poly(v[0].P)
		}
	}
}

func (d *decoder) evk(ek *rlwe.EvaluationKey, params Parameters, item string) {
	d.evkModuli(ek, params.p.Q(), params.p.P(), item)
}

// evkModuli reads a compressed key allocated with moduli q and p.
func (d *decoder) evkModuli(ek *rlwe.EvaluationKey, q, p []uint64, item string) {
	ek.Seed = new([32]byte)
	d.read(ek.Seed[:])
	for _, row := range ek.Value {
		for _, v := range row {
			d.poly(v[0].Q, q, item)
			d.poly(v[0].P, p, item)
		}
	}
}

// WriteTo writes the key set. Keys generated by [Client.GenEvaluationKeys]
// are compressed (seeded): only half of each key is sent and the server
// regenerates the other half from a 32-byte seed.
func (k *EvaluationKeys) WriteTo(w io.Writer) (int64, error) {
	if k.boot != nil && k.params.boot == nil {
		return 0, fmt.Errorf("he: bootstrapping keys for parameters that cannot bootstrap: %w", ErrMismatch)
	}
	e := &encoder{w: w}
	e.header(kindKeys)
	k.params.encode(e)
	var flags uint8
	rlk := k.set.RelinearizationKey
	if rlk != nil {
		if !evkShapeOK(&rlk.EvaluationKey, k.params) {
			return 0, fmt.Errorf("he: relinearization key is not a compressed key of the parameters: %w", ErrMismatch)
		}
		flags |= 1
	}
	if k.boot != nil {
		if err := k.boot.check(k.params.boot); err != nil {
			return 0, err
		}
		flags |= 2
	}
	gal := sortedU64(k.set.GetGaloisKeysList())
	for _, g := range gal {
		if !evkShapeOK(&k.set.GaloisKeys[g].EvaluationKey, k.params) {
			return 0, fmt.Errorf("he: Galois key %d is not a compressed key of the parameters: %w", g, ErrMismatch)
		}
	}
	e.u8(flags)
	e.u32(uint32(len(gal)))
	if rlk != nil {
		e.u8(uint8(rlk.LevelQ()))
		e.evk(&rlk.EvaluationKey)
	}
	for _, g := range gal {
		e.u64(g)
		e.u8(uint8(k.set.GaloisKeys[g].LevelQ()))
		e.evk(&k.set.GaloisKeys[g].EvaluationKey)
	}
	if k.boot != nil {
		k.boot.encode(e)
	}
	return e.n, e.err
}

// ReadEvaluationKeys decodes a key set written by
// [EvaluationKeys.WriteTo]: at most [MaxGaloisKeys] keys and
// [MaxEvaluationKeyBytes] bytes, every coefficient reduced. A server that
// receives keys for a known plan should use [ReadEvaluationKeysFor],
// which allocates only the keys the plan needs.
func ReadEvaluationKeys(r io.Reader, policy SecurityPolicy) (*EvaluationKeys, error) {
	d := &decoder{r: r, what: "evaluation keys"}
	d.header(kindKeys)
	params := decodeParameters(d, policy)
	return decodeEvaluationKeys(d, params, nil)
}

// ReadEvaluationKeysFor decodes a key set written by
// [EvaluationKeys.WriteTo] for plan, checking while it decodes, before
// allocating any key, that the parameters are the plan's and that the
// stream holds exactly the keys [Client.GenEvaluationKeys] makes for the
// plan: the relinearization key if and only if the plan relinearizes, at
// its level, the plan's Galois elements at their levels, and the
// bootstrapping keys if and only if the plan bootstraps. A client can
// therefore not make a server allocate more than the plan's keys.
// Insecure parameters are accepted only if the plan has them, and the parameters are compared with the plan's as
// bytes, so that no ring is built from the stream.
func ReadEvaluationKeysFor(r io.Reader, plan *Plan) (*EvaluationKeys, error) {
	if plan == nil {
		return nil, fmt.Errorf("he: ReadEvaluationKeysFor: nil plan: %w", ErrInput)
	}
	d := &decoder{r: r, what: "evaluation keys"}
	d.header(kindKeys)
	// The parameters must be encoded exactly as the plan's: compared as
	// bytes, so that no ring is built from the stream.
	var want bytes.Buffer
	plan.params.encode(&encoder{w: &want})
	got := make([]byte, want.Len())
	d.read(got)
	if d.err != nil {
		return nil, d.err
	}
	if !bytes.Equal(got, want.Bytes()) {
		d.fail(ErrMismatch, "keys for other parameters than the plan's %s", plan.params.Name())
		return nil, d.err
	}
	return decodeEvaluationKeys(d, plan.params, plan)
}

// decodeEvaluationKeys decodes the key set after the parameters; with a
// plan, only the keys the plan needs are accepted.
func decodeEvaluationKeys(d *decoder, params Parameters, plan *Plan) (*EvaluationKeys, error) {
	flags := d.u8()
	nGal := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if flags > 3 {
		d.fail(ErrMalformed, "unknown flags %#x", flags)
		return nil, d.err
	}
	if flags&2 != 0 && params.boot == nil {
		d.fail(ErrMalformed, "bootstrapping keys for parameters that cannot bootstrap")
		return nil, d.err
	}
	if nGal > MaxGaloisKeys {
		d.fail(ErrTooLarge, "%d Galois keys, limit %d", nGal, MaxGaloisKeys)
		return nil, d.err
	}
	if plan != nil {
		switch {
		case (flags&1 != 0) != plan.relin:
			d.fail(ErrMismatch, "relinearization key present %v, the plan needs one %v", flags&1 != 0, plan.relin)
		case (flags&2 != 0) != (plan.boots > 0):
			d.fail(ErrMismatch, "bootstrapping keys present %v, the plan bootstraps %v", flags&2 != 0, plan.boots > 0)
		case int(nGal) != len(plan.galEls):
			d.fail(ErrMismatch, "%d Galois keys, the plan needs %d", nGal, len(plan.galEls))
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	rp := params.p.GetRLWEParameters()
	maxLevelP := params.p.MaxLevelP()
	keyBytes := int64(8*params.p.N()) * int64(len(params.p.Q())+len(params.p.P())) * int64(rp.BaseRNSDecompositionVectorSize(params.p.MaxLevelQ(), maxLevelP))
	if keyBytes*int64(nGal+1) > MaxEvaluationKeyBytes {
		d.fail(ErrTooLarge, "%d keys of %d bytes exceed %d bytes", nGal+1, keyBytes, int64(MaxEvaluationKeyBytes))
		return nil, d.err
	}
	set := rlwe.NewMemEvaluationKeySet(nil)
	if flags&1 != 0 {
		level := int(d.u8())
		if d.err != nil {
			return nil, d.err
		}
		if level > params.Depth() {
			d.fail(ErrMalformed, "relinearization key level %d above the parameters' %d", level, params.Depth())
			return nil, d.err
		}
		if plan != nil && level != plan.relinLevel {
			d.fail(ErrMismatch, "relinearization key at level %d, the plan relinearizes at %d", level, plan.relinLevel)
			return nil, d.err
		}
		rlk := rlwe.NewRelinearizationKey(rp, rlwe.EvaluationKeyParameters{LevelQ: &level, Compressed: true})
		d.evk(&rlk.EvaluationKey, params, "relinearization key")
		set.RelinearizationKey = rlk
	}
	nthRoot := uint64(2) << params.LogN()
	for i := range int(nGal) {
		g := d.u64()
		if d.err != nil {
			return nil, d.err
		}
		if g%2 == 0 || g >= nthRoot {
			d.fail(ErrMalformed, "Galois key %d: element %d is not odd and below 2N", i, g)
			return nil, d.err
		}
		if _, dup := set.GaloisKeys[g]; dup {
			d.fail(ErrMalformed, "Galois key %d: duplicate element %d", i, g)
			return nil, d.err
		}
		level := int(d.u8())
		if d.err != nil {
			return nil, d.err
		}
		if level > params.Depth() {
			d.fail(ErrMalformed, "Galois key %d: level %d above the parameters' %d", i, level, params.Depth())
			return nil, d.err
		}
		if plan != nil {
			if want, ok := plan.galLevel[g]; !ok || level != want {
				d.fail(ErrMismatch, "Galois key %d: element %d at level %d is not a key of the plan", i, g, level)
				return nil, d.err
			}
		}
		gk := rlwe.NewGaloisKey(rp, rlwe.EvaluationKeyParameters{LevelQ: &level, Compressed: true})
		gk.GaloisElement, gk.NthRoot = g, nthRoot
		d.evk(&gk.EvaluationKey, params, fmt.Sprintf("Galois key %d", i))
		set.GaloisKeys[g] = gk
	}
	if d.err != nil {
		return nil, d.err
	}
	keys := &EvaluationKeys{params: params, set: set}
	if flags&2 != 0 {
		if keys.boot = decodeBootKeys(d, params.boot, plan != nil); d.err != nil {
			return nil, d.err
		}
	}
	return keys, nil
}

// WriteTo writes the ciphertext with its layout.
func (c *Ciphertext) WriteTo(w io.Writer) (int64, error) {
	e := &encoder{w: w}
	e.header(kindCiphertext)
	e.u8(uint8(c.mode))
	e.u32(uint32(c.samples))
	e.u32(uint32(c.dim))
	e.u32(uint32(c.block))
	sc := c.scale
	if sc == 0 {
		sc = 1
	}
	e.f64(sc)
	e.u32(uint32(len(c.cts)))
	for i, ct := range c.cts {
		if ct.Degree() != 1 || !ct.IsNTT || ct.IsMontgomery {
			return e.n, fmt.Errorf("he: ciphertext part %d is not a degree-1 NTT ciphertext: %w", i, ErrMismatch)
		}
		e.u8(uint8(ct.Level()))
		f, _ := ct.Scale.Value.Float64()
		e.f64(f)
		for _, p := range ct.Value {
			e.poly(p)
		}
	}
	return e.n, e.err
}

// Bytes returns the size of the ciphertext in its encoded form.
func (c *Ciphertext) Bytes() int {
	n := 6 + 1 + 4*4 + 8
	for _, ct := range c.cts {
		n += 1 + 8 + 8*2*ct.Value[0].N()*(ct.Level()+1)
	}
	return n
}

// ReadCiphertext decodes a ciphertext written by [Ciphertext.WriteTo] for
// the given parameters, checking its layout, levels, scale and that every
// coefficient is reduced.
func ReadCiphertext(r io.Reader, params Parameters) (*Ciphertext, error) {
	if params.p.N() == 0 {
		return nil, fmt.Errorf("he: ReadCiphertext: zero Parameters: %w", ErrInput)
	}
	return readCiphertext(r, params, nil)
}

// ReadCiphertextFor decodes an input ciphertext for plan, as made by
// [Client.Encrypt] for it: besides the checks of [ReadCiphertext], it
// fails with [ErrMismatch] before allocating any part unless the
// packing, dimension, latency block and number of parts are the plan's
// input layout, and for any part not at the plan's top level and default
// scale. A server that evaluates one plan should decode with it, so that
// a ciphertext never takes more memory than the plan's inputs.
func ReadCiphertextFor(r io.Reader, plan *Plan) (*Ciphertext, error) {
	if plan == nil {
		return nil, fmt.Errorf("he: ReadCiphertextFor: nil plan: %w", ErrInput)
	}
	return readCiphertext(r, plan.params, plan)
}

// inputParts returns the number of ring ciphertexts of one input.
func (p *Plan) inputParts() int {
	if p.mode == Latency {
		return ceilDiv(p.model.InputDim, p.block)
	}
	return p.model.InputDim
}

// outputParts returns the number of ring ciphertexts of one output.
func (p *Plan) outputParts() int {
	if p.mode == Latency {
		return ceilDiv(p.model.OutputDim(), p.outBlock())
	}
	return p.model.OutputDim()
}

// MaxCiphertextBytes bounds the encoded size ([Ciphertext.Bytes]) of the
// plan's input ciphertexts and of the outputs [Server.Evaluate] returns
// for them: a server can size its message limits with it.
func (p *Plan) MaxCiphertextBytes() int {
	part := 1 + 8 + 8*2*p.params.p.N()*(p.params.Depth()+1)
	return 6 + 1 + 4*4 + 8 + max(p.inputParts(), p.outputParts())*part
}

func readCiphertext(r io.Reader, params Parameters, plan *Plan) (*Ciphertext, error) {
	d := &decoder{r: r, what: "ciphertext"}
	d.header(kindCiphertext)
	c := &Ciphertext{mode: Mode(d.u8()), samples: int(d.u32()), dim: int(d.u32()), block: int(d.u32()), scale: d.f64()}
	parts := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if parts == 0 || parts > MaxCiphertextParts {
		d.fail(ErrTooLarge, "%d parts, want 1..%d", parts, MaxCiphertextParts)
		return nil, d.err
	}
	if !validOutScale(c.scale) {
		d.fail(ErrMalformed, "output scale %v is not a power of two in [1, 2^60]", c.scale)
		return nil, d.err
	}
	if c.dim > MaxModelDim || c.samples > params.Slots() || (c.mode == Latency && (c.block > params.Slots() || c.block < 1)) {
		d.fail(ErrMalformed, "layout (mode %d, samples %d, dim %d, block %d) out of range", c.mode, c.samples, c.dim, c.block)
		return nil, d.err
	}
	if plan != nil && !plan.inputLayout(c, int(parts)) {
		d.fail(ErrMismatch, "layout (mode %v, dim %d, block %d, %d parts) is not the plan's input (mode %v, dim %d, block %d, %d parts)",
			c.mode, c.dim, c.block, parts, plan.mode, plan.model.InputDim, plan.block, plan.inputParts())
		return nil, d.err
	}
	for i := range int(parts) {
		level := int(d.u8())
		scale := d.f64()
		if d.err != nil {
			return nil, d.err
		}
		if plan != nil && (level != params.Depth() || scale != params.p.DefaultScale().Float64()) {
			d.fail(ErrMismatch, "part %d at level %d and scale 2^%.4g, the plan's inputs are at level %d and scale 2^%.4g",
				i, level, math.Log2(scale), params.Depth(), math.Log2(params.p.DefaultScale().Float64()))
			return nil, d.err
		}
		if level > params.Depth() {
			d.fail(ErrMalformed, "part %d at level %d above the parameters' %d", i, level, params.Depth())
			return nil, d.err
		}
		if !(scale >= 1 && scale < 0x1p200) {
			d.fail(ErrMalformed, "part %d: scale %v out of [1, 2^200)", i, scale)
			return nil, d.err
		}
		ct := ckks.NewCiphertext(params.p, 1, level)
		ct.Scale = rlwe.NewScale(scale)
		for j, p := range ct.Value {
			d.poly(p, params.p.Q(), fmt.Sprintf("part %d polynomial %d", i, j))
		}
		if d.err != nil {
			return nil, d.err
		}
		c.cts = append(c.cts, ct)
	}
	if err := c.check(params); err != nil {
		d.fail(ErrMalformed, "%v", err)
		return nil, d.err
	}
	return c, nil
}

// inputLayout reports whether a decoded header is the plan's input layout.
func (p *Plan) inputLayout(c *Ciphertext, parts int) bool {
	if c.mode != p.mode || c.dim != p.model.InputDim || parts != p.inputParts() || c.scale != 1 {
		return false
	}
	if p.mode == Latency {
		return c.samples == 1 && c.block == p.block
	}
	return c.samples >= 1
}

// ---- Plans (compiled models) ----

// WriteTo writes the compiled model: its parameters, packing and weights
// with the resolved activation settings. Format version 2, written when a
// layer declares a convolution, adds after the output scale a byte for the
// convolution packing (1 for direct) and after each layer's interval a
// byte flagging a shape, then its seven fields as uint32. Format version
// 3, written when the plan has an input range, is version 2 followed by
// the range of every feature (lo then hi, float64).
func (p *Plan) WriteTo(w io.Writer) (int64, error) {
	e := &encoder{w: w}
	v2 := false
	for li := range p.model.Layers {
		v2 = v2 || p.model.Layers[li].Conv != nil
	}
	switch {
	case p.inLo != nil:
		e.headerVersion(kindPlan, planVersionRange)
		v2 = true
	case v2:
		e.headerVersion(kindPlan, planVersion)
	default:
		e.header(kindPlan)
	}
	p.params.encode(e)
	e.u8(uint8(p.mode))
	e.f64(p.outScale)
	if v2 {
		e.u8(boolByte(p.convDirect))
	}
	m := p.model
	e.u32(uint32(m.InputDim))
	e.u16(uint16(len(m.Layers)))
	for li := range m.Layers {
		l := &m.Layers[li]
		e.u32(uint32(l.Out()))
		for _, row := range l.Weights {
			for _, v := range row {
				e.f64(v)
			}
		}
		if len(l.Bias) > 0 {
			e.u8(1)
			for _, v := range l.Bias {
				e.f64(v)
			}
		} else {
			e.u8(0)
		}
		e.u8(activationCode[l.Activation])
		if l.Activation == ActReLU {
			e.u16(uint16(l.Alpha)) // relu has no degree: the field holds alpha
		} else {
			e.u16(uint16(l.Degree))
		}
		e.f64(l.Interval)
		if v2 {
			e.u8(boolByte(l.Conv != nil))
			if c := l.Conv; c != nil {
				for _, v := range []int{c.InChannels, c.Height, c.Width, c.OutChannels, c.Kernel, c.Stride, c.Padding} {
					e.u32(uint32(v))
				}
			}
		}
	}
	for i := range p.inLo {
		e.f64(p.inLo[i])
		e.f64(p.inHi[i])
	}
	return e.n, e.err
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

var activationCode = map[Activation]uint8{ActNone: 0, ActSquare: 1, ActSigmoid: 2, ActTanh: 3, ActReLU: 4}
var activationByCode = []Activation{ActNone, ActSquare, ActSigmoid, ActTanh, ActReLU}

// ReadPlan decodes a compiled model written by [Plan.WriteTo], validates
// it and rebuilds the plan; the model's depth must equal the parameters'
// unless they are bootstrappable, in which case the bootstraps are placed
// again as [Compile] placed them.
func ReadPlan(r io.Reader, policy SecurityPolicy) (*Plan, error) {
	d := &decoder{r: r, what: "compiled model"}
	version := d.headerVersion(kindPlan, planVersionRange)
	params := decodeParameters(d, policy)
	mode := Mode(d.u8())
	outScale := d.f64()
	direct := false
	if version >= 2 {
		switch d.u8() {
		case 0:
		case 1:
			direct = true
		default:
			d.fail(ErrMalformed, "convolution packing flag is not 0 or 1")
			return nil, d.err
		}
		if direct && mode != Latency {
			d.fail(ErrMalformed, "convolution packing flag on a %v plan", mode)
			return nil, d.err
		}
	}
	m := &Model{Format: ModelFormat, InputDim: int(d.u32())}
	nl := int(d.u16())
	if d.err != nil {
		return nil, d.err
	}
	if mode != Latency && mode != Batch {
		d.fail(ErrMalformed, "mode %d", mode)
		return nil, d.err
	}
	if !validOutScale(outScale) {
		d.fail(ErrMalformed, "output scale %v is not a power of two in [1, 2^60]", outScale)
		return nil, d.err
	}
	if nl < 1 || nl > MaxModelLayers || m.InputDim < 1 || m.InputDim > MaxModelDim {
		d.fail(ErrMalformed, "%d layers with input dimension %d", nl, m.InputDim)
		return nil, d.err
	}
	in, total := m.InputDim, 0
	for li := range nl {
		out := int(d.u32())
		if d.err != nil {
			return nil, d.err
		}
		if out < 1 || out > MaxModelDim {
			d.fail(ErrMalformed, "layer %d: output dimension %d", li, out)
			return nil, d.err
		}
		if total += out * in; total > MaxModelWeights {
			d.fail(ErrTooLarge, "more than %d weights", MaxModelWeights)
			return nil, d.err
		}
		l := Dense{Weights: make([][]float64, out)}
		for o := range l.Weights {
			l.Weights[o] = make([]float64, in)
			for i := range l.Weights[o] {
				l.Weights[o][i] = d.f64()
			}
			if d.err != nil {
				return nil, d.err
			}
		}
		switch d.u8() {
		case 0:
		case 1:
			l.Bias = make([]float64, out)
			for o := range l.Bias {
				l.Bias[o] = d.f64()
			}
		default:
			d.fail(ErrMalformed, "layer %d: bias flag is not 0 or 1", li)
			return nil, d.err
		}
		code := int(d.u8())
		l.Degree = int(d.u16())
		l.Interval = d.f64()
		if d.err != nil {
			return nil, d.err
		}
		if code >= len(activationByCode) {
			d.fail(ErrMalformed, "layer %d: activation code %d", li, code)
			return nil, d.err
		}
		l.Activation = activationByCode[code]
		if l.Activation == ActReLU {
			l.Alpha, l.Degree = l.Degree, 0
		}
		if version >= 2 {
			switch d.u8() {
			case 0:
			case 1:
				var f [7]int
				for j := range f {
					f[j] = int(d.u32())
				}
				l.Conv = &ConvShape{InChannels: f[0], Height: f[1], Width: f[2], OutChannels: f[3], Kernel: f[4], Stride: f[5], Padding: f[6]}
			default:
				d.fail(ErrMalformed, "layer %d: convolution flag is not 0 or 1", li)
				return nil, d.err
			}
			if d.err != nil {
				return nil, d.err
			}
		}
		m.Layers = append(m.Layers, l)
		in = out
	}
	var inLo, inHi []float64
	if version == planVersionRange {
		inLo, inHi = make([]float64, m.InputDim), make([]float64, m.InputDim)
		for i := range inLo {
			inLo[i], inHi[i] = d.f64(), d.f64()
			if d.err != nil {
				return nil, d.err
			}
			if !(inLo[i] < inHi[i]) || math.IsInf(inLo[i], 0) || math.IsInf(inHi[i], 0) {
				d.fail(ErrMalformed, "input range of feature %d is not a finite interval", i)
				return nil, d.err
			}
		}
	}
	if version == planVersion && !slices.ContainsFunc(m.Layers, func(l Dense) bool { return l.Conv != nil }) {
		// WriteTo uses version 2 exactly when a layer is a convolution.
		d.fail(ErrMalformed, "format version 2 without a convolution layer")
		return nil, d.err
	}
	if err := m.Validate(); err != nil {
		d.fail(ErrMalformed, "%v", err)
		return nil, d.err
	}
	for li := range m.Layers {
		if l := &m.Layers[li]; (l.Activation == ActSigmoid || l.Activation == ActTanh) && (l.Degree == 0 || l.Interval == 0) ||
			l.Activation == ActReLU && (l.Alpha == 0 || l.Interval == 0) {
			d.fail(ErrMalformed, "layer %d: unresolved degree or interval", li)
			return nil, d.err
		}
	}
	pl, err := newPlan(m, params, mode, direct)
	if err != nil {
		d.fail(ErrMalformed, "%v", err)
		return nil, d.err
	}
	if outScale != 1 {
		if m.Layers[len(m.Layers)-1].Activation != ActNone {
			d.fail(ErrMalformed, "output scale %v with a final activation", outScale)
			return nil, d.err
		}
		pl.setOutScale(outScale)
	}
	pl.inLo, pl.inHi = inLo, inHi
	return pl, nil
}

func sortedU64(v []uint64) []uint64 {
	s := append([]uint64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// marshal is a helper for tests and fuzzing.
func marshal(w io.WriterTo) []byte {
	var b bytes.Buffer
	_, _ = w.WriteTo(&b)
	return b.Bytes()
}

func validOutScale(s float64) bool {
	fr, exp := math.Frexp(s)
	return fr == 0.5 && exp >= 1 && exp <= 61
}
