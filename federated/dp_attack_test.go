package federated

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/dp"
	"github.com/privml/privml/federated/secagg"
)

// constClients send fixed updates whatever the global model, so that two
// runs that differ in one client's data differ in nothing else.
func constClients(n, d int, seed uint64) []Client {
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([]Client, n)
	for i := range out {
		u := make([]float64, d)
		for j := range u {
			u[j] = r.NormFloat64()
		}
		out[i] = ClientFunc(func(Task) (Update, error) { return Update{Delta: append([]float64(nil), u...), Weight: 1}, nil })
	}
	return out
}

// The neighbouring relation of the distributed-DP guarantee (zero-out):
// two populations that differ only in client t's update (its data, or
// nothing: a zero update) give the server views that differ only in t's
// own rounded, rotated update, whose norm is at most the sensitivity Δ.
// Who is sampled, who drops out (at every step, unmasking included), who
// is cut by over-selection and which rounds are skipped are the same;
// every other client's noised input, and t's noise, are the same.
func TestDistributedZeroOutNeighbours(t *testing.T) {
	const n, d, target = 60, 12, 7
	type view struct {
		reps     []*RoundReport
		sums     map[int][]int64
		clean    map[int][]int64 // target's noiseless input per round
		bound2   map[int]float64
		included map[int]bool
	}
	run := func(zero bool) view {
		clients := constClients(n, d, 9)
		if zero {
			clients[target] = ClientFunc(func(Task) (Update, error) { return Update{Delta: make([]float64, d), Weight: 1}, nil })
		}
		cfg := Config{
			Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: 20, OverSelect: 0.5, MinReports: 12,
			InsecureSeed: testSeed(71), Clip: 1, Secure: &SecureConfig{Bits: 24},
			Availability: Simulated(0.2, 10*time.Millisecond), Deadline: 25 * time.Millisecond, Workers: 2,
			DP: DPConfig{Mode: DPDistributed, NoiseMultiplier: 1, Delta: 1e-5},
		}
		srv, err := NewServer(cfg, clients, make([]float64, d))
		require.NoError(t, err)
		v := view{sums: map[int][]int64{}, clean: map[int][]int64{}, bound2: map[int]float64{}, included: map[int]bool{}}
		srv.hooks.encoder = func(round int, e *ddgEncoder) { v.bound2[round] = e.bound2 }
		srv.hooks.encoded = func(round, client int, noiseless, _ []int64) {
			if client == target {
				v.clean[round] = append([]int64(nil), noiseless...)
				v.included[round] = true
			}
		}
		srv.hooks.serverSum = func(round int, sum []int64) { v.sums[round] = append([]int64(nil), sum...) }
		for range 15 {
			rep, err := srv.Round()
			require.NoError(t, err)
			rep.Wall, rep.TrainTime, rep.ClientTime, rep.ServerTime = 0, 0, 0, 0
			v.reps = append(v.reps, rep)
		}
		return v
	}
	x, z := run(false), run(true)
	unused := 0
	for _, r := range x.reps {
		unused += r.Unused
	}
	require.Positive(t, unused, "over-selection never cut a report; pick another seed")
	seen := 0
	for i := range x.reps {
		a, b := *x.reps[i], *z.reps[i]
		// Not released with DP without adaptive clipping (NaN != NaN).
		require.True(t, math.IsNaN(a.Clipped) && math.IsNaN(b.Clipped))
		a.Clipped, b.Clipped = 0, 0
		require.Equal(t, a, b, "round %d: the round's structure depends on t's data", i+1)
		round := i + 1
		sx, okx := x.sums[round]
		sz, okz := z.sums[round]
		require.Equal(t, okx, okz)
		if !okx {
			continue
		}
		require.Equal(t, x.included[round], z.included[round])
		n2 := 0.0
		for j := range sx {
			diff := sx[j] - sz[j]
			want := int64(0)
			if x.included[round] {
				want = x.clean[round][j] - z.clean[round][j]
			}
			require.Equal(t, want, diff, "round %d coordinate %d", round, j)
			n2 += float64(diff * diff)
		}
		if x.included[round] {
			seen++
			assert.Positive(t, n2)
		}
		assert.LessOrEqual(t, n2, x.bound2[round], "round %d: t moved the sum by more than Δ", round)
	}
	assert.Positive(t, seen, "t was never in an unmasked sum; pick another seed")
}

