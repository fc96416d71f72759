package secagg

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Threat is the threat model a session is configured for.
type Threat uint8

const (
	// SemiHonest protects the clients' inputs against a server that follows
	// the protocol but tries to learn from what it sees (and from the views
	// of a fraction of colluding clients).
	SemiHonest Threat = 0
	// Malicious protects them against a server that may deviate: key
	// adverts are signed with the clients' long-term Ed25519 identities and
	// a signed consistency check round precedes unmasking.
	Malicious Threat = 1
)

func (t Threat) String() string {
	switch t {
	case SemiHonest:
		return "semi-honest"
	case Malicious:
		return "malicious"
	}
	return fmt.Sprintf("Threat(%d)", uint8(t))
}

// Round identifies a protocol round.
type Round uint8

// The rounds, in order. RoundConsistency only runs in the [Malicious]
// threat model.
const (
	RoundAdvertise   Round = 1
	RoundShareKeys   Round = 2
	RoundMaskedInput Round = 3
	RoundConsistency Round = 4
	RoundUnmask      Round = 5
)

func (r Round) String() string {
	switch r {
	case RoundAdvertise:
		return "AdvertiseKeys"
	case RoundShareKeys:
		return "ShareKeys"
	case RoundMaskedInput:
		return "MaskedInputCollection"
	case RoundConsistency:
		return "ConsistencyCheck"
	case RoundUnmask:
		return "Unmasking"
	}
	return fmt.Sprintf("Round(%d)", uint8(r))
}

// Limits of a configuration.
const (
	MinBits    = 8
	MaxBits    = 62
	MaxClients = 1 << 16
	// MaxLength is the largest vector length (Dim + SideDim).
	MaxLength = 1 << 28
)

// Config describes one secure-aggregation session. It is a literal that may
// be wrong: [NewParams] checks it and resolves its defaults. Every party of
// a session must use the same Config (its digest is bound into every
// message).
type Config struct {
	// NumClients is n, the number of clients, with ids 0..n-1. Required,
	// 2 to MaxClients.
	NumClients int
	// Dim is the number of main coordinates of the input vectors.
	Dim int
	// SideDim is the number of side coordinates (weights, counts, clip
	// indicators) appended after the Dim main ones, with their own bound
	// MaxSideAbs. Dim + SideDim must be 1 to MaxLength.
	SideDim int
	// Bits is B: sums are computed in Z_{2^B}, 8 <= B <= 62. Defaults to 32.
	Bits uint
	// MaxAbs bounds every main coordinate: |x| <= MaxAbs. Defaults to the
	// largest bound that the headroom check accepts,
	// floor((2^(B-1)-1)/n).
	MaxAbs uint64
	// MaxSideAbs bounds every side coordinate, with the same default.
	MaxSideAbs uint64

	// Threat is the threat model. Defaults to SemiHonest.
	Threat Threat
	// DropoutRate and CorruptRate are the expected fraction of clients
	// that drop out and the fraction that collude with the server, both in
	// [0, 1). They drive the parameter finder.
	DropoutRate, CorruptRate float64
	// Degree is k, the number of neighbours of each client: an even number
	// below n-1 for SecAgg+, or n-1 for classic SecAgg (the complete
	// graph). Zero chooses it with [FindGraphParams], falling back to the
	// complete graph when no sparse graph qualifies.
	Degree int
	// Threshold is t, the number of shares needed to reconstruct a secret.
	// Zero chooses the smallest secure one. A threshold below
	// [MinThreshold] is refused unless InsecureAllowLowThreshold is set.
	Threshold int
	// InsecureAllowLowThreshold accepts a Threshold below the secure
	// minimum (at least 2). For experiments only.
	InsecureAllowLowThreshold bool
	// MinInputs is the smallest number of inputs a result may sum: a sum
	// of few inputs reveals much about each (of two, each input to the
	// other's owner). The server aborts with [ErrTooFewClients] rather
	// than release a smaller sum, and in the malicious model each client
	// refuses to sign or unmask a survivor set smaller than this. Zero
	// means the default [DefaultMinInputs]: ceil((1-DropoutRate)*n), at
	// least the threshold, and at least ceil(CorruptRate*n)+2 so that
	// every sum holds two inputs of honest clients; a smaller value is
	// refused with [ErrInsecureParams] (it can only be raised).
	MinInputs int

	// SessionSeed is public randomness for this session, chosen fresh per
	// session; it relabels the Harary graph, that is, it decides who is
	// whose neighbour and share holder. It is not secret.
	//
	// With Malicious, the server must not choose it, nor be able to bias
	// it: a server that may pick the seed can try seeds until some victim's
	// neighbours are mostly clients it controls (t of them hold enough
	// shares to unmask the victim), which the parameter finder's analysis
	// of a random graph excludes. Take it from a public randomness beacon
	// (a round fixed before the clients' identities and this session were
	// announced), or from a commit-and-reveal among the clients (each
	// commits to a random value, all reveal, the seed is the hash of the
	// revealed values), and let each client check its provenance before
	// calling [NewParams]. In the semi-honest model the server follows the
	// protocol and draws it at random.
	SessionSeed [32]byte
	// Sequence is the number of this aggregation (the training round). It
	// must strictly increase across the sessions run with the same
	// Identities (and, with SemiHonest, with the same clients), so that no
	// two sessions share a configuration digest: otherwise the signed
	// adverts and the messages of an earlier session, whose dropped
	// clients' mask keys the server has reconstructed, verify in a later
	// one. Clients enforce it by remembering the last Sequence they took
	// part in and setting [ClientOptions].MinSequence above it.
	Sequence uint64
	// Identities are the clients' long-term Ed25519 public keys, indexed by
	// client id. Required (n keys) with Malicious, ignored otherwise.
	Identities []ed25519.PublicKey
}

