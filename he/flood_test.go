package he

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// floodParams returns INSECURE logN-10 parameters with a 2^50 scale, room
// for noise flooding at 30 bits of statistical security.
func floodParams(t testing.TB, depth int) *Parameters {
	t.Helper()
	cp, err := ckks.NewParametersFromLiteral(ckks.ParametersLiteral{
		LogN:            10,
		LogQ:            append([]int{60}, rep(50, depth)...),
		LogP:            []int{61},
		LogDefaultScale: 50,
		RingType:        ring.Standard,
		Xs:              rlwe.DefaultXs,
		Xe:              rlwe.DefaultXe,
	})
	require.NoError(t, err)
	return &Parameters{p: cp, name: "insecure-test-flood", insecure: true}
}

// floodFixture evaluates a 6-4(square)-3 model in batch mode on 512
// samples (every slot used).
type floodFixture struct {
	plan   *Plan
	client *Client
	res    *Ciphertext
	xs     [][]float64
	exact  [][]float64 // Client.Decrypt
}

func newFloodFixture(t *testing.T) *floodFixture {
	r := rand.New(rand.NewPCG(61, 62))
	m := randModel(t, r, []int{6, 4, 3}, []Activation{ActSquare, ActNone})
	xs := randSamples(r, 512, 6)
	plan, err := Compile(m, CompileOptions{Mode: Batch, Parameters: floodParams(t, 3), Calibration: xs})
	require.NoError(t, err)
	c, err := NewClient(plan.Parameters())
	require.NoError(t, err)
	keys, err := c.GenEvaluationKeys(plan)
	require.NoError(t, err)
	s, err := NewServer(plan, keys)
	require.NoError(t, err)
	cts, err := c.Encrypt(plan, xs)
	require.NoError(t, err)
	require.Len(t, cts, 1)
	res, err := s.Evaluate(cts[0])
	require.NoError(t, err)
	exact, err := c.Decrypt(res)
	require.NoError(t, err)
	return &floodFixture{plan: plan, client: c, res: res, xs: xs, exact: exact}
}