// A secure-aggregation setting no round could use fails at NewServer with
// ErrConfig naming the field; before, an infinite MaxWeight turned the
// model into NaN in the first round, and the others failed there.
func TestSecureConfigCheckedAtStart(t *testing.T) {
	sh := Shape{{Name: "w", Dims: []int{2}}}
	clients := constClients(6, 2, 1)
	for field, sc := range map[string]SecureConfig{
		"MaxWeight":   {MaxWeight: math.Inf(1)},
		"MaxWeight ":  {MaxWeight: math.NaN()},
		"MaxWeight  ": {MaxWeight: -1},
		"Bits":        {Bits: 7},
		"Bits ":       {Bits: 63},
		"Threat":      {Threat: 9},
		"DropoutRate": {DropoutRate: math.NaN()},
		"CorruptRate": {CorruptRate: 1},
	} {
		_, err := NewServer(Config{Shape: sh, Fraction: 1, Clip: 1, Secure: &sc}, clients, make([]float64, 2))
		require.ErrorIs(t, err, ErrConfig, field)
		assert.Contains(t, err.Error(), "Secure."+strings.TrimSpace(field))
	}
}

// An Availability that returns an unknown drop step is a configuration
// error, not a client that joins the secure session without an update.
func TestUnknownDropStep(t *testing.T) {
	sh := Shape{{Name: "w", Dims: []int{2}}}
	for _, secure := range []*SecureConfig{nil, {}} {
		srv, err := NewServer(Config{Shape: sh, Fraction: 1, Clip: 1, Secure: secure,
			Availability: func(int, int, *rand.Rand) Availability { return Availability{Drop: 9} }},
			constClients(6, 2, 1), make([]float64, 2))
		require.NoError(t, err)
		_, err = srv.Round()
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), "unknown drop step 9")
	}
}

// Weights near the float64 limit give the weighted mean, not a NaN model;
// updates whose mean overflows are refused.
func TestPlainMeanHugeWeights(t *testing.T) {
	sh := Shape{{Name: "w", Dims: []int{2}}}
	clients := make([]Client, 4)
	for i := range clients {
		w := 1e308
		if i == 3 {
			w = 1e307 // a tenth of the others
		}
		v := float64(i)
		clients[i] = ClientFunc(func(Task) (Update, error) { return Update{Delta: []float64{v, 1}, Weight: w}, nil })
	}
	srv, err := NewServer(Config{Shape: sh, Fraction: 1}, clients, make([]float64, 2))
	require.NoError(t, err)
	_, err = srv.Round()
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{(0 + 1 + 2 + 0.3) / 3.1, 1}, srv.Model(), 1e-12)

	for i := range clients {
		clients[i] = ClientFunc(func(Task) (Update, error) { return Update{Delta: []float64{math.MaxFloat64, 0}, Weight: 1}, nil })
	}
	srv, err = NewServer(Config{Shape: sh, Fraction: 1}, clients, make([]float64, 2))
	require.NoError(t, err)
	_, err = srv.Round()
	require.ErrorIs(t, err, ErrClient)
	assert.Contains(t, err.Error(), "overflows at coordinate 0")
	assert.Equal(t, []float64{0, 0}, srv.Model())
}