// Params is a checked [Config]: the resolved degree and threshold, the
// relabelled Harary graph and the configuration digest. It is immutable and
// safe for concurrent use; share one between the server and the simulated
// clients of a process.
type Params struct {
	cfg    Config
	n, k   int
	t      int
	length int
	bits   uint
	digest [32]byte
	perm   []uint32 // ring position -> client id
	pos    []uint32 // client id -> ring position
}

// NewParams checks cfg, resolves its defaults and runs the headroom check:
// it fails with [ErrHeadroom] if n * MaxAbs (or n * MaxSideAbs) reaches
// 2^(B-1), since the centred sum could then wrap around.
func NewParams(cfg Config) (*Params, error) {
	n := cfg.NumClients
	if n < 2 || n > MaxClients {
		return nil, fmt.Errorf("%w: NumClients=%d, want 2 to %d", ErrConfig, n, MaxClients)
	}
	if cfg.Dim < 0 || cfg.SideDim < 0 || cfg.Dim+cfg.SideDim < 1 || cfg.Dim+cfg.SideDim > MaxLength {
		return nil, fmt.Errorf("%w: Dim=%d, SideDim=%d, want Dim+SideDim from 1 to %d", ErrConfig, cfg.Dim, cfg.SideDim, MaxLength)
	}
	if cfg.Bits == 0 {
		cfg.Bits = 32
	}
	if cfg.Bits < MinBits || cfg.Bits > MaxBits {
		return nil, fmt.Errorf("%w: Bits=%d, want %d to %d", ErrConfig, cfg.Bits, MinBits, MaxBits)
	}
	half := uint64(1) << (cfg.Bits - 1)
	largest := (half - 1) / uint64(n)
	if largest == 0 {
		return nil, fmt.Errorf("%w: %d clients do not fit in %d bits", ErrHeadroom, n, cfg.Bits)
	}
	if cfg.MaxAbs == 0 {
		cfg.MaxAbs = largest
	}
	if cfg.MaxSideAbs == 0 {
		cfg.MaxSideAbs = largest
	}
	for _, b := range []struct {
		name string
		v    uint64
	}{{"MaxAbs", cfg.MaxAbs}, {"MaxSideAbs", cfg.MaxSideAbs}} {
		hi, lo := bits.Mul64(b.v, uint64(n))
		if hi != 0 || lo >= half {
			return nil, fmt.Errorf("%w: %d clients x %s=%d >= 2^%d: the centred sum could wrap modulo 2^%d; use more bits or a smaller bound (at most %d)",
				ErrHeadroom, n, b.name, b.v, cfg.Bits-1, cfg.Bits, largest)
		}
	}
	if cfg.Threat != SemiHonest && cfg.Threat != Malicious {
		return nil, fmt.Errorf("%w: unknown threat model %d", ErrConfig, cfg.Threat)
	}
	if cfg.Threat == Malicious {
		if len(cfg.Identities) != n {
			return nil, fmt.Errorf("%w: malicious threat model needs %d identity keys, have %d", ErrConfig, n, len(cfg.Identities))
		}
		for i, pk := range cfg.Identities {
			if len(pk) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("%w: identity key of client %d has %d bytes", ErrConfig, i, len(pk))
			}
		}
	}
	if err := checkFinderInputs(n, cfg.DropoutRate, cfg.CorruptRate, cfg.Threat); err != nil {
		return nil, err
	}
	k := cfg.Degree
	if k == 0 {
		gp, err := FindGraphParams(n, cfg.DropoutRate, cfg.CorruptRate, cfg.Threat)
		if err != nil {
			k = n - 1
		} else {
			k = gp.Degree
		}
	}
	if k != n-1 && (k < 2 || k%2 != 0 || k > n-2) {
		return nil, fmt.Errorf("%w: Degree=%d, want an even number from 2 to %d, or %d", ErrConfig, k, n-2, n-1)
	}
	minT, err := MinThreshold(n, k, cfg.DropoutRate, cfg.CorruptRate, cfg.Threat)
	if err != nil {
		return nil, err
	}
	t := cfg.Threshold
	if t == 0 {
		t = minT
	}
	if t < 2 || t > k+1 {
		return nil, fmt.Errorf("%w: Threshold=%d, want 2 to Degree+1=%d (secure minimum %d)", ErrConfig, t, k+1, minT)
	}
	if t < minT && !cfg.InsecureAllowLowThreshold {
		return nil, fmt.Errorf("%w: Threshold=%d is below the secure minimum %d for n=%d, k=%d, corrupt=%g, %v server",
			ErrInsecureParams, t, minT, n, k, cfg.CorruptRate, cfg.Threat)
	}
	minIn := DefaultMinInputs(n, t, cfg.DropoutRate, cfg.CorruptRate)
	if cfg.MinInputs == 0 {
		cfg.MinInputs = minIn
	}
	if cfg.MinInputs < minIn || cfg.MinInputs > n {
		return nil, fmt.Errorf("%w: MinInputs=%d, want %d (ceil((1-DropoutRate)*n), at least t and ceil(CorruptRate*n)+2) to NumClients=%d",
			ErrInsecureParams, cfg.MinInputs, minIn, n)
	}
	cfg.Degree, cfg.Threshold = k, t
	cfg.Identities = slices.Clone(cfg.Identities)
	p := &Params{cfg: cfg, n: n, k: k, t: t, length: cfg.Dim + cfg.SideDim, bits: cfg.Bits}
	p.digest = configDigest(&cfg)
	p.perm, p.pos = relabel(n, &cfg.SessionSeed)
	return p, nil
}