// TestDecryptPublicFlooding: two flooded decryptions of one ciphertext
// differ everywhere; the flooding has the configured standard deviation;
// the reported bounds hold. Each bound fails per value with probability
// 2^-30, so over the 1536 values of a run with probability below 2^-19;
// the standard deviation check allows 10%, 5.5 standard errors of the
// estimate from 1536 values (false failure below 1e-7). The seeds are
// fixed.
func TestDecryptPublicFlooding(t *testing.T) {
	f := newFloodFixture(t)
	opts := PublicDecryption{Rand: rand.NewChaCha8([32]byte{1})}
	a, err := f.client.DecryptPublic(f.plan, f.res, opts)
	require.NoError(t, err)
	b, err := f.client.DecryptPublic(f.plan, f.res, opts)
	require.NoError(t, err)
	t.Logf("s=30 τ=1: noise bound 2^%.1f, σ 2^%.1f, flood error %.3g, error bound %.3g, precision %.1f bits",
		math.Log2(a.NoiseBound), math.Log2(a.Sigma), a.FloodError, a.ErrorBound, a.Precision)
	require.GreaterOrEqual(t, a.DecryptionPrecision, float64(DefaultMinPrecision))
	require.GreaterOrEqual(t, a.DecryptionPrecision, a.Precision)
	require.InDelta(t, -math.Log2(a.ErrorBound), a.Precision, 1e-9)

	var sum2 float64
	n := 0
	for i, x := range f.xs {
		want, err := f.plan.model.Predict(x)
		require.NoError(t, err)
		for j := range want {
			require.NotEqual(t, a.Values[i][j], b.Values[i][j], "sample %d output %d: two flooded decryptions agree", i, j)
			d := a.Values[i][j] - f.exact[i][j]
			require.LessOrEqual(t, math.Abs(d), a.FloodError, "sample %d output %d: flooding beyond its bound", i, j)
			require.LessOrEqual(t, math.Abs(a.Values[i][j]-want[j]), a.ErrorBound, "sample %d output %d: error beyond the bound", i, j)
			sum2 += d * d
			n++
		}
	}
	std := math.Sqrt(sum2 / float64(n))
	wantStd := a.FloodError / errorTail
	t.Logf("flooding std measured %.4g, configured %.4g", std, wantStd)
	require.InEpsilon(t, wantStd, std, 0.10)

	// What the Li-Micciancio adversary needs is the key-dependent noise
	// exact − Δ⁻¹·encode(output), which it could read off an unflooded
	// decryption of outputs it can predict. In the released values it is
	// drowned by at least √12·2^15 (s = 30, τ = 1) times its own size.
	var noise2 float64
	for i, x := range f.xs {
		approx, err := f.plan.predictApprox(x)
		require.NoError(t, err)
		for j := range approx {
			d := f.exact[i][j] - approx[j]
			noise2 += d * d
		}
	}
	noiseStd := math.Sqrt(noise2 / float64(n))
	t.Logf("key-dependent noise std %.3g; flooding/noise = 2^%.1f", noiseStd, math.Log2(std/noiseStd))
	require.GreaterOrEqual(t, std/noiseStd, math.Sqrt(12)*math.Exp2(15))
	est := f.plan.estimate(1)
	require.LessOrEqual(t, noiseStd, est[len(est)-1].NoiseStd, "the noise estimate that sizes the flooding is below the measured noise")

	// A fresh encryption of the inputs decrypts within its bound too.
	in, err := f.client.Encrypt(f.plan, f.xs)
	require.NoError(t, err)
	fresh, err := f.client.DecryptPublic(f.plan, in[0], opts)
	require.NoError(t, err)
	t.Logf("fresh input: error bound %.3g, precision %.1f bits", fresh.ErrorBound, fresh.Precision)
	for i, x := range f.xs {
		for j := range x {
			require.LessOrEqual(t, math.Abs(fresh.Values[i][j]-x[j]), fresh.ErrorBound)
		}
	}

	// More queries or more security cost precision.
	more, err := f.client.DecryptPublic(f.plan, f.res, PublicDecryption{Queries: 1 << 10, MinPrecision: -1})
	require.NoError(t, err)
	require.InDelta(t, a.DecryptionPrecision-5, more.DecryptionPrecision, 0.2, "√τ more flooding costs log2(32) = 5 bits")
}

// TestDecryptPublicRefuses: a requested precision the flooding cannot
// leave, and flooding that would wrap around the modulus, are refused.
func TestDecryptPublicRefuses(t *testing.T) {
	f := newFloodFixture(t)
	_, err := f.client.DecryptPublic(f.plan, f.res, PublicDecryption{MinPrecision: 40})
	require.ErrorIs(t, err, ErrPrecision)
	require.Contains(t, err.Error(), "bits of precision")
	_, err = f.client.DecryptPublic(f.plan, f.res, PublicDecryption{StatisticalSecurity: 128, Queries: 1 << 20})
	require.ErrorIs(t, err, ErrPrecision)
	_, err = f.client.DecryptPublic(f.plan, f.res, PublicDecryption{Queries: -1})
	require.ErrorIs(t, err, ErrInput)
	_, err = f.client.DecryptPublic(nil, f.res, PublicDecryption{})
	require.ErrorIs(t, err, ErrInput)
}

