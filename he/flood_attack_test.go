package he

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// TestDecryptPublicMaliciousServer pins down the documented limit of
// noise flooding: it protects decryptions of ciphertexts that the plan's
// honest evaluation produced (IND-CPA-D), not of ciphertexts a malicious
// server crafted. The server returns, in place of the output, the
// ciphertext (0, a) with a a constant far above the flooding; it has the
// output's level, dimension and scale, so DecryptPublic accepts it and
// its released values are a·s + z: one release gives the adversary every
// coefficient of the secret key. If this test starts failing, the
// package has gained a defence and the "Threat model" documentation must
// say so.
func TestDecryptPublicMaliciousServer(t *testing.T) {
	f := newFloodFixture(t)
	opts := PublicDecryption{Rand: rand.NewChaCha8([32]byte{7})}
	honest, err := f.client.DecryptPublic(f.plan, f.res, opts)
	require.NoError(t, err)

	// The crafted ciphertexts: c0 = 0 and c1 = a for output 0, c1 =
	// a·X^(N/2) (a times the imaginary unit in every slot) for output 1,
	// with a = 2^k far above 8.6σ: the real parts of the released slots
	// of the two give the real and imaginary parts of a·s(ζ_j).
	params := f.plan.params.p
	a := uint64(1) << uint(math.Ceil(math.Log2(honest.Sigma))+10)
	forged := *f.res
	forged.cts = make([]*rlwe.Ciphertext, len(f.res.cts))
	for o, ct := range f.res.cts {
		c := ct.CopyNew()
		r := params.RingQ().AtLevel(c.Level())
		for j := range c.Value[0].Coeffs {
			clear(c.Value[0].Coeffs[j])
			clear(c.Value[1].Coeffs[j])
			if o == 1 {
				c.Value[1].Coeffs[j][params.N()/2] = a
			} else {
				c.Value[1].Coeffs[j][0] = a
			}
		}
		r.NTT(c.Value[1], c.Value[1])
		forged.cts[o] = c
	}
	rel, err := f.client.DecryptPublic(f.plan, &forged, opts)
	require.NoError(t, err, "DecryptPublic refused the crafted ciphertexts")

	// The adversary re-encodes the released slots into coefficients and
	// divides by a.
	f0 := 1.0
	if forged.scale != 0 {
		f0 = forged.scale
	}
	slots := make([]complex128, len(rel.Values))
	for i := range rel.Values {
		slots[i] = complex(rel.Values[i][0]/f0, -rel.Values[i][1]/f0)
	}
	ct0 := forged.cts[0]
	pt := ckks.NewPlaintext(params, ct0.Level())
	pt.Scale = ct0.Scale
	pt.IsNTT = false
	require.NoError(t, ckks.NewEncoder(params).Encode(slots, pt))
	q0 := params.Q()[0]
	got := make([]int64, params.N())
	for k, v := range pt.Value.Coeffs[0] {
		c := int64(v)
		if v > q0/2 {
			c = -int64(q0 - v)
		}
		got[k] = int64(math.Round(float64(c) / float64(a)))
	}

	// The secret key's coefficients.
	ringQ := params.RingQ()
	sk := f.client.sk.Value.Q.CopyNew()
	ringQ.IMForm(*sk, *sk)
	ringQ.INTT(*sk, *sk)
	want := make([]int64, params.N())
	bq := new(big.Int).SetUint64(q0)
	for k, v := range sk.Coeffs[0] {
		b := new(big.Int).SetUint64(v)
		if b.Cmp(new(big.Int).Rsh(bq, 1)) > 0 {
			b.Sub(b, bq)
		}
		want[k] = b.Int64()
	}
	require.Equal(t, want, got, "one flooded decryption of a crafted ciphertext reveals the secret key")
}