// A distributed-DP run reports the δ that modular clipping adds,
// T·(1+e^ε)·TailBound, next to the accountant's δ; central DP has none.
func TestTailDeltaReported(t *testing.T) {
	_, v := runDistributed(t, 3, 61, 0)
	require.Positive(t, v.last.Epsilon)
	assert.InDelta(t, 3*(1+math.Exp(v.last.Epsilon))*TailBound, v.last.TailDelta, 1e-20)
	assert.Equal(t, 1e-5, v.last.Delta, "Delta stays the accountant's δ")
	assert.InDelta(t, 2*3*(1+math.Exp(2))*TailBound, tailDelta(2, 3, true), 1e-20)

	cfg := Config{Shape: Shape{{Name: "w", Dims: []int{2}}}, Fraction: 0.5, Clip: 1, InsecureSeed: testSeed(3),
		DP: DPConfig{Mode: DPCentral, NoiseMultiplier: 1, Delta: 1e-5}}
	srv, err := NewServer(cfg, constClients(20, 2, 1), make([]float64, 2))
	require.NoError(t, err)
	rep, err := srv.Round()
	require.NoError(t, err)
	assert.Zero(t, rep.TailDelta)
}

// The central noise covers the grid rounding of dp's sampler: with
// g = GaussianGranularity(σ), σ/(Δ + g·sqrt(d)) is at least z, where the
// bare σ = z·Δ falls short of it (by a hair: the term is 2^-36 relative).
func TestCentralNoiseCoversGridRounding(t *testing.T) {
	for _, c := range []struct {
		z, sens float64
		d       int
	}{{1.1, 1, 104}, {0.7, 3.5, 100000}, {50, 0.01, 1 << 28}, {2, 0.5, 1}} {
		sigma, err := gridSigma(c.z, c.sens, c.d)
		require.NoError(t, err)
		eff := func(sigma float64) float64 {
			return sigma / (c.sens + dp.GaussianGranularity(sigma)*math.Sqrt(float64(c.d)))
		}
		assert.GreaterOrEqual(t, eff(sigma), c.z, "%+v", c)
		assert.Less(t, eff(c.z*c.sens), c.z, "%+v: the bare sigma is short", c)
	}
	_, err := gridSigma(1e7, 1, 1<<28)
	assert.ErrorIs(t, err, ErrConfig)
}

// The server knows the contributors of every sum it unmasks, so against
// it no amplification by sampling holds: a distributed-DP run reports,
// next to the sampled epsilon, the epsilon of the Gaussian mechanism
// composed over the sums of the most exposed client, counted here from
// what the clients sent.
func TestServerEpsilonCountsParticipation(t *testing.T) {
	const n, d = 100, 4
	cfg := Config{
		Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: 20, MinReports: 10, InsecureSeed: testSeed(81),
		Clip: 1, Secure: &SecureConfig{Bits: 24}, Availability: Simulated(0.1, 0), Workers: 2,
		DP: DPConfig{Mode: DPDistributed, NoiseMultiplier: 1.2, Delta: 1e-5},
	}
	srv, err := NewServer(cfg, constClients(n, d, 2), make([]float64, d))
	require.NoError(t, err)
	var sent map[int]bool
	srv.hooks.encoded = func(_, client int, _, _ []int64) { sent[client] = true }
	count := make([]int, n)
	srv.hooks.serverSum = func(int, []int64) {
		for c := range sent {
			count[c]++
		}
	}
	var rep *RoundReport
	for range 8 {
		sent = map[int]bool{}
		rep, err = srv.Round()
		require.NoError(t, err)
	}
	most := 0
	for _, c := range count {
		most = max(most, c)
	}
	require.Positive(t, most)
	assert.Equal(t, most, rep.MostInSums)
	want, err := Epsilon(1, 1.2, most, 1e-5)
	require.NoError(t, err)
	assert.Equal(t, want, rep.ServerEpsilon)
	assert.Greater(t, rep.ServerEpsilon, rep.Epsilon, "amplification by sampling makes the sampled epsilon the smaller")
}