// TestThresholdFloodingStatistics: the error of a threshold decryption is
// dominated by the parties' flooding, whose standard deviation is
// measured against the configured one (√n·σ per coefficient). Fixed
// seeds; the 10% tolerance is 5.5 standard errors (false failure below
// 1e-7).
func TestThresholdFloodingStatistics(t *testing.T) {
	r := rand.New(rand.NewPCG(63, 64))
	m := randModel(t, r, []int{6, 3}, []Activation{ActNone})
	xs := randSamples(r, 512, 6)
	plan, err := Compile(m, CompileOptions{Mode: Batch, Parameters: floodParams(t, 1), Calibration: xs})
	require.NoError(t, err)
	parties, err := NewParties(plan.Parameters(), 3)
	require.NoError(t, err)
	enc, keys, err := CollectiveKeyGen(plan, parties)
	require.NoError(t, err)
	s, err := NewServer(plan, keys)
	require.NoError(t, err)
	cts, err := enc.Encrypt(plan, xs)
	require.NoError(t, err)
	res, err := s.Evaluate(cts[0])
	require.NoError(t, err)
	opts := PublicDecryption{Rand: rand.NewChaCha8([32]byte{2})}
	a, err := ThresholdDecrypt(plan, res, parties, opts)
	require.NoError(t, err)
	b, err := ThresholdDecrypt(plan, res, parties, opts)
	require.NoError(t, err)
	t.Logf("3 parties, s=30: σ per party 2^%.1f, flood error %.3g, precision %.1f bits", math.Log2(a.Sigma), a.FloodError, a.Precision)
	var sum2 float64
	n := 0
	for i, x := range xs {
		want, err := m.Predict(x)
		require.NoError(t, err)
		for j := range want {
			require.NotEqual(t, a.Values[i][j], b.Values[i][j])
			d := a.Values[i][j] - want[j]
			require.LessOrEqual(t, math.Abs(d), a.ErrorBound)
			sum2 += d * d
			n++
		}
	}
	nm := newNoiseModel(plan.params, 3)
	wantStd := nm.slotStd(3 * a.Sigma * a.Sigma)
	std := math.Sqrt(sum2 / float64(n))
	t.Logf("threshold flooding std measured %.4g, configured %.4g", std, wantStd)
	require.InEpsilon(t, wantStd, std, 0.10)
}

// TestBatchUnusedSlotsMasked: in batch mode the slots no sample uses
// carry fresh values on every evaluation, not the model's output on an
// all-zero input, while the samples' outputs stay exact.
func TestBatchUnusedSlotsMasked(t *testing.T) {
	r := rand.New(rand.NewPCG(65, 66))
	m := randModel(t, r, []int{6, 4, 3}, []Activation{ActSquare, ActNone})
	xs := randSamples(r, 3, 6)
	plan, err := Compile(m, CompileOptions{Mode: Batch, Parameters: testParams(t, 10, 3)})
	require.NoError(t, err)
	c, err := NewClient(plan.Parameters())
	require.NoError(t, err)
	keys, err := c.GenEvaluationKeys(plan)
	require.NoError(t, err)
	s, err := NewServer(plan, keys)
	require.NoError(t, err)
	cts, err := c.Encrypt(plan, xs)
	require.NoError(t, err)
	zero, err := m.Predict(make([]float64, 6))
	require.NoError(t, err)
	slotsOf := func(res *Ciphertext) [][]float64 {
		out := make([][]float64, len(res.cts))
		for i, e := range res.cts {
			out[i] = make([]float64, plan.params.Slots())
			require.NoError(t, c.ecd.Decode(c.dec.DecryptNew(e), out[i]))
		}
		return out
	}
	res1, err := s.Evaluate(cts[0])
	require.NoError(t, err)
	res2, err := s.Evaluate(cts[0])
	require.NoError(t, err)
	a, b := slotsOf(res1), slotsOf(res2)
	bound := math.Exp2(plan.params.LogOutputBound() - 2)
	for o := range a {
		near := 0
		var sum2 float64
		for k := len(xs); k < len(a[o]); k++ {
			require.Greater(t, math.Abs(a[o][k]-b[o][k]), 1e-6, "output %d slot %d equal in two evaluations", o, k)
			require.LessOrEqual(t, math.Abs(a[o][k]), bound+1e-3)
			if math.Abs(a[o][k]-zero[o]) < 1e-2 {
				near++
			}
			sum2 += a[o][k] * a[o][k]
		}
		unused := float64(len(a[o]) - len(xs))
		// Uniform on ±bound: P(|v − f(0)| < 0.01) ≤ 0.01/bound per slot,
		// about 0.3 expected slots here; 6 or more has probability below
		// 1e-6.
		require.Less(t, near, 6, "output %d: %d unused slots carry f(0) = %g", o, near, zero[o])
		// Their spread is that of the uniform mask (std bound/√3), within
		// 15% (about 5 standard errors over 509 slots).
		require.InEpsilon(t, bound/math.Sqrt(3), math.Sqrt(sum2/unused), 0.15)
	}
	got, err := c.Decrypt(res1)
	require.NoError(t, err)
	require.Less(t, maxErr(t, m, xs, got), 1e-3)
}

