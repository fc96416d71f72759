package federated

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/dp"
	"github.com/privml/privml/dp/accounting"
)

// ddgRun runs rounds of distributed DP on the mean clients and records,
// per round, every client's noiseless and sent vectors and the sum the
// server unmasked.
type ddgView struct {
	noiseless, sent map[int][][]int64 // round -> vectors
	server          map[int][]int64
	sigma           map[int]float64 // round -> per-client noise
	bound2          map[int]float64 // round -> Δ², the sensitivity after rounding
	last            *RoundReport
}

func runDistributed(t *testing.T, rounds int, s byte, dropout float64) (*Server, *ddgView) {
	t.Helper()
	const n, d = 80, 20
	clients, _, _ := meanClients(n, d, uint64(s))
	cfg := Config{
		Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: 30, InsecureSeed: testSeed(s),
		Clip: 1, Secure: &SecureConfig{Bits: 20}, MinReports: 15,
		Availability: Simulated(dropout, 0), Workers: 2,
		DP: DPConfig{Mode: DPDistributed, NoiseMultiplier: 1.1, Delta: 1e-5},
	}
	srv, err := NewServer(cfg, clients, make([]float64, d))
	require.NoError(t, err)
	v := &ddgView{noiseless: map[int][][]int64{}, sent: map[int][][]int64{}, server: map[int][]int64{}, sigma: map[int]float64{}, bound2: map[int]float64{}}
	srv.hooks.encoder = func(round int, e *ddgEncoder) { v.sigma[round], v.bound2[round] = e.sigma, e.bound2 }
	srv.hooks.encoded = func(round, _ int, noiseless, sent []int64) {
		v.noiseless[round] = append(v.noiseless[round], append([]int64(nil), noiseless...))
		v.sent[round] = append(v.sent[round], append([]int64(nil), sent...))
	}
	srv.hooks.serverSum = func(round int, sum []int64) { v.server[round] = append([]int64(nil), sum...) }
	for range rounds {
		rep, err := srv.Round()
		require.NoError(t, err)
		require.True(t, rep.Secure || rep.Skipped)
		v.last = rep
	}
	return srv, v
}

// The server of a distributed-DP run never sees a noiseless sum: what it
// unmasks is exactly the sum of what the clients sent, and differs from
// the sum of their noiseless encodings by noise of variance (number of
// survivors) × σ_i² per coordinate, σ_i² = z²Δ²/MinReports.
//
// Statistical test: over all rounds and coordinates, the standardized
// squared differences sum to S with E[S] = N (N terms) and Var[S] = 2N
// (Gaussian fourth moment; the discrete Gaussian's differ by < 1e-9 at
// σ_i > 2). |S - N| > 5·sqrt(2N) has probability < 1e-6 (normal
// approximation): the false-failure rate of this test.
func TestDistributedServerNeverSeesNoiselessSum(t *testing.T) {
	_, v := runDistributed(t, 12, 21, 0.15)
	require.NotEmpty(t, v.server)
	S, M, N := 0.0, 0.0, 0
	for round, sum := range v.server {
		sent, clean := v.sent[round], v.noiseless[round]
		require.NotEmpty(t, sent)
		n := len(sent)
		sig := v.sigma[round]
		require.Greater(t, sig, 2.0)
		varSum := float64(n) * sig * sig
		// The calibration rule: at least MinReports inputs, so the sum
		// carries at least the variance z²Δ² the accountant assumes.
		require.GreaterOrEqual(t, n, 15, "round %d unmasked with fewer than MinReports inputs", round)
		require.GreaterOrEqual(t, varSum, 1.1*1.1*v.bound2[round]*(1-1e-12))
		zero := true
		for j := range sum {
			var s, c int64
			for i := range sent {
				s += sent[i][j]
				c += clean[i][j]
			}
			require.Equal(t, s, sum[j], "round %d coordinate %d: the server's sum is the sum of the sent vectors", round, j)
			diff := float64(s - c)
			if diff != 0 {
				zero = false
			}
			S += diff * diff / varSum
			M += diff / math.Sqrt(varSum)
			N++
		}
		assert.False(t, zero, "round %d: the server saw the noiseless sum", round)
	}
	assert.InDelta(t, float64(N), S, 5*math.Sqrt(2*float64(N)), "noise variance off: S=%v over N=%d", S, N)
	// And centred: the standardized mean is N(0, 1/N); |mean| > 5/sqrt(N)
	// has probability < 1e-6.
	assert.InDelta(t, 0, M/float64(N), 5/math.Sqrt(float64(N)))
}