// A client whose masked input reached the server and who then drops out
// before unmasking still counts toward MinReports: its input, noise
// included, is in the unmasked sum (the server recovers its masks from the
// others' shares).
func TestDistributedLateDropoutsCount(t *testing.T) {
	const n, d = 40, 6
	cfg := Config{
		Shape: Shape{{Name: "w", Dims: []int{d}}}, Fraction: 1, MinReports: 20, InsecureSeed: testSeed(91),
		Clip: 1, Secure: &SecureConfig{Bits: 24, DropoutRate: 0.3}, Workers: 2,
		Availability: func(_, client int, _ *rand.Rand) Availability {
			if client%4 == 0 {
				return Availability{Drop: DropBeforeUnmask}
			}
			return Availability{}
		},
		DP: DPConfig{Mode: DPDistributed, NoiseMultiplier: 1, Delta: 1e-5},
	}
	srv, err := NewServer(cfg, constClients(n, d, 4), make([]float64, d))
	require.NoError(t, err)
	sent := map[int][]int64{}
	srv.hooks.encoded = func(_, client int, _, x []int64) { sent[client] = append([]int64(nil), x...) }
	var sum []int64
	srv.hooks.serverSum = func(_ int, s []int64) { sum = append([]int64(nil), s...) }
	rep, err := srv.Round()
	require.NoError(t, err)
	require.False(t, rep.Skipped, rep.SkipReason)
	assert.Equal(t, n, rep.Reports)
	assert.Len(t, sent, n)
	want := make([]int64, len(sum))
	for _, x := range sent {
		for j := range want {
			want[j] += x[j]
		}
	}
	assert.Equal(t, want, sum)
}

// With DP the exact clipped fraction is a count of the clients whose
// update is large, which no noise covers: two zero-out neighbours (client
// t sends a large update or nothing) would be told apart by it with
// certainty. A DP round reports it only as adaptive clipping's noised
// estimate, NaN without adaptive clipping.
func TestDPClippedFractionIsNotExact(t *testing.T) {
	const n, d = 40, 3
	big := func(i int) bool { return i%3 == 0 }
	clients := make([]Client, n)
	for i := range clients {
		v := 0.1
		if big(i) {
			v = 5
		}
		clients[i] = ClientFunc(func(Task) (Update, error) { return Update{Delta: []float64{v, 0, 0}, Weight: 1}, nil })
	}
	for _, mode := range []string{"central", "central secure", "distributed"} {
		for _, adaptive := range []bool{false, true} {
			cfg := Config{Shape: Shape{{Name: "w", Dims: []int{d}}}, Fraction: 0.5, MinReports: 8, Clip: 1, InsecureSeed: testSeed(93),
				DP: DPConfig{Mode: DPCentral, NoiseMultiplier: 1, Delta: 1e-5}}
			if mode != "central" {
				cfg.Secure = &SecureConfig{Bits: 24}
			}
			if mode == "distributed" {
				cfg.DP.Mode = DPDistributed
			}
			const gamma, eta = 0.5, 0.2
			if adaptive {
				cfg.DP.Adaptive = &AdaptiveClipping{TargetQuantile: gamma, LearningRate: eta, IndicatorNoise: 1}
			}
			srv, err := NewServer(cfg, clients, make([]float64, d))
			require.NoError(t, err)
			for range 3 {
				before := srv.Clip()
				rep, err := srv.Round()
				require.NoError(t, err)
				if !adaptive || rep.Skipped {
					assert.True(t, math.IsNaN(rep.Clipped), "%s adaptive=%v: clipped %v", mode, adaptive, rep.Clipped)
					continue
				}
				// The estimate the bound moved by: C' = C·exp(-η(b̄ - γ)).
				bbar := gamma - math.Log(srv.Clip()/before)/eta
				assert.InDelta(t, min(1, max(0, 1-bbar)), rep.Clipped, 1e-9, mode)
			}
		}
	}
}

