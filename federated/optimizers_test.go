package federated

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A hand-computed FedAvg round: two clients with weights 1 and 3.
func TestFedAvgHandRound(t *testing.T) {
	updates := [][]float64{{1, 2}, {3, 6}}
	delta := make([]float64, 2)
	require.NoError(t, NewWeightedMean().Aggregate(delta, updates, []float64{1, 3}))
	// (1·1 + 3·3)/4 = 2.5, (1·2 + 3·6)/4 = 5.
	assert.Equal(t, []float64{2.5, 5}, delta)

	opt, err := NewFedAvg()
	require.NoError(t, err)
	global := []float64{10, 10}
	require.NoError(t, opt.Step(global, delta))
	assert.Equal(t, []float64{12.5, 15}, global)

	half, err := NewFedAvg(WithServerLearningRate(0.5))
	require.NoError(t, err)
	global = []float64{10, 10}
	require.NoError(t, half.Step(global, delta))
	assert.Equal(t, []float64{11.25, 12.5}, global)
	assert.Equal(t, "fedavg", half.Name())
	assert.Equal(t, "fedavg(eta=0.5)", half.String())
}

// quadClients simulates clients whose loss is ½‖w − a_k‖²: k local
// gradient steps with rate lr from w give the update
// (1 − (1−lr)^k)·(a_k − w).
func stratQuadUpdates(w []float64, optima [][]float64, lr float64, steps int) [][]float64 {
	c := 1 - math.Pow(1-lr, float64(steps))
	out := make([][]float64, len(optima))
	for k, a := range optima {
		out[k] = make([]float64, len(w))
		for j := range w {
			out[k][j] = c * (a[j] - w[j])
		}
	}
	return out
}

// FedAvg over several rounds of quadratic clients: the model approaches
// the weighted mean ā of the optima as w_R − ā = (1−c)^R·(w_0 − ā).
func TestFedAvgMultiRound(t *testing.T) {
	optima := [][]float64{{0, 4}, {2, 0}, {6, 8}}
	weights := []float64{1, 2, 1}
	abar := []float64{(0 + 4 + 6) / 4.0, (4 + 0 + 8) / 4.0} // {2.5, 3}
	const lr, steps, rounds = 0.1, 5, 6
	c := 1 - math.Pow(1-lr, steps)

	opt, err := NewFedAvg()
	require.NoError(t, err)
	w := []float64{-1, 1}
	w0 := append([]float64(nil), w...)
	delta := make([]float64, 2)
	for range rounds {
		require.NoError(t, NewWeightedMean().Aggregate(delta, stratQuadUpdates(w, optima, lr, steps), weights))
		require.NoError(t, opt.Step(w, delta))
	}
	for j := range w {
		want := abar[j] + math.Pow(1-c, rounds)*(w0[j]-abar[j])
		assert.InDelta(t, want, w[j], 1e-12, "coordinate %d", j)
	}
}

// Three hand-computed FedAvgM rounds with β = 0.9:
// Δ = 1, 0.5, −1 gives v = 1, 1.4, 0.26 and, with η = 1, x = 1, 2.4, 2.66.
func TestFedAvgMHandRounds(t *testing.T) {
	for _, tc := range []struct {
		eta  float64
		want []float64
	}{
		{1, []float64{1, 2.4, 2.66}},
		{0.5, []float64{0.5, 1.2, 1.33}},
	} {
		opt, err := NewFedAvgM(WithServerLearningRate(tc.eta))
		require.NoError(t, err)
		x := []float64{0}
		for r, d := range []float64{1, 0.5, -1} {
			require.NoError(t, opt.Step(x, []float64{d}))
			assert.InDelta(t, tc.want[r], x[0], 1e-12, "eta %v round %d", tc.eta, r+1)
		}
	}
	opt, err := NewFedAvgM(WithMomentum(0))
	require.NoError(t, err)
	x := []float64{3}
	require.NoError(t, opt.Step(x, []float64{2}))
	require.NoError(t, opt.Step(x, []float64{2}))
	assert.Equal(t, []float64{7}, x, "momentum 0 is FedAvg")
}

// Three rounds of Reddi et al.'s Algorithm 2 on a two-coordinate model.
// Round 1 of FedAdam by hand, coordinate 0: m = 0.1·0.5 = 0.05,
// v = 0.99·10⁻⁶ + 0.01·0.25 = 0.00250099, x = 1 + 0.1·0.05/(√v + 10⁻³)
// = 1.09802019…; the other values come from an independent script of the
// same algorithm (m = 0, v = τ² at the start, no bias correction).
func TestFedOptHandRounds(t *testing.T) {
	deltas := [][]float64{{0.5, -0.25}, {0.1, 0.3}, {-0.2, 0}}
	cases := []struct {
		name string
		new  func(...OptimizerOption) (*FedOpt, error)
		want [][]float64
	}{
		{"fedadam", NewFedAdam, [][]float64{
			{1.0980201901209485, -2.09608070595291},
			{1.204291934766376, -2.0773230696399634},
			{1.257621960616274, -2.0603582867087575}}},
		{"fedyogi", NewFedYogi, [][]float64{
			{1.00980199980004, -2.0096079968025573},
			{1.020378922876963, -2.0077359943450532},
			{1.0256674256073852, -2.0060511921332997}}},
		{"fedadagrad", NewFedAdagrad, [][]float64{
			{1.0998001999998, -2.0996007999968},
			{1.119373389689762, -2.0229751414731214},
			{1.0829251583314063, -2.0229751414731214}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt, err := tc.new()
			require.NoError(t, err)
			assert.Equal(t, tc.name, opt.Name())
			x := []float64{1, -2}
			for r, d := range deltas {
				require.NoError(t, opt.Step(x, d))
				assert.InDeltaSlice(t, tc.want[r], x, 1e-13, "round %d", r+1)
			}
		})
	}
}

