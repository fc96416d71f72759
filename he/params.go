package he

import (
	"fmt"
	"math"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Preset names a vetted CKKS parameter set offering 128-bit security for
// ternary secrets (see the package documentation, "Security of presets").
type Preset int

const (
	// PN13 has ring degree 2^13 (4096 slots), log QP ≈ 216 ≤ 218 and
	// depth 4 at a 2^29 scale; outputs must stay below 2^6 in magnitude.
	PN13 Preset = iota + 1
	// PN14 has ring degree 2^14 (8192 slots), log QP ≈ 436 ≤ 438 and
	// depth 8 at a 2^38 scale; outputs must stay below 2^9 in magnitude.
	PN14
	// PN15 has ring degree 2^15 (16384 slots), log QP ≈ 880 ≤ 881 and
	// depth 15 at a 2^45 scale; outputs must stay below 2^9 in magnitude.
	PN15
)

// Presets returns the vetted presets from the smallest to the largest.
func Presets() []Preset { return []Preset{PN13, PN14, PN15} }

func (p Preset) String() string {
	switch p {
	case PN13:
		return "PN13"
	case PN14:
		return "PN14"
	case PN15:
		return "PN15"
	}
	return fmt.Sprintf("Preset(%d)", int(p))
}

type presetDef struct {
	logN     int
	logQ     []int
	logP     []int
	logScale int
}

func rep(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// The moduli chains: one first prime leaving headroom for the output, then
// primes close to the scale (one per level), and P primes whose product
// exceeds each key-switching decomposition group (hybrid key switching).
var presetDefs = map[Preset]presetDef{
	PN13: {13, append([]int{36}, rep(29, 4)...), []int{32, 32}, 29},
	PN14: {14, append([]int{48}, rep(38, 8)...), []int{42, 42}, 38},
	PN15: {15, append([]int{55}, rep(45, 15)...), []int{50, 50, 50}, 45},
}

// MaxLogQP128 is the largest total modulus log2(QP) for which a ring of
// degree 2^logN with ternary secrets and error σ = 3.2 gives 128-bit
// classical security, from the Homomorphic Encryption Standard (Albrecht
// et al., 2018, Table 1, uniform ternary secret), confirmed by the lattice
// estimator. The second result is false for ring degrees not in the table.
func MaxLogQP128(logN int) (float64, bool) {
	v, ok := heStandard128[logN]
	return v, ok
}

var heStandard128 = map[int]float64{10: 27, 11: 54, 12: 109, 13: 218, 14: 438, 15: 881}

// Parameters are checked CKKS parameters. The zero value is invalid; obtain
// values from [NewParameters], [InsecureTestParameters], a [Plan] or
// [ReadParameters]. Parameters are immutable and safe for concurrent use.
type Parameters struct {
	p        ckks.Parameters
	name     string
	insecure bool
	boot     *bootSpec // nil unless bootstrappable; then p are the residual parameters
}

// NewParameters returns the parameters of a vetted 128-bit preset.
func NewParameters(preset Preset) (Parameters, error) {
	def, ok := presetDefs[preset]
	if !ok {
		return Parameters{}, fmt.Errorf("he: unknown preset %d: %w", int(preset), ErrInsecureParameters)
	}
	lit := ckks.ParametersLiteral{
		LogN:            def.logN,
		LogQ:            def.logQ,
		LogP:            def.logP,
		LogDefaultScale: def.logScale,
		RingType:        ring.Standard,
		Xs:              rlwe.DefaultXs,
		Xe:              rlwe.DefaultXe,
	}
	p, err := ckks.NewParametersFromLiteral(lit)
	if err != nil {
		return Parameters{}, fmt.Errorf("he: cannot build preset %v: %w", preset, err)
	}
	return Parameters{p: p, name: preset.String()}, nil
}

// InsecureTestParameters returns small, fast parameters that are NOT
// secure, for tests only: ring degree 2^logN (10 ≤ logN ≤ 16) and the given
// depth (1 ≤ depth ≤ 24) at a 2^29 scale.
func InsecureTestParameters(logN, depth int) (Parameters, error) {
	if logN < 10 || logN > 16 {
		return Parameters{}, fmt.Errorf("he: insecure test logN %d out of [10, 16]: %w", logN, ErrInput)
	}
	if depth < 1 || depth > 24 {
		return Parameters{}, fmt.Errorf("he: insecure test depth %d out of [1, 24]: %w", depth, ErrInput)
	}
	lit := ckks.ParametersLiteral{
		LogN:            logN,
		LogQ:            append([]int{36}, rep(29, depth)...),
		LogP:            []int{37},
		LogDefaultScale: 29,
		RingType:        ring.Standard,
		Xs:              rlwe.DefaultXs,
		Xe:              rlwe.DefaultXe,
	}
	p, err := ckks.NewParametersFromLiteral(lit)
	if err != nil {
		return Parameters{}, fmt.Errorf("he: cannot build insecure test parameters: %w", err)
	}
	return Parameters{p: p, name: fmt.Sprintf("insecure-test-logN%d", logN), insecure: true}, nil
}

// Name is the preset name ("PN13"), a truncated preset ("PN13/depth3") or
// "insecure-test-logN…".
func (p Parameters) Name() string { return p.name }

// LogN returns log2 of the ring degree.
func (p Parameters) LogN() int { return p.p.LogN() }

// Slots returns the number of real values a ciphertext holds.
func (p Parameters) Slots() int { return p.p.MaxSlots() }

// Depth returns the number of rescalings a fresh ciphertext supports (for
// bootstrappable parameters, also the number a bootstrap restores).
func (p Parameters) Depth() int { return p.p.MaxLevel() }

// LogQP returns log2 of the total modulus (ciphertext modulus Q times the
// key-switching modulus P), the figure that determines security. For
// bootstrappable parameters it is that of the residual chain; the
// bootstrapping keys use a larger modulus, which [Parameters.String]
// reports and the security check covers.
func (p Parameters) LogQP() float64 { return p.p.LogQP() }

// LogScale returns log2 of the default scale (the fixed-point precision).
func (p Parameters) LogScale() int { return p.p.LogDefaultScale() }

// LogOutputBound returns log2 of the largest magnitude a result decrypted at
// level 0 can hold (first prime over scale, one bit for the sign).
func (p Parameters) LogOutputBound() float64 {
	return math.Log2(float64(p.p.Q()[0])) - float64(p.LogScale()) - 1
}

// Insecure reports whether the parameters were built by an insecure option.
func (p Parameters) Insecure() bool { return p.insecure }

// Secure128 reports whether the parameters meet the 128-bit bound of
// [MaxLogQP128] with the default ternary secret and Gaussian error, or are
// the bootstrapping parameters of [NewBootstrapParameters] (whose whole
// bootstrapping modulus meets [MaxLogQP128Bootstrap]).
func (p Parameters) Secure128() bool {
	if p.p.N() == 0 {
		return false
	}
	if p.boot != nil {
		return !p.insecure && p.boot.secure()
	}
	bound, ok := heStandard128[p.LogN()]
	if !ok {
		return false
	}
	if p.p.Xs() != rlwe.DefaultXs || p.p.Xe() != rlwe.DefaultXe || p.p.RingType() != ring.Standard {
		return false
	}
	return p.LogQP() <= bound
}

// String describes the parameters in one line.
func (p Parameters) String() string {
	sec := "128-bit"
	if !p.Secure128() {
		sec = "INSECURE"
	}
	boot := ""
	if p.boot != nil {
		boot = fmt.Sprintf(" bootstrapping-logQP=%.1f", p.boot.params.BootstrappingParameters.LogQP())
	}
	return fmt.Sprintf("%s logN=%d slots=%d depth=%d logQP=%.1f%s scale=2^%d (%s)",
		p.name, p.LogN(), p.Slots(), p.Depth(), p.LogQP(), boot, p.LogScale(), sec)
}

// Equal reports whether two parameter sets are identical.
func (p Parameters) Equal(o Parameters) bool {
	if (p.boot == nil) != (o.boot == nil) || p.boot != nil && !p.boot.params.Equal(&o.boot.params) {
		return false
	}
	return p.insecure == o.insecure && p.p.Equal(&o.p)
}

// truncate keeps the first depth+1 primes of Q (and all of P): a shorter
// chain for a shallower model, which is faster, has smaller keys and is at
// least as secure.
func (p Parameters) truncate(depth int) (Parameters, error) {
	if p.boot != nil { // bootstrapping restores the full residual chain: keep it
		return p, nil
	}
	if depth < 0 || depth > p.Depth() {
		return Parameters{}, fmt.Errorf("he: cannot truncate %s to depth %d: %w", p.name, depth, ErrDepth)
	}
	if depth == p.Depth() {
		return p, nil
	}
	lit := p.p.ParametersLiteral()
	lit.Q = append([]uint64(nil), lit.Q[:depth+1]...)
	lit.LogQ, lit.LogP = nil, nil
	q, err := ckks.NewParametersFromLiteral(lit)
	if err != nil {
		return Parameters{}, fmt.Errorf("he: cannot truncate %s: %w", p.name, err)
	}
	name := p.name
	if !p.insecure {
		name = fmt.Sprintf("%s/depth%d", p.name, depth)
	}
	return Parameters{p: q, name: name, insecure: p.insecure}, nil
}