// Finite updates near the float64 limit are clipped to the bound, in
// every mode that clips, instead of failing the round on an overflowing
// sum of squares.
func TestClipHugeFiniteUpdate(t *testing.T) {
	for _, x := range [][]float64{{math.MaxFloat64, math.MaxFloat64, -math.MaxFloat64}, {1e200, 0, 1e200}, {3, 4, 0}} {
		f, clipped, err := l2ClipFactor(x, 2)
		require.NoError(t, err)
		assert.True(t, clipped)
		n2 := 0.0
		for _, v := range x {
			n2 += (v * f) * (v * f)
		}
		assert.InDelta(t, 2, math.Sqrt(n2), 1e-12, "%v", x)
	}
	clients := make([]Client, 20)
	for i := range clients {
		clients[i] = ClientFunc(func(Task) (Update, error) {
			return Update{Delta: []float64{1e300, 1e300}, Weight: 1}, nil
		})
	}
	for _, secure := range []*SecureConfig{nil, {}} {
		srv, err := NewServer(Config{Shape: Shape{{Name: "w", Dims: []int{2}}}, Fraction: 1, Clip: 1, Secure: secure, InsecureSeed: testSeed(5)},
			clients, make([]float64, 2))
		require.NoError(t, err)
		rep, err := srv.Round()
		require.NoError(t, err)
		assert.Equal(t, 1.0, rep.Clipped)
		assert.InDeltaSlice(t, []float64{math.Sqrt(0.5), math.Sqrt(0.5)}, srv.Model(), 1e-6)
	}
}

// With DP one client's data cannot stop a round: a non-finite update
// (training diverged on its data) counts as a zero update instead of an
// error naming the client, and its weight is ignored. Without DP the
// error stays.
func TestDPNonFiniteUpdateIsZero(t *testing.T) {
	const n, d = 30, 2
	mk := func() []Client {
		clients := make([]Client, n)
		for i := range clients {
			u := Update{Delta: []float64{0.5, 0}, Weight: 1}
			if i == 4 {
				u = Update{Delta: []float64{math.NaN(), math.Inf(1)}, Weight: math.NaN()}
			}
			clients[i] = ClientFunc(func(Task) (Update, error) {
				return Update{Delta: append([]float64(nil), u.Delta...), Weight: u.Weight}, nil
			})
		}
		return clients
	}
	for _, mode := range []DPMode{DPCentral, DPDistributed} {
		cfg := Config{Shape: Shape{{Name: "w", Dims: []int{d}}}, Fraction: 1, MinReports: 10, Clip: 1, InsecureSeed: testSeed(97),
			Secure: &SecureConfig{Bits: 24}, DP: DPConfig{Mode: mode, NoiseMultiplier: 1e-3, Delta: 1e-5}}
		if mode == DPDistributed {
			cfg.DP.NoiseMultiplier = 0.5
		}
		srv, err := NewServer(cfg, mk(), make([]float64, d))
		require.NoError(t, err)
		rep, err := srv.Round()
		require.NoError(t, err, mode)
		require.False(t, rep.Skipped)
		// 29 updates of 0.5 and a zero one over K = 30, plus noise of
		// sd z·C/K (z·Δ/(s·K) after rounding): within 6 sd.
		sd := cfg.DP.NoiseMultiplier * 1.5 / n
		assert.InDelta(t, 29*0.5/n, srv.Model()[0], 6*sd, mode)
	}
	srv, err := NewServer(Config{Shape: Shape{{Name: "w", Dims: []int{d}}}, Fraction: 1}, mk(), make([]float64, d))
	require.NoError(t, err)
	_, err = srv.Round()
	assert.ErrorIs(t, err, ErrClient)
}

// With secure aggregation and no DP the server learns the clipped
// fraction from the secure sum (a side coordinate), not from the
// individual updates it is not meant to see.
func TestSecureClippedFractionFromTheSum(t *testing.T) {
	const n, d = 24, 2
	clients := make([]Client, n)
	for i := range clients {
		v := 0.5
		if i%3 == 0 {
			v = 4
		}
		clients[i] = ClientFunc(func(Task) (Update, error) { return Update{Delta: []float64{v, 0}, Weight: 1}, nil })
	}
	srv, err := NewServer(Config{Shape: Shape{{Name: "w", Dims: []int{d}}}, Fraction: 1, Clip: 1, InsecureSeed: testSeed(99),
		Secure: &SecureConfig{DropoutRate: 0.3}, Availability: Simulated(0.2, 0)}, clients, make([]float64, d))
	require.NoError(t, err)
	var sum []int64
	srv.hooks.serverSum = func(_ int, s []int64) { sum = s }
	rep, err := srv.Round()
	require.NoError(t, err)
	require.False(t, rep.Skipped, rep.SkipReason)
	require.Len(t, sum, d+2, "update, weight, clip count")
	assert.Positive(t, sum[d+1])
	assert.Equal(t, float64(sum[d+1])/float64(rep.Reports), rep.Clipped)
}