func TestFedOptString(t *testing.T) {
	a, err := NewFedAdam()
	require.NoError(t, err)
	assert.Equal(t, "fedadam(eta=0.1 beta1=0.9 beta2=0.99 tau=0.001)", a.String())
	y, err := NewFedYogi(WithTau(1e-6))
	require.NoError(t, err)
	assert.Equal(t, "fedyogi(eta=0.01 beta1=0.9 beta2=0.99 tau=1e-06)", y.String())
	g, err := NewFedAdagrad()
	require.NoError(t, err)
	assert.Equal(t, "fedadagrad(eta=0.1 beta1=0 tau=0.001)", g.String())
	m, err := NewFedAvgM()
	require.NoError(t, err)
	assert.Equal(t, "fedavgm(eta=1 momentum=0.9)", m.String())
}

// Every server optimizer, fed FedAvg's aggregate of quadratic clients for
// many rounds, brings the model to the weighted mean of the optima (the
// minimiser of the weighted global loss). Adaptive methods with a constant
// η oscillate in a band of width about η around it; the tolerance allows
// for that.
func TestServerOptimizersConverge(t *testing.T) {
	optima := [][]float64{{0, 4, -3}, {2, 0, -1}, {6, 8, 1}, {1, 1, 1}}
	weights := []float64{1, 2, 1, 4}
	abar := make([]float64, 3)
	for k, a := range optima {
		for j := range abar {
			abar[j] += weights[k] * a[j] / 8
		}
	}
	mk := func(o ServerOptimizer, err error) ServerOptimizer { require.NoError(t, err); return o }
	cases := []struct {
		opt    ServerOptimizer
		rounds int
		tol    float64
	}{
		{mk(NewFedAvg()), 100, 1e-9},
		{mk(NewFedAvgM(WithMomentum(0.5))), 200, 1e-9},
		{mk(NewFedAdam(WithServerLearningRate(0.05))), 600, 0.05},
		{mk(NewFedYogi(WithServerLearningRate(0.05))), 600, 0.05},
		{mk(NewFedAdagrad(WithServerLearningRate(1))), 600, 0.05},
	}
	for _, tc := range cases {
		t.Run(tc.opt.Name(), func(t *testing.T) {
			w := []float64{10, -10, 5}
			delta := make([]float64, 3)
			for range tc.rounds {
				require.NoError(t, NewWeightedMean().Aggregate(delta, stratQuadUpdates(w, optima, 0.1, 3), weights))
				require.NoError(t, tc.opt.Step(w, delta))
			}
			assert.InDeltaSlice(t, abar, w, tc.tol)
		})
	}
}

func TestOptimizerOptionsChecked(t *testing.T) {
	bad := []struct {
		name string
		err  error
		msg  string
	}{
		{"lr0", func() error { _, err := NewFedAvg(WithServerLearningRate(0)); return err }(), "learning rate 0"},
		{"lrNaN", func() error { _, err := NewFedAdam(WithServerLearningRate(math.NaN())); return err }(), "NaN"},
		{"lrInf", func() error { _, err := NewFedYogi(WithServerLearningRate(math.Inf(1))); return err }(), "+Inf"},
		{"momentum1", func() error { _, err := NewFedAvgM(WithMomentum(1)); return err }(), "momentum 1"},
		{"momentumNeg", func() error { _, err := NewFedAvgM(WithMomentum(-0.1)); return err }(), "momentum -0.1"},
		{"beta1", func() error { _, err := NewFedAdam(WithBeta1(1)); return err }(), "beta1 1"},
		{"beta2", func() error { _, err := NewFedYogi(WithBeta2(math.NaN())); return err }(), "beta2 NaN"},
		{"tau0", func() error { _, err := NewFedAdagrad(WithTau(0)); return err }(), "tau 0"},
		{"momentumOnFedAvg", func() error { _, err := NewFedAvg(WithMomentum(0.9)); return err }(), "momentum does not apply"},
		{"beta2OnAdagrad", func() error { _, err := NewFedAdagrad(WithBeta2(0.9)); return err }(), "beta2 does not apply"},
		{"tauOnFedAvgM", func() error { _, err := NewFedAvgM(WithTau(0.1)); return err }(), "tau does not apply"},
		{"nil", func() error { _, err := NewFedAdam(nil); return err }(), "nil option"},
	}
	for _, tc := range bad {
		require.ErrorIs(t, tc.err, ErrStrategyConfig, tc.name)
		assert.Contains(t, tc.err.Error(), tc.msg, tc.name)
	}
}