// DefaultMinInputs returns the smallest number of inputs a sum may have
// by default: ceil((1-dropout)*n), the survivors expected when at most
// the configured fraction drops out (as fcp requires of the complete
// graph); at least the threshold t; and at least ceil(corrupt*n)+2, since
// a server colluding with the corrupt clients subtracts their inputs and
// must still face the sum of two honest ones. It is at most n.
func DefaultMinInputs(n, t int, dropout, corrupt float64) int {
	m := int(math.Ceil((1-dropout)*float64(n) - 1e-9))
	c := int(math.Ceil(corrupt*float64(n) - 1e-9))
	return min(max(m, t, c+2), n)
}

// MinInputs returns the smallest number of inputs a result may sum.
func (p *Params) MinInputs() int { return p.cfg.MinInputs }

// Config returns the resolved configuration (defaults filled in).
func (p *Params) Config() Config {
	c := p.cfg
	c.Identities = slices.Clone(c.Identities)
	return c
}

// NumClients returns n.
func (p *Params) NumClients() int { return p.n }

// Degree returns k.
func (p *Params) Degree() int { return p.k }

// Threshold returns t.
func (p *Params) Threshold() int { return p.t }

// Bits returns B.
func (p *Params) Bits() uint { return p.bits }

// Length returns Dim + SideDim, the length of input and sum vectors.
func (p *Params) Length() int { return p.length }

// Digest returns the SHA-256 digest of the configuration that every message
// of the session is bound to.
func (p *Params) Digest() [32]byte { return p.digest }

// configDigest hashes every field of the resolved configuration with a
// domain-separation prefix and fixed-width encodings.
func configDigest(c *Config) [32]byte {
	h := sha256.New()
	h.Write([]byte("privml/secagg/v2/config\x00"))
	var b [8]byte
	put := func(v uint64) {
		binary.BigEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	put(uint64(c.NumClients))
	put(uint64(c.Dim))
	put(uint64(c.SideDim))
	put(uint64(c.Bits))
	put(c.MaxAbs)
	put(c.MaxSideAbs)
	put(uint64(c.Threat))
	put(math.Float64bits(c.DropoutRate))
	put(math.Float64bits(c.CorruptRate))
	put(uint64(c.Degree))
	put(uint64(c.Threshold))
	put(uint64(c.MinInputs))
	h.Write(c.SessionSeed[:])
	put(c.Sequence)
	put(uint64(len(c.Identities)))
	for _, pk := range c.Identities {
		h.Write(pk)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}