// Privacy settings that would weaken or void the guarantee fail at
// NewServer with ErrConfig.
func TestPrivacyConfigErrors(t *testing.T) {
	clients := constClients(200, 3, 1)
	sh := Shape{{Name: "w", Dims: []int{3}}}
	dpc := func(m DPMode) DPConfig { return DPConfig{Mode: m, NoiseMultiplier: 1, Delta: 1e-5} }
	ok := Config{Shape: sh, ClientsPerRound: 40, Clip: 1, Secure: &SecureConfig{}, DP: dpc(DPDistributed)}
	_, err := NewServer(ok, clients, make([]float64, 3))
	require.NoError(t, err)
	nan := math.NaN()
	for name, edit := range map[string]func(c *Config){
		"distributed without secure aggregation": func(c *Config) { c.Secure = nil },
		"MinReports 1 with secure aggregation":   func(c *Config) { c.MinReports = 1 },
		"MinReports above K":                     func(c *Config) { c.MinReports = 41 },
		"negative MinReports":                    func(c *Config) { c.MinReports = -1 },
		"NaN clip":                               func(c *Config) { c.Clip = nan },
		"infinite clip":                          func(c *Config) { c.Clip = math.Inf(1) },
		"no clip":                                func(c *Config) { c.Clip = 0 },
		"NaN noise":                              func(c *Config) { c.DP.NoiseMultiplier = nan },
		"infinite noise":                         func(c *Config) { c.DP.NoiseMultiplier = math.Inf(1) },
		"zero noise":                             func(c *Config) { c.DP.NoiseMultiplier = 0 },
		"NaN delta":                              func(c *Config) { c.DP.Delta = nan },
		"delta 1":                                func(c *Config) { c.DP.Delta = 1 },
		"NaN fraction":                           func(c *Config) { c.ClientsPerRound, c.Fraction = 0, nan },
		"NaN over-selection":                     func(c *Config) { c.OverSelect = nan },
		"too few bits for the noise":             func(c *Config) { c.Secure = &SecureConfig{Bits: 10} },
		"aggregator with DP":                     func(c *Config) { c.Secure, c.DP = nil, dpc(DPCentral); c.Aggregator = &Median{} },
		"unknown mode":                           func(c *Config) { c.DP.Mode = 7 },
		"adaptive without DP":                    func(c *Config) { c.DP = DPConfig{Adaptive: &AdaptiveClipping{0.5, 0.2, 2}} },
		"adaptive NaN quantile":                  func(c *Config) { c.DP.Adaptive = &AdaptiveClipping{nan, 0.2, 2} },
		"adaptive NaN rate":                      func(c *Config) { c.DP.Adaptive = &AdaptiveClipping{0.5, nan, 2} },
		"adaptive NaN indicator noise":           func(c *Config) { c.DP.Adaptive = &AdaptiveClipping{0.5, 0.2, nan} },
		"adaptive indicator noise <= z/2":        func(c *Config) { c.DP.Adaptive = &AdaptiveClipping{0.5, 0.2, 0.5} },
	} {
		c := ok
		edit(&c)
		_, err := NewServer(c, clients, make([]float64, 3))
		assert.ErrorIs(t, err, ErrConfig, name)
	}
	one := ok
	one.ClientsPerRound = 1
	_, err = NewServer(one, clients[:1], make([]float64, 3))
	assert.ErrorIs(t, err, ErrConfig, "one client")
}

