package federated

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
)

// meanClients are clients whose update moves the model to their own
// target: one FedAvg round with server rate 1 lands on the weighted mean
// of the targets of the clients that reported.
func meanClients(n, d int, seed uint64) ([]Client, [][]float64, []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	targets := make([][]float64, n)
	weights := make([]float64, n)
	clients := make([]Client, n)
	for i := range n {
		targets[i] = make([]float64, d)
		for j := range d {
			targets[i][j] = r.NormFloat64() * 0.1
		}
		weights[i] = float64(1 + r.IntN(5))
		t, w := targets[i], weights[i]
		clients[i] = ClientFunc(func(task Task) (Update, error) {
			u := make([]float64, len(t))
			for j := range t {
				u[j] = t[j] - task.Global[j]
			}
			return Update{Delta: u, Weight: w}, nil
		})
	}
	return clients, targets, weights
}

func testSeed(b byte) *[32]byte {
	var s [32]byte
	s[0] = b
	return &s
}

// recordTrained wraps clients to record which ones trained.
func recordTrained(clients []Client, trained map[int]bool) []Client {
	out := make([]Client, len(clients))
	for i, c := range clients {
		out[i] = ClientFunc(func(task Task) (Update, error) {
			trained[i] = true
			return c.Train(task)
		})
	}
	return out
}

func plainMeanOf(ids []int, targets [][]float64, weights []float64) []float64 {
	d := len(targets[0])
	m := make([]float64, d)
	tot := 0.0
	for _, i := range ids {
		for j := range d {
			m[j] += weights[i] * targets[i][j]
		}
		tot += weights[i]
	}
	for j := range m {
		m[j] /= tot
	}
	return m
}

func TestPlainRoundIsWeightedMean(t *testing.T) {
	const n, d = 40, 7
	clients, targets, weights := meanClients(n, d, 1)
	trained := map[int]bool{}
	cfg := Config{Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: 10, InsecureSeed: testSeed(1), Workers: 1}
	srv, err := NewServer(cfg, recordTrained(clients, trained), make([]float64, d))
	require.NoError(t, err)
	rep, err := srv.Round()
	require.NoError(t, err)
	var ids []int
	for i := range n {
		if trained[i] {
			ids = append(ids, i)
		}
	}
	require.Equal(t, rep.Sampled, len(ids))
	require.Equal(t, rep.Reports, len(ids))
	want := plainMeanOf(ids, targets, weights)
	assert.InDeltaSlice(t, want, srv.Model(), 1e-12)
}

// A secure round (real SecAgg+ state machines) with dropouts at every
// step gives the weighted mean of the clients whose input reached the
// sum, within the fixed-point rounding error.
func TestSecureRoundWithDropouts(t *testing.T) {
	const n, d = 60, 9
	clients, targets, weights := meanClients(n, d, 2)
	var fates = map[int]DropStep{}
	cfg := Config{
		Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: 30, InsecureSeed: testSeed(2),
		Clip: 10, Secure: &SecureConfig{Bits: 40, MaxWeight: 8, DropoutRate: 0.6},
		Availability: func(round, client int, r *rand.Rand) Availability {
			a := Simulated(0.3, 0)(round, client, r)
			fates[client] = a.Drop
			return a
		},
		MinReports: 5, Workers: 1,
	}
	srv, err := NewServer(cfg, clients, make([]float64, d))
	require.NoError(t, err)
	var sums [][]int64
	srv.hooks.serverSum = func(_ int, s []int64) { sums = append(sums, append([]int64(nil), s...)) }
	rep, err := srv.Round()
	require.NoError(t, err)
	require.True(t, rep.Secure)
	require.Len(t, sums, 1, "the server unmasked exactly one sum")
	var in []int
	steps := map[DropStep]int{}
	for c, f := range fates {
		steps[f]++
		if f.reported() {
			in = append(in, c)
		}
	}
	require.Positive(t, steps[DropBeforeShare]+steps[DropBeforeInput]+steps[DropBeforeUnmask], "some dropouts mid-protocol")
	assert.Equal(t, len(in), rep.Reports)
	assert.Equal(t, rep.Sampled-len(in), rep.Dropouts)
	want := plainMeanOf(in, targets, weights)
	// 40 bits, ~30 clients: Scale ~ 2^34/10, rounding error far below 1e-6.
	assert.InDeltaSlice(t, want, srv.Model(), 1e-6)
}