// TestFloodPolyLowBits: the flooding hides the low bits of the noise only
// if its samples are fine-grained integers. A float64 Gaussian of
// standard deviation σ has a spacing of about 8.6σ·2^-52 at its tail, so
// past 2^40 its rounded samples would be multiples of powers of two and
// z + e mod 2^k would give e mod 2^k away: the flooding is refused there
// (ErrPrecision), and below it the residues mod 8 are uniform.
func TestFloodPolyLowBits(t *testing.T) {
	f := newFloodFixture(t)
	// s = 128 and many queries push σ past the cap; MinPrecision < 0 and
	// the overflow check are not what refuses it.
	in, err := f.client.Encrypt(f.plan, f.xs)
	require.NoError(t, err)
	_, err = f.client.DecryptPublic(f.plan, in[0], PublicDecryption{StatisticalSecurity: 60, Queries: 1 << 10, MinPrecision: -1})
	require.ErrorIs(t, err, ErrPrecision)
	require.ErrorContains(t, err, "granularity")
	t.Log(err)
	// s = 44 puts 2^-s/N below 2^-53, where math.Erfcinv overflows: the
	// flooding stays finite and the decryption goes through.
	d, err := f.client.DecryptPublic(f.plan, f.res, PublicDecryption{StatisticalSecurity: 44, MinPrecision: -1, Rand: rand.NewChaCha8([32]byte{3})})
	require.NoError(t, err)
	require.False(t, math.IsInf(d.Sigma, 0))
	t.Logf("s = 44: σ = 2^%.1f, %.1f bits left", math.Log2(d.Sigma), d.DecryptionPrecision)

	// At the cap, the residues mod 8 of 2^14 samples are uniform: a χ²
	// test with 7 degrees of freedom at the 1e-6 level (critical value
	// 35.3), seeds fixed.
	ringQ := f.plan.params.p.RingQ()
	counts := make([]float64, 8)
	total := 0
	for rep := range 16 {
		z, err := floodPoly(ringQ, 0, maxFloodSigma, rand.NewChaCha8([32]byte{byte(rep), 9}))
		require.NoError(t, err)
		ringQ.AtLevel(0).INTT(z, z)
		q := int64(ringQ.ModuliChain()[0])
		for _, v := range z.Coeffs[0] {
			c := int64(v)
			if c > q/2 {
				c -= q
			}
			counts[((c%8)+8)%8]++
			total++
		}
	}
	chi2 := 0.0
	exp := float64(total) / 8
	for _, c := range counts {
		chi2 += (c - exp) * (c - exp) / exp
	}
	t.Logf("σ = 2^%.0f: residues mod 8 %v, χ² = %.1f", math.Log2(maxFloodSigma), counts, chi2)
	require.Less(t, chi2, 35.3)
}

// TestGaussTail: the tail agrees with math.Erfcinv where that is exact,
// stays finite and increasing where Erfcinv overflows (s up to 128 at
// N = 2^16), and satisfies its definition there.
func TestGaussTail(t *testing.T) {
	for _, p := range []float64{0.5, 1e-3, 0x1p-30, 0x1p-45} {
		require.InEpsilon(t, math.Sqrt2*math.Erfcinv(p), gaussTail(p), 1e-9, "p = %g", p)
	}
	prev := 0.0
	for s := 1; s <= 128; s++ {
		p := math.Exp2(-float64(s)) / 65536
		tt := gaussTail(p)
		require.False(t, math.IsInf(tt, 0) || math.IsNaN(tt), "s = %d", s)
		require.Greater(t, tt, prev, "s = %d", s)
		require.InEpsilon(t, p, math.Erfc(tt/math.Sqrt2), 1e-6, "s = %d", s)
		prev = tt
	}
}