// Printing a server with %v, %+v or %#v shows none of its secrets: the
// clients' private signing keys (malicious model) and the seed.
func TestServerPrintsNoSecrets(t *testing.T) {
	seed := testSeed(0xAB)
	seed[1], seed[2] = 0xCD, 0xEF
	cfg := Config{Shape: Shape{{Name: "w", Dims: []int{2}}}, Fraction: 1, Clip: 1, InsecureSeed: seed,
		Secure: &SecureConfig{Threat: secagg.Malicious}}
	srv, err := NewServer(cfg, constClients(12, 2, 1), make([]float64, 2))
	require.NoError(t, err)
	require.NotEmpty(t, srv.ids)
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, srv)
		assert.NotContains(t, out, fmt.Sprint([]byte(srv.ids[0][:8]))[1:12], f)
		assert.NotContains(t, out, fmt.Sprintf("%x", srv.ids[0][:8]), f)
		assert.NotContains(t, out, "171 205 239", f) // the seed's bytes
		assert.NotContains(t, out, "abcdef", f)
		assert.Contains(t, out, "federated.Server{", f)
	}
}

// Why the guarantee is stated for zero-out neighbours: with over-selection
// a client that is present and fast pushes the K-th report out of the
// round, so that its presence changes two contributions (up to 2C), not
// one. Here client t is absent (never reports) or reports first.
func TestOverSelectionEvictsUnderAddRemove(t *testing.T) {
	const n, d, k, target = 60, 2, 10, 0
	// inputs runs rounds until stop says so and returns the clients whose
	// inputs were in the last round, and its number.
	inputs := func(present bool, stop func(rep *RoundReport, in map[int]bool) bool) (map[int]bool, int) {
		cfg := Config{Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: k, OverSelect: 1, MinReports: 5,
			InsecureSeed: testSeed(101), Clip: 1, Secure: &SecureConfig{Bits: 24},
			Availability: func(_, client int, r *rand.Rand) Availability {
				if client == target {
					if present {
						return Availability{}
					}
					return Availability{Drop: DropBeforeAdvertise}
				}
				return Availability{Latency: time.Duration(1 + r.IntN(1000))}
			},
			DP: DPConfig{Mode: DPDistributed, NoiseMultiplier: 1, Delta: 1e-5}}
		srv, err := NewServer(cfg, constClients(n, d, 5), make([]float64, d))
		require.NoError(t, err)
		in := map[int]bool{}
		srv.hooks.encoded = func(_, client int, _, _ []int64) { in[client] = true }
		for {
			clear(in)
			rep, err := srv.Round()
			require.NoError(t, err)
			if stop(rep, in) {
				return in, rep.Round
			}
			require.Less(t, rep.Round, 50)
		}
	}
	// A round in which t is sampled and more than K clients report.
	with, round := inputs(true, func(rep *RoundReport, in map[int]bool) bool { return in[target] && rep.Unused > 0 })
	without, _ := inputs(false, func(rep *RoundReport, _ map[int]bool) bool { return rep.Round == round })
	require.Len(t, with, k)
	require.Len(t, without, k)
	evicted := 0
	for c := range without {
		if !with[c] {
			evicted++
		}
	}
	assert.True(t, with[target])
	assert.Equal(t, 1, evicted, "t's presence pushed exactly one other client out")
}

// One client per round is a valid plaintext run (the default MinReports
// is at most K); with secure aggregation the floor of two inputs is the
// error.
func TestOneClientPerRound(t *testing.T) {
	sh := Shape{{Name: "w", Dims: []int{2}}}
	srv, err := NewServer(Config{Shape: sh, ClientsPerRound: 1, InsecureSeed: testSeed(3)}, constClients(5, 2, 1), make([]float64, 2))
	require.NoError(t, err)
	_, err = srv.Round()
	require.NoError(t, err)
	_, err = NewServer(Config{Shape: sh, ClientsPerRound: 1, Clip: 1, Secure: &SecureConfig{}}, constClients(5, 2, 1), make([]float64, 2))
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "MinReports >= 2")
}