// A bad Step leaves the model and the optimizer state unchanged.
func TestOptimizerStepErrors(t *testing.T) {
	mk := func(o ServerOptimizer, err error) ServerOptimizer { require.NoError(t, err); return o }
	for _, opt := range []ServerOptimizer{mk(NewFedAvg()), mk(NewFedAvgM()), mk(NewFedAdam()), mk(NewFedYogi()), mk(NewFedAdagrad())} {
		t.Run(opt.Name(), func(t *testing.T) {
			global := []float64{1, 2, 3}
			require.NoError(t, opt.Step(global, []float64{0.1, 0.2, 0.3}))
			snapshot := append([]float64(nil), global...)

			err := opt.Step(global, []float64{0.1, math.NaN(), 0})
			require.ErrorIs(t, err, ErrInvalidUpdate)
			assert.Contains(t, err.Error(), "coordinate 1 is NaN")
			err = opt.Step(global, []float64{0.1, 0, math.Inf(-1)})
			require.ErrorIs(t, err, ErrInvalidUpdate)
			assert.Contains(t, err.Error(), "coordinate 2 is -Inf")
			err = opt.Step(global, []float64{0.1})
			require.ErrorIs(t, err, ErrInvalidUpdate)
			assert.Contains(t, err.Error(), "1 coordinates, the model has 3")
			err = opt.Step([]float64{math.NaN(), 0, 0}, []float64{0, 0, 0})
			require.ErrorIs(t, err, ErrInvalidUpdate)
			assert.Contains(t, err.Error(), "global model coordinate 0")
			assert.Equal(t, snapshot, global)

			// The state did not move either: the next good step equals
			// the one a fresh twin takes after the same good history.
			twin := mk(map[string]func() (ServerOptimizer, error){
				"fedavg":     func() (ServerOptimizer, error) { return NewFedAvg() },
				"fedavgm":    func() (ServerOptimizer, error) { return NewFedAvgM() },
				"fedadam":    func() (ServerOptimizer, error) { return NewFedAdam() },
				"fedyogi":    func() (ServerOptimizer, error) { return NewFedYogi() },
				"fedadagrad": func() (ServerOptimizer, error) { return NewFedAdagrad() },
			}[opt.Name()]())
			g2 := []float64{1, 2, 3}
			require.NoError(t, twin.Step(g2, []float64{0.1, 0.2, 0.3}))
			require.NoError(t, twin.Step(g2, []float64{-0.3, 0.1, 0.2}))
			require.NoError(t, opt.Step(global, []float64{-0.3, 0.1, 0.2}))
			assert.Equal(t, g2, global)
		})
	}
}

// Stateful optimizers fix the model dimension at the first step.
func TestOptimizerDimensionLock(t *testing.T) {
	m, err := NewFedAvgM()
	require.NoError(t, err)
	a, err := NewFedAdam()
	require.NoError(t, err)
	for _, o := range []interface {
		ServerOptimizer
		Reset()
	}{m, a} {
		require.NoError(t, o.Step([]float64{0, 0}, []float64{1, 1}))
		err := o.Step([]float64{0, 0, 0}, []float64{1, 1, 1})
		require.ErrorIs(t, err, ErrInvalidUpdate, o.Name())
		assert.Contains(t, err.Error(), "earlier rounds had 2")
		o.Reset()
		assert.NoError(t, o.Step([]float64{0, 0, 0}, []float64{1, 1, 1}), o.Name())
	}
	// Reset really forgets: after it FedAdam's first step is the same as a
	// fresh optimizer's.
	a.Reset()
	x := []float64{1, -2}
	require.NoError(t, a.Step(x, []float64{0.5, -0.25}))
	assert.InDeltaSlice(t, []float64{1.0980201901209485, -2.09608070595291}, x, 1e-13)
	assert.False(t, errors.Is(nil, ErrInvalidUpdate))
}

func TestNewServerOptimizer(t *testing.T) {
	for _, name := range []string{"fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad"} {
		o, err := NewServerOptimizer(name)
		require.NoError(t, err)
		assert.Equal(t, name, o.Name())
	}
	o, err := NewServerOptimizer("fedadam", WithTau(1e-9))
	require.NoError(t, err)
	assert.Equal(t, "fedadam(eta=0.1 beta1=0.9 beta2=0.99 tau=1e-09)", o.(*FedOpt).String())
	_, err = NewServerOptimizer("fedavg", WithBeta2(0.9))
	require.ErrorIs(t, err, ErrStrategyConfig)
	// A nil *T inside a non-nil interface would be a trap: errors give a
	// nil interface.
	o, _ = NewServerOptimizer("fedavg", WithBeta2(0.9))
	assert.True(t, o == nil, "want a nil interface, got %#v", o)
	_, err = NewServerOptimizer("sgd")
	require.ErrorIs(t, err, ErrStrategyConfig)
	assert.Contains(t, err.Error(), `"sgd"`)
}