// TestDecryptPublicLatency: in latency mode (one sample per ciphertext,
// a sigmoid layer) the flooded outputs stay within the reported bound of
// plaintext inference and differ between calls. Fixed seeds; the bound
// fails per value with probability 2^-30.
func TestDecryptPublicLatency(t *testing.T) {
	r := rand.New(rand.NewPCG(67, 68))
	m := randModel(t, r, []int{8, 4, 2}, []Activation{ActSigmoid, ActNone})
	m.Layers[0].Degree = 3
	xs := randSamples(r, 8, 8)
	plan, err := Compile(m, CompileOptions{Parameters: floodParams(t, 4), Calibration: xs})
	require.NoError(t, err)
	c, err := NewClient(plan.Parameters())
	require.NoError(t, err)
	keys, err := c.GenEvaluationKeys(plan)
	require.NoError(t, err)
	s, err := NewServer(plan, keys)
	require.NoError(t, err)
	cts, err := c.Encrypt(plan, xs)
	require.NoError(t, err)
	opts := PublicDecryption{Rand: rand.NewChaCha8([32]byte{3})}
	for i, ct := range cts {
		res, err := s.Evaluate(ct)
		require.NoError(t, err)
		a, err := c.DecryptPublic(plan, res, opts)
		require.NoError(t, err)
		b, err := c.DecryptPublic(plan, res, opts)
		require.NoError(t, err)
		want, err := m.Predict(xs[i])
		require.NoError(t, err)
		if i == 0 {
			t.Logf("latency sigmoid: precision %.1f bits (decryption %.1f), error bound %.3g", a.Precision, a.DecryptionPrecision, a.ErrorBound)
		}
		for j := range want {
			require.NotEqual(t, a.Values[0][j], b.Values[0][j])
			require.LessOrEqual(t, math.Abs(a.Values[0][j]-want[j]), a.ErrorBound)
		}
	}
}

// TestLatencyOtherSlots: in latency mode every slot of the output that the
// client does not read holds a replica of an output (the outputs repeat
// with the period of the last layer) or zero, up to the noise: nothing
// beyond the outputs.
func TestLatencyOtherSlots(t *testing.T) {
	r := rand.New(rand.NewPCG(69, 70))
	for _, sizes := range [][]int{{20, 12, 5}, {8, 3}, {3, 8}, {4, 7, 3}} {
		acts := make([]Activation, len(sizes)-1)
		acts[0] = ActSquare
		m := randModel(t, r, sizes, acts)
		plan, err := Compile(m, CompileOptions{Parameters: testParams(t, 10, len(sizes))})
		require.NoError(t, err)
		c, err := NewClient(plan.Parameters())
		require.NoError(t, err)
		keys, err := c.GenEvaluationKeys(plan)
		require.NoError(t, err)
		s, err := NewServer(plan, keys)
		require.NoError(t, err)
		cts, err := c.Encrypt(plan, randSamples(r, 1, sizes[0]))
		require.NoError(t, err)
		res, err := s.Evaluate(cts[0])
		require.NoError(t, err)
		require.Len(t, res.cts, 1)
		v := make([]float64, plan.params.Slots())
		require.NoError(t, c.ecd.Decode(c.dec.DecryptNew(res.cts[0]), v))
		period := plan.outBlock()
		for k, x := range v {
			want := 0.0
			if k%period < res.dim {
				want = v[k%period]
			}
			require.InDelta(t, want, x, 1e-3, "sizes %v slot %d (period %d)", sizes, k, period)
		}
	}
}