func TestSeededRunIsRepeatable(t *testing.T) {
	a, _ := runDistributed(t, 4, 31, 0.2)
	b, _ := runDistributed(t, 4, 31, 0.2)
	c, _ := runDistributed(t, 4, 32, 0.2)
	ma, mb, mc := a.Model(), b.Model(), c.Model()
	for j := range ma {
		require.Equal(t, math.Float64bits(ma[j]), math.Float64bits(mb[j]), "coordinate %d", j)
	}
	assert.NotEqual(t, ma, mc, "another seed, another run")
}

func TestHadamardRotationRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 8, 64, 1024} {
		x := make([]float64, n)
		for i := range x {
			x[i] = r.NormFloat64()
		}
		signs := randomSigns(n, r)
		v := append([]float64(nil), x...)
		rotate(v, signs)
		n0, n1 := 0.0, 0.0
		for i := range x {
			n0 += x[i] * x[i]
			n1 += v[i] * v[i]
		}
		assert.InDelta(t, n0, n1, 1e-9*n0, "rotation preserves the norm (n=%d)", n)
		unrotate(v, signs)
		assert.InDeltaSlice(t, x, v, 1e-12, "n=%d", n)
	}
	// Known answer: H_2·(1, 0) / sqrt 2 with signs (+, +).
	v := []float64{1, 0}
	rotate(v, []float64{1, 1})
	assert.InDeltaSlice(t, []float64{math.Sqrt2 / 2, math.Sqrt2 / 2}, v, 1e-15)
}

// The encoding keeps every coordinate within the headroom bound, rounds
// within the conditional bound, and decodes (without noise) to the input
// within the rounding error.
func TestDDGEncodeDecode(t *testing.T) {
	const d, n = 100, 50
	e, err := newDDGEncoder(d, n, 25, 1.0, 20)
	require.NoError(t, err)
	assert.Equal(t, 128, e.dpad)
	assert.Less(t, int64(n)*e.maxAbs, int64(1)<<19, "headroom")
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, d)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	f, _, err := l2ClipFactor(x, 1)
	require.NoError(t, err)
	for i := range x {
		x[i] *= f
	}
	s := e.scaleFor(1)
	signs := randomSigns(e.dpad, r)
	sent := make([]int64, e.dpad)
	clean := make([]int64, e.dpad)
	require.NoError(t, e.encode(sent, clean, x, s, signs, r, dp.NewSampler(dp.WithSeedForTesting(5))))
	n2 := 0.0
	for i := range sent {
		assert.LessOrEqual(t, sent[i], e.maxAbs)
		assert.GreaterOrEqual(t, sent[i], -e.maxAbs)
		n2 += float64(clean[i]) * float64(clean[i])
	}
	assert.LessOrEqual(t, n2, e.bound2)
	got := make([]float64, d)
	e.decode(got, clean, s, signs)
	// Rounding error: at most 1 per rotated coordinate, norm <= sqrt(dpad)/s.
	errNorm := 0.0
	for i := range got {
		errNorm += (got[i] - x[i]) * (got[i] - x[i])
	}
	assert.LessOrEqual(t, math.Sqrt(errNorm), math.Sqrt(float64(e.dpad))/s)
	// Too few bits for the noise: a clear error.
	_, err = newDDGEncoder(d, 1000, 10, 1.0, 12)
	require.ErrorIs(t, err, ErrConfig)
}

// Central DP-FedAvg adds noise of standard deviation z·C/K to the
// average: with clients that send zero updates, the model after a round
// is pure noise. Over 40 rounds × 50 coordinates the sample variance
// lies within 5 standard errors (sqrt(2/N) relative) of (zC/K)²: false
// failure rate < 1e-6.
func TestCentralNoiseScale(t *testing.T) {
	const n, d, k = 100, 50, 20
	clients := make([]Client, n)
	for i := range clients {
		clients[i] = ClientFunc(func(task Task) (Update, error) { return Update{Delta: make([]float64, d), Weight: 1}, nil })
	}
	const z, c = 1.3, 0.5
	var deltas []float64
	opt := &recordStep{}
	cfg := Config{Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: k, Clip: c, InsecureSeed: testSeed(41), Optimizer: opt,
		MinReports: 1, DP: DPConfig{Mode: DPCentral, NoiseMultiplier: z, Delta: 1e-5}}
	srv, err := NewServer(cfg, clients, make([]float64, d))
	require.NoError(t, err)
	for range 40 {
		_, err := srv.Round()
		require.NoError(t, err)
	}
	deltas = opt.all
	ss := 0.0
	for _, v := range deltas {
		ss += v * v
	}
	want := (z * c / k) * (z * c / k)
	got := ss / float64(len(deltas))
	assert.InDelta(t, want, got, 5*want*math.Sqrt(2/float64(len(deltas))))
}

type recordStep struct{ all []float64 }

func (r *recordStep) Step(global, delta []float64) error {
	r.all = append(r.all, delta...)
	for i := range global {
		global[i] += delta[i]
	}
	return nil
}
func (r *recordStep) Name() string { return "record" }