// TestBatchMaskMaliciousClient pins down the documented limit of the
// unused-slot masking: the sample count is the client's claim, so a
// client that encrypts a chosen input x in every slot and declares 3
// samples reads, in the masked slots, f(x) − f(0) + u with u uniform on
// ±r: the midpoint of the smallest and largest slot gives f(x) − f(0)
// within about r/509, against ±r = ±16 for one slot (the midpoint errs
// by more than t with probability e^(−509·t/r), below 1e-6 for t = 0.5).
// If this test starts failing, the masking has
// become stronger and the package documentation must say so.
func TestBatchMaskMaliciousClient(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	m := randModel(t, r, []int{6, 4, 3}, []Activation{ActSquare, ActNone})
	for o := range m.Layers[1].Weights {
		for i := range m.Layers[1].Weights[o] {
			m.Layers[1].Weights[o][i] *= 40
		}
	}
	plan, err := Compile(m, CompileOptions{Mode: Batch, Parameters: testParams(t, 10, 3)})
	require.NoError(t, err)
	c, err := NewClient(plan.Parameters())
	require.NoError(t, err)
	keys, err := c.GenEvaluationKeys(plan)
	require.NoError(t, err)
	s, err := NewServer(plan, keys)
	require.NoError(t, err)
	s.maskRand = rand.NewChaCha8([32]byte{73})
	x := []float64{1, -1, 1, 1, -1, 1}
	xs := make([][]float64, plan.params.Slots())
	for i := range xs {
		xs[i] = x
	}
	cts, err := c.Encrypt(plan, xs)
	require.NoError(t, err)
	ct := *cts[0]
	ct.samples = 3 // the claim the server sees
	res, err := s.Evaluate(&ct)
	require.NoError(t, err)
	fx, err := m.Predict(x)
	require.NoError(t, err)
	f0, err := m.Predict(make([]float64, 6))
	require.NoError(t, err)
	rng := math.Exp2(plan.params.LogOutputBound() - 2)
	for o, e := range res.cts {
		v := make([]float64, plan.params.Slots())
		require.NoError(t, c.ecd.Decode(c.dec.DecryptNew(e), v))
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, y := range v[3:] {
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
		got := (lo + hi) / 2 * res.scale0()
		want := fx[o] - f0[o]
		t.Logf("output %d: f(x) − f(0) = %.4f, read %.4f from the masked slots (mask ±%.3g)", o, want, got, rng)
		require.InDelta(t, want, got, 0.5*res.scale0(), "the masked slots hide f(x) − f(0) from a client that fills them")
	}
}

func (c *Ciphertext) scale0() float64 {
	if c.scale == 0 {
		return 1
	}
	return c.scale
}

// constReader returns the byte b forever.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestFloodPolyTail: the radius uniform has 64 bits, so the smallest one
// (all-zero randomness) gives the largest sample, √(128·ln 2)·σ ≈ 9.42σ
// (a 53-bit uniform stopped at 8.57σ, cutting a pair's tail of 2^-53);
// the largest one (all-one bytes) gives zero, not NaN.
func TestFloodPolyTail(t *testing.T) {
	ringQ := floodParams(t, 1).p.RingQ()
	const sigma = 0x1p20
	z, err := floodPoly(ringQ, 0, sigma, constReader(0))
	require.NoError(t, err)
	ringQ.AtLevel(0).INTT(z, z)
	require.Equal(t, uint64(math.Round(sigma*math.Sqrt(128*math.Ln2))), z.Coeffs[0][0])
	require.Equal(t, uint64(0), z.Coeffs[0][1])
	z, err = floodPoly(ringQ, 0, sigma, constReader(0xff))
	require.NoError(t, err)
	ringQ.AtLevel(0).INTT(z, z)
	for _, v := range z.Coeffs[0][:4] {
		require.Equal(t, uint64(0), v)
	}
}

// TestDecryptPublicOutsideInterval: the noise estimate assumes that every
// activation input stays in its polynomial's interval; interval
// arithmetic over the input range does not guarantee that (here the
// first layer's inputs reach 2.2 times the interval). An input at a
// corner of the range drives a sigmoid's polynomial outside its
// interval, where its slope amplifies the noise past the estimate that
// sized the flooding (measured here: tens of times) and the output
// leaves its bound. DecryptPublic refuses such a decryption; an input
// inside the intervals decrypts.
func TestDecryptPublicOutsideInterval(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m := randModel(t, r, []int{8, 4, 2}, []Activation{ActSigmoid, ActNone})
	for o := range m.Layers[0].Weights {
		for i := range m.Layers[0].Weights[o] {
			m.Layers[0].Weights[o][i] *= 12
		}
	}
	cal := randSamples(r, 64, 8)
	plan, err := Compile(m, CompileOptions{Parameters: floodParams(t, 8), Calibration: cal})
	require.NoError(t, err)
	est := plan.estimate(1)
	require.Greater(t, est[0].InputBound, 2*plan.model.Layers[0].Interval, "the test wants inputs in range that leave the interval")
	lo, hi := plan.InputRange()
	corner := make([]float64, 8)
	for i := range corner {
		corner[i] = lo[i]
		if m.Layers[0].Weights[0][i] > 0 {
			corner[i] = hi[i]
		}
	}
	c, err := NewClient(plan.Parameters())
	require.NoError(t, err)
	keys, err := c.GenEvaluationKeys(plan)
	require.NoError(t, err)
	s, err := NewServer(plan, keys)
	require.NoError(t, err)
	opts := PublicDecryption{Rand: rand.NewChaCha8([32]byte{11})}
	for k, x := range [][]float64{cal[0], corner} {
		cts, err := c.Encrypt(plan, [][]float64{x})
		require.NoError(t, err)
		res, err := s.Evaluate(cts[0])
		require.NoError(t, err)
		got, err := c.Decrypt(res)
		require.NoError(t, err)
		approx, err := plan.predictApprox(x)
		require.NoError(t, err)
		noise, out := 0.0, 0.0
		for j := range approx {
			noise = math.Max(noise, math.Abs(got[0][j]-approx[j]))
			out = math.Max(out, math.Abs(got[0][j]))
		}
		t.Logf("input %d: |output| %.3g (bound %.3g), noise %.3g (estimated std %.3g)", k, out, est[1].OutputBound, noise, est[1].NoiseStd)
		_, err = c.DecryptPublic(plan, res, opts)
		if k == 0 {
			require.NoError(t, err)
			continue
		}
		require.Greater(t, out, est[1].OutputBound)
		require.ErrorIs(t, err, ErrRange)
		require.NotContains(t, err.Error(), fmt.Sprintf("%.3g", got[0][1]))
	}
}