func TestSecureRoundBelowMinimumIsNotUnmasked(t *testing.T) {
	const n, d = 20, 4
	clients, _, _ := meanClients(n, d, 3)
	cfg := Config{
		Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: 10, InsecureSeed: testSeed(3),
		Clip: 1, Secure: &SecureConfig{Bits: 32, DropoutRate: 0.4},
		// Only every third client sends its input: fewer than 8 inputs.
		Availability: func(_, client int, _ *rand.Rand) Availability {
			if client%3 == 0 {
				return Availability{}
			}
			return Availability{Drop: DropBeforeInput}
		},
		MinReports: 8,
	}
	srv, err := NewServer(cfg, clients, make([]float64, d))
	require.NoError(t, err)
	unmasked := 0
	srv.hooks.serverSum = func(int, []int64) { unmasked++ }
	rep, err := srv.Round()
	require.NoError(t, err)
	assert.True(t, rep.Skipped)
	assert.Zero(t, unmasked)
	assert.Equal(t, make([]float64, d), srv.Model())
}

func TestMaliciousThreatRound(t *testing.T) {
	const n, d = 30, 5
	clients, targets, weights := meanClients(n, d, 4)
	cfg := Config{
		Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: 15, InsecureSeed: testSeed(4),
		Clip: 10, Secure: &SecureConfig{Bits: 40, MaxWeight: 8, Threat: secagg.Malicious}, Workers: 1,
	}
	trained := map[int]bool{}
	srv, err := NewServer(cfg, recordTrained(clients, trained), make([]float64, d))
	require.NoError(t, err)
	rep, err := srv.Round()
	require.NoError(t, err)
	require.True(t, rep.Secure)
	var ids []int
	for i := range n {
		if trained[i] {
			ids = append(ids, i)
		}
	}
	assert.InDeltaSlice(t, plainMeanOf(ids, targets, weights), srv.Model(), 1e-6)
}

func TestDeadlineAndOverSelection(t *testing.T) {
	const n, d = 200, 3
	clients, _, _ := meanClients(n, d, 5)
	cfg := Config{
		Shape: Shape{{Name: "w", Dims: []int{d}}}, ClientsPerRound: 20, OverSelect: 0.5,
		InsecureSeed: testSeed(5), Deadline: 100 * time.Millisecond,
		Availability: Simulated(0, 60*time.Millisecond),
	}
	srv, err := NewServer(cfg, clients, make([]float64, d))
	require.NoError(t, err)
	assert.InDelta(t, 0.15, srv.SamplingRate(), 1e-12)
	late, unused := 0, 0
	for range 20 {
		rep, err := srv.Round()
		require.NoError(t, err)
		assert.LessOrEqual(t, rep.Reports, 20, "never more than K reports")
		assert.Equal(t, rep.Sampled, rep.Reports+rep.Dropouts+rep.Unused)
		late += rep.Late
		unused += rep.Unused
	}
	// P(latency > 100ms) = exp(-100/60) = 0.19 of ~30 sampled per round.
	assert.Greater(t, late, 20)
	assert.Positive(t, unused)
}

func TestConfigErrors(t *testing.T) {
	clients, _, _ := meanClients(10, 3, 6)
	sh := Shape{{Name: "w", Dims: []int{3}}}
	bad := []Config{
		{Shape: sh}, // no K
		{Shape: sh, ClientsPerRound: 3, Fraction: 0.5},
		{Shape: sh, ClientsPerRound: 11},
		{Shape: sh, ClientsPerRound: 3, Secure: &SecureConfig{}},                // no clip
		{Shape: sh, ClientsPerRound: 3, Clip: 1, DP: DPConfig{Mode: DPCentral}}, // no z
		{Shape: sh, ClientsPerRound: 3, Clip: 1, DP: DPConfig{Mode: DPDistributed, NoiseMultiplier: 1, Delta: 1e-5}},
		{Shape: sh, ClientsPerRound: 3, Clip: math.NaN()},
		{Shape: Shape{{Name: "w", Dims: []int{0}}}, ClientsPerRound: 3},
	}
	for i, c := range bad {
		_, err := NewServer(c, clients, make([]float64, 3))
		assert.ErrorIs(t, err, ErrConfig, "config %d", i)
	}
	_, err := NewServer(Config{Shape: sh, ClientsPerRound: 3}, clients, make([]float64, 4))
	assert.ErrorIs(t, err, ErrConfig)
}