// Adaptive clipping moves the bound towards the target quantile of the
// update norms: every client's update has norm 0.1, the bound starts at
// 1 and must come down close to 0.1 (Andrew et al. 2021, geometric
// update); with secure aggregation the indicator travels as a side
// coordinate, noised by the server (central) or by the clients
// (distributed).
func TestAdaptiveClippingConverges(t *testing.T) {
	for _, mode := range []string{"plain", "secure", "distributed"} {
		secure := mode != "plain"
		const n, d = 200, 4
		clients := make([]Client, n)
		for i := range clients {
			clients[i] = ClientFunc(func(task Task) (Update, error) {
				return Update{Delta: []float64{0.05, 0.05, 0.05, 0.05}, Weight: 1}, nil
			})
		}
		k, rounds := 50, 60
		if secure {
			k, rounds = 20, 40 // each secure round runs a SecAgg+ session
		}
		cfg := Config{Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: k, Clip: 1, InsecureSeed: testSeed(51),
			DP: DPConfig{Mode: DPCentral, NoiseMultiplier: 1, Delta: 1e-5,
				Adaptive: &AdaptiveClipping{TargetQuantile: 0.5, LearningRate: 0.2, IndicatorNoise: 1}}}
		if secure {
			cfg.Secure = &SecureConfig{}
		}
		if mode == "distributed" {
			cfg.DP.Mode, cfg.MinReports = DPDistributed, 10
		}
		srv, err := NewServer(cfg, clients, make([]float64, d))
		require.NoError(t, err)
		for range rounds {
			rep, err := srv.Round()
			require.NoError(t, err)
			require.False(t, rep.Skipped, "%s round %d: %s", mode, rep.Round, rep.SkipReason)
		}
		assert.InDelta(t, 0.1, srv.Clip(), 0.05, mode)
	}
	// The combined noise multiplier: z_Δ = (z^-2 - (2σ_b)^-2)^-1/2.
	zd, err := (&AdaptiveClipping{TargetQuantile: 0.5, LearningRate: 0.2, IndicatorNoise: 2.5}).updateNoiseMultiplier(1)
	require.NoError(t, err)
	assert.InDelta(t, 1/math.Sqrt(1-1.0/25), zd, 1e-12)
	_, err = (&AdaptiveClipping{TargetQuantile: 0.5, LearningRate: 0.2, IndicatorNoise: 0.4}).updateNoiseMultiplier(1)
	assert.ErrorIs(t, err, ErrConfig)
}

// The epsilon a run reports is the one of accounting.PoissonGaussianEpsilon
// with the default RDP configuration: the function `privml dp epsilon`
// calls with its default flags (rdp accountant, cks20 conversion).
func TestEpsilonIsTheCLIs(t *testing.T) {
	srv, v := runDistributed(t, 3, 61, 0)
	want, _, err := accounting.PoissonGaussianEpsilon(srv.SamplingRate(), 1.1, 3, 1e-5, accounting.RDPConfig{})
	require.NoError(t, err)
	assert.Equal(t, want, v.last.Epsilon)
	assert.Equal(t, AccountantName, v.last.Accountant)
	assert.Equal(t, 1e-5, v.last.Delta)
	// And NoiseForEpsilon inverts it.
	z, err := NoiseForEpsilon(4, 0.1, 50, 1e-5)
	require.NoError(t, err)
	e, err := Epsilon(0.1, z, 50, 1e-5)
	require.NoError(t, err)
	assert.LessOrEqual(t, e, 4.0)
	assert.Greater(t, e, 3.99)
}

// The indicator's per-client noise is at least 4 (so that the sum of
// discrete Gaussians is accounted as a Gaussian), its total over m
// clients is 2σ_b in units of S, and the decoded value is Σ(b_i - 1/2).
func TestIndicatorEncoder(t *testing.T) {
	e, err := newIndicatorEncoder(5, 62, 3000, 150)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, e.sigma, 4.0)
	assert.InDelta(t, 2*5*float64(e.scale), e.sigma*math.Sqrt(62), 1e-9)
	smp := dp.NewSampler(dp.WithSeedForTesting(7))
	var sum int64
	const n = 62
	for i := range n {
		v, err := e.encode(i < 40, smp) // 40 clipped, 22 within the bound
		require.NoError(t, err)
		sum += v
	}
	// Σ(b_i - 1/2) = 22·½ - 40·½ = -9, plus noise of sd σ_b = 5: within
	// 6 sd (false-failure rate 2e-9).
	assert.InDelta(t, -9, e.decode(sum), 6*5)
	_, err = newIndicatorEncoder(5, 62, 20, 150)
	assert.ErrorIs(t, err, ErrConfig)
}
