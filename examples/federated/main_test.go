package main

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/dp/accounting"
	"github.com/privml/privml/federated"
)

func runJSON(t *testing.T, args ...string) summary {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, run(append(args, "-json"), &out))
	var s summary
	require.NoError(t, json.Unmarshal(out.Bytes(), &s), out.String())
	// The required keys are present under their exact names.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &raw))
	for _, k := range []string{"rounds", "clients", "clients_per_round", "dp_mode", "secure_aggregation", "epsilon",
		"delta", "final_accuracy", "baseline_accuracy", "dropouts_total", "wall_ms"} {
		assert.Contains(t, raw, k)
	}
	return s
}

// A small distributed-DP run: every round through secure aggregation, the
// epsilon it prints is what `privml dp epsilon` computes for the same
// parameters (accounting.PoissonGaussianEpsilon, default RDP settings),
// and the model beats the majority class (75.1% of the test rows).
func TestSmallDistributedRun(t *testing.T) {
	s := runJSON(t, "-clients", "120", "-rounds", "6", "-clients-per-round", "30", "-epsilon", "8", "-insecure-seed", "3")
	assert.Equal(t, "distributed", s.DPMode)
	assert.True(t, s.SecureAggregation)
	require.NotNil(t, s.Epsilon)
	want, _, err := accounting.PoissonGaussianEpsilon(30.0/120, s.NoiseMultiplier, 6, 1e-5, accounting.RDPConfig{})
	require.NoError(t, err)
	assert.Equal(t, want, *s.Epsilon)
	assert.LessOrEqual(t, *s.Epsilon, 8.0)
	// Modular clipping's share of delta, on top of the accountant's.
	assert.Equal(t, 1e-5, s.Delta)
	assert.InDelta(t, 6*(1+math.Exp(*s.Epsilon))*federated.TailBound, s.DeltaTail, 1e-20)
	// Against the server: the Gaussian mechanism over the most sums.
	require.NotNil(t, s.ServerEpsilon)
	require.Positive(t, s.MostInSums)
	se, err := federated.Epsilon(1, s.NoiseMultiplier, s.MostInSums, 1e-5)
	require.NoError(t, err)
	assert.Equal(t, se, *s.ServerEpsilon)
	assert.Greater(t, s.FinalAccuracy, 0.77)
	assert.Greater(t, s.BaselineAccuracy, 0.83)
	assert.Len(t, s.History, 6)
	assert.Positive(t, s.DropoutsTotal)
	// Epsilon grows round by round.
	for i := 1; i < len(s.History); i++ {
		assert.Greater(t, *s.History[i].Epsilon, *s.History[i-1].Epsilon)
	}
}

// The same seed gives the same run, bit for bit.
func TestRunIsRepeatable(t *testing.T) {
	args := []string{"-clients", "60", "-rounds", "3", "-clients-per-round", "20", "-insecure-seed", "9", "-dp", "central"}
	a, b := runJSON(t, args...), runJSON(t, args...)
	a.WallMS, b.WallMS = 0, 0
	assert.Equal(t, a, b)
}

func TestNoDPRun(t *testing.T) {
	s := runJSON(t, "-clients", "60", "-rounds", "3", "-clients-per-round", "20", "-dp", "none", "-insecure-seed", "4")
	assert.Nil(t, s.Epsilon)
	assert.True(t, s.SecureAggregation)
	assert.Equal(t, uint(32), s.Bits)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-dp", "local"}, {"-clients", "1"}, {"-clients-per-round", "900"}, {"-dropout", "1"},
		{"-strategy", "sgd"}, {"-model", "forest"}, {"extra"}, {"-threat", "paranoid"}, {"-over-select", "-1"},
	} {
		var out bytes.Buffer
		assert.Error(t, run(args, &out), "%v", args)
	}
}

// Over-selection, simulated latency and a deadline: late clients count as
// dropouts, never more than clients-per-round updates reach a round's sum,
// and central DP with adaptive clipping still accounts the same epsilon.
func TestDeadlineAdaptiveRun(t *testing.T) {
	s := runJSON(t, "-clients", "100", "-rounds", "3", "-clients-per-round", "20", "-over-select", "0.5",
		"-latency", "1s", "-deadline", "2s", "-dp", "central", "-adaptive", "-insecure-seed", "5")
	assert.True(t, s.SecureAggregation)
	assert.Equal(t, 0.3, s.SamplingRate)
	want, _, err := accounting.PoissonGaussianEpsilon(0.3, s.NoiseMultiplier, 3, 1e-5, accounting.RDPConfig{})
	require.NoError(t, err)
	assert.Equal(t, want, *s.Epsilon)
	// P(latency > deadline) = e^-2 = 0.135 of ~30 sampled a round.
	assert.Positive(t, s.DropoutsTotal)
}

// Every -strategy runs with the package's server optimizer of that name;
// FedAvg and FedAvgM (server rate 1) learn within four rounds, and the
// adaptive optimizers (server rate 0.1 or 0.01) take steps of their own.
func TestStrategies(t *testing.T) {
	acc := map[string]float64{}
	for _, name := range []string{"fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad"} {
		s := runJSON(t, "-dp", "none", "-clients", "60", "-rounds", "4", "-clients-per-round", "20", "-strategy", name, "-insecure-seed", "1")
		assert.Equal(t, name, s.Strategy)
		assert.Greater(t, s.FinalAccuracy, 0.70, name)
		acc[name] = s.FinalAccuracy
	}
	assert.Greater(t, acc["fedavg"], 0.80)
	assert.Greater(t, acc["fedavgm"], 0.80)
	assert.NotEqual(t, acc["fedadam"], acc["fedyogi"])
}