func TestBadClientUpdate(t *testing.T) {
	clients := make([]Client, 4)
	for i := range clients {
		clients[i] = ClientFunc(func(task Task) (Update, error) {
			return Update{Delta: []float64{math.NaN(), 0}, Weight: 1}, nil
		})
	}
	srv, err := NewServer(Config{Shape: Shape{{Name: "w", Dims: []int{2}}}, Fraction: 1}, clients, make([]float64, 2))
	require.NoError(t, err)
	_, err = srv.Round()
	require.ErrorIs(t, err, ErrClient)
	assert.Contains(t, err.Error(), "coordinate 0 is NaN")
}

// In the malicious model the round's MinReports becomes the secagg
// session's MinInputs, which the server and every client enforce (the
// clients' refusal is attacked in package secagg): the sum stays masked and
// the round is skipped.
func TestMaliciousClientsRefuseSmallSurvivorSet(t *testing.T) {
	const n, d = 24, 3
	clients, _, _ := meanClients(n, d, 7)
	cfg := Config{
		Shape: Shape{{Name: "w", Dims: []int{d}}}, Fraction: 1, InsecureSeed: testSeed(7),
		Clip: 1, Secure: &SecureConfig{Bits: 32, Threat: secagg.Malicious, DropoutRate: 0.3},
		Availability: func(_, client int, _ *rand.Rand) Availability {
			if client < 16 {
				return Availability{}
			}
			return Availability{Drop: DropBeforeInput}
		},
		MinReports: 20,
	}
	srv, err := NewServer(cfg, clients, make([]float64, d))
	require.NoError(t, err)
	unmasked := 0
	srv.hooks.serverSum = func(int, []int64) { unmasked++ }
	rep, err := srv.Round()
	require.NoError(t, err)
	assert.True(t, rep.Skipped)
	assert.Contains(t, rep.SkipReason, "MinInputs=20")
	assert.Zero(t, unmasked)
}

func TestBadClientUpdates(t *testing.T) {
	for name, u := range map[string]Update{
		"wrong length":    {Delta: []float64{1, 2, 3}, Weight: 1},
		"negative weight": {Delta: []float64{1, 2}, Weight: -1},
		"infinite":        {Delta: []float64{math.Inf(1), 2}, Weight: 1},
	} {
		clients := make([]Client, 3)
		for i := range clients {
			clients[i] = ClientFunc(func(Task) (Update, error) { return u, nil })
		}
		srv, err := NewServer(Config{Shape: Shape{{Name: "w", Dims: []int{2}}}, Fraction: 1}, clients, make([]float64, 2))
		require.NoError(t, err)
		_, err = srv.Round()
		require.ErrorIs(t, err, ErrClient, name)
		assert.Contains(t, err.Error(), "client 0", name)
	}
}

// The clipped fraction counts the raw updates above the bound: clients
// with even ids send norm 2, odd ids norm 0.5, bound 1.
func TestClippedFraction(t *testing.T) {
	for _, secure := range []bool{false, true} {
		clients := make([]Client, 20)
		for i := range clients {
			v := 0.5
			if i%2 == 0 {
				v = 2
			}
			clients[i] = ClientFunc(func(Task) (Update, error) { return Update{Delta: []float64{v, 0}, Weight: 1}, nil })
		}
		cfg := Config{Shape: Shape{{Name: "w", Dims: []int{2}}}, Fraction: 1, Clip: 1, InsecureSeed: testSeed(8)}
		if secure {
			cfg.Secure = &SecureConfig{}
		}
		srv, err := NewServer(cfg, clients, make([]float64, 2))
		require.NoError(t, err)
		rep, err := srv.Round()
		require.NoError(t, err)
		assert.Equal(t, 0.5, rep.Clipped, "secure=%v", secure)
		assert.Equal(t, secure, rep.Secure)
		// Mean of ten 1s (clipped 2s) and ten 0.5s.
		assert.InDelta(t, 0.75, srv.Model()[0], 1e-6, "secure=%v", secure)
	}
}
