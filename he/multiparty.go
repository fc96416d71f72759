package he

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/multiparty"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
	"github.com/tuneinsight/lattigo/v6/utils/sampling"
)

// Party holds one additive share of a collective secret key: the secret
// key is the sum of all parties' shares and exists nowhere in full. Keys
// are generated with [CollectiveKeyGen] and results decrypted with
// [ThresholdDecrypt] (n-out-of-n: every party must take part). Both calls
// run every party's steps in one process; in a deployment each party runs
// its share-generation step on its own machine and only shares travel
// (lattigo's multiparty protocols, Mouchet et al., PETS 2021).
type Party struct {
	params Parameters
	sk     *rlwe.SecretKey
}

// NewParties creates n ≥ 2 parties with fresh secret-key shares.
func NewParties(params Parameters, n int) ([]*Party, error) {
	if params.p.N() == 0 {
		return nil, fmt.Errorf("he: NewParties: zero Parameters: %w", ErrInput)
	}
	if !params.Insecure() && !params.Secure128() {
		return nil, fmt.Errorf("he: NewParties: %s: %w", params.Name(), ErrInsecureParameters)
	}
	if n < 2 || n > 1024 {
		return nil, fmt.Errorf("he: NewParties: %d parties, want 2..1024: %w", n, ErrInput)
	}
	kgen := rlwe.NewKeyGenerator(params.p)
	ps := make([]*Party, n)
	for i := range ps {
		ps[i] = &Party{params: params, sk: kgen.GenSecretKeyNew()}
	}
	return ps, nil
}

// Encryptor encrypts under a collective public key; it cannot decrypt.
type Encryptor struct {
	params Parameters
	ecd    *ckks.Encoder
	enc    *rlwe.Encryptor
}

// Encrypt encodes and encrypts samples in the plan's packing, like
// [Client.Encrypt].
func (e *Encryptor) Encrypt(plan *Plan, samples [][]float64) ([]*Ciphertext, error) {
	if plan == nil || !plan.params.Equal(e.params) {
		return nil, fmt.Errorf("he: Encryptor.Encrypt: plan for other parameters: %w", ErrMismatch)
	}
	return encryptSamples(e.params, e.ecd, e.enc, plan, samples)
}

func checkParties(params Parameters, parties []*Party) error {
	if len(parties) < 2 {
		return fmt.Errorf("he: %d parties, want at least 2: %w", len(parties), ErrInput)
	}
	for i, p := range parties {
		if p == nil || p.sk == nil || !p.params.Equal(params) {
			return fmt.Errorf("he: party %d has no share for parameters %s: %w", i, params.Name(), ErrMismatch)
		}
	}
	return nil
}

// CollectiveKeyGen runs the collective key generation of the parties for
// plan: a public key (returned as an [Encryptor]) and the relinearization
// and Galois keys the plan needs, each the aggregate of one share per party
// against a common reference string drawn from crypto/rand. The keys are
// not compressed and cannot be written with [EvaluationKeys.WriteTo].
func CollectiveKeyGen(plan *Plan, parties []*Party) (*Encryptor, *EvaluationKeys, error) {
	if plan == nil {
		return nil, nil, fmt.Errorf("he: CollectiveKeyGen: nil plan: %w", ErrInput)
	}
	if plan.boots > 0 {
		// Bootstrapping keys would need a collective protocol for the
		// sparse-secret encapsulation keys, which is not implemented.
		return nil, nil, fmt.Errorf("he: CollectiveKeyGen: the plan bootstraps; multiparty bootstrapping keys are not supported: %w", ErrInput)
	}
	params := plan.params
	if err := checkParties(params, parties); err != nil {
		return nil, nil, err
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, nil, fmt.Errorf("he: cannot draw the common reference string: %w", err)
	}
	crs, err := sampling.NewKeyedPRNG(seed[:])
	if err != nil {
		return nil, nil, err
	}
	p := params.p

	// Public key: one round.
	ckg := multiparty.NewPublicKeyGenProtocol(p)
	ckgCRP := ckg.SampleCRP(crs)
	agg := ckg.AllocateShare()
	for i, pt := range parties {
		sh := ckg.AllocateShare()
		ckg.GenShare(pt.sk, ckgCRP, &sh)
		if i == 0 {
			agg = sh
		} else {
			ckg.AggregateShares(agg, sh, &agg)
		}
	}
	pk := rlwe.NewPublicKey(p)
	ckg.GenPublicKey(agg, ckgCRP, pk)

	set := rlwe.NewMemEvaluationKeySet(nil)
	// Relinearization key: two rounds.
	if plan.relin {
		rkg := multiparty.NewRelinearizationKeyGenProtocol(p)
		crp := rkg.SampleCRP(crs)
		eph := make([]*rlwe.SecretKey, len(parties))
		r1 := make([]multiparty.RelinearizationKeyGenShare, len(parties))
		r2 := make([]multiparty.RelinearizationKeyGenShare, len(parties))
		for i := range parties {
			eph[i], r1[i], r2[i] = rkg.AllocateShare()
		}
		_, agg1, agg2 := rkg.AllocateShare()
		for i, pt := range parties {
			rkg.GenShareRoundOne(pt.sk, crp, eph[i], &r1[i])
			if i == 0 {
				agg1 = r1[0]
			} else {
				rkg.AggregateShares(agg1, r1[i], &agg1)
			}
		}
		for i, pt := range parties {
			rkg.GenShareRoundTwo(eph[i], pt.sk, agg1, &r2[i])
			if i == 0 {
				agg2 = r2[0]
			} else {
				rkg.AggregateShares(agg2, r2[i], &agg2)
			}
		}
		rlk := rlwe.NewRelinearizationKey(p)
		rkg.GenRelinearizationKey(agg1, agg2, rlk)
		set.RelinearizationKey = rlk
	}
	// Galois keys: one round each.
	gkg := multiparty.NewGaloisKeyGenProtocol(p)
	for _, g := range plan.galEls {
		crp := gkg.SampleCRP(crs)
		aggG := gkg.AllocateShare()
		for i, pt := range parties {
			sh := gkg.AllocateShare()
			if err := gkg.GenShare(pt.sk, g, crp, &sh); err != nil {
				return nil, nil, fmt.Errorf("he: Galois key %d share %d: %w", g, i, err)
			}
			if i == 0 {
				aggG = sh
			} else if err := gkg.AggregateShares(aggG, sh, &aggG); err != nil {
				return nil, nil, err
			}
		}
		gk := rlwe.NewGaloisKey(p)
		if err := gkg.GenGaloisKey(aggG, crp, gk); err != nil {
			return nil, nil, fmt.Errorf("he: Galois key %d: %w", g, err)
		}
		set.GaloisKeys[g] = gk
	}
	enc := &Encryptor{params: params, ecd: ckks.NewEncoder(p), enc: rlwe.NewEncryptor(p, pk)}
	return enc, &EvaluationKeys{params: params, set: set}, nil
}

// ThresholdDecrypt decrypts ct, an input or output of plan, with the
// shares of all parties. Each party computes a decryption share
// c1·s_i + z_i with its own flooding noise z_i, a rounded Gaussian of
// the standard deviation σ = √(12τ)·2^(s/2)·B that [Client.DecryptPublic]
// uses (see [PublicDecryption]; B from the plan's noise estimate for the
// collective key), so that the share hides the party's key share and the
// ciphertext noise even from all other parties together. The shares are
// summed with c0 and decoded. The precision cost is that of
// [Client.DecryptPublic] with √n times the flooding for n parties, and
// decryption is refused with [ErrPrecision] below
// [PublicDecryption.MinPrecision] bits.
func ThresholdDecrypt(plan *Plan, ct *Ciphertext, parties []*Party, opts PublicDecryption) (*Decrypted, error) {
	if plan == nil {
		return nil, fmt.Errorf("he: ThresholdDecrypt: nil plan: %w", ErrInput)
	}
	params := plan.params
	if err := checkParties(params, parties); err != nil {
		return nil, err
	}
	fs, err := opts.resolve(plan, ct, len(parties))
	if err != nil {
		return nil, err
	}
	p := params.p
	ringQ := p.RingQ()
	ecd := ckks.NewEncoder(p)
	slots := params.Slots()
	vals := make([][]float64, len(ct.cts))
	for i, c := range ct.cts {
		r := ringQ.AtLevel(c.Level())
		pt := ckks.NewPlaintext(p, c.Level())
		pt.Scale = c.Scale
		r.Add(pt.Value, c.Value[0], pt.Value) // c0, NTT domain
		for j, party := range parties {
			sh, err := party.decryptionShare(c, fs.sigma, fs.rand)
			if err != nil {
				return nil, fmt.Errorf("he: party %d: %w", j, err)
			}
			r.Add(pt.Value, sh, pt.Value)
		}
		vals[i] = make([]float64, slots)
		if err := ecd.Decode(pt, vals[i]); err != nil {
			return nil, fmt.Errorf("he: cannot decode part %d: %w", i, err)
		}
	}
	return fs.result(ct.unpack(vals))
}

// decryptionShare returns c1·s_i + z (NTT domain) with z flooding noise
// of standard deviation sigma.
func (pt *Party) decryptionShare(c *rlwe.Ciphertext, sigma float64, rnd io.Reader) (ring.Poly, error) {
	ringQ := pt.params.p.RingQ()
	sh, err := floodPoly(ringQ, c.Level(), sigma, rnd)
	if err != nil {
		return sh, err
	}
	ringQ.AtLevel(c.Level()).MulCoeffsMontgomeryThenAdd(c.Value[1], pt.sk.Value.Q, sh)
	return sh, nil
}
