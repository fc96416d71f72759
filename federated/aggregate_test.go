package federated

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stratAllAggregators returns one of each aggregator of the package, built for
// f = 1 where it takes an f.
func stratAllAggregators(t testing.TB) []Aggregator {
	t.Helper()
	must := func(a Aggregator, err error) Aggregator { require.NoError(t, err); return a }
	return []Aggregator{
		NewWeightedMean(),
		must(NewMedian(1)),
		must(NewTrimmedMean(1)),
		must(NewTrimmedMeanFraction(0.2)),
		must(NewKrum(1)),
		must(NewMultiKrum(1, 3)),
		must(NewBulyan(1)),
		must(NewNormBound(NormBoundConfig{Bound: 1})),
		must(NewQFedAvg(QFedAvgConfig{Q: 1, ClientLearningRate: 0.1})),
	}
}

// Bad inputs from peers give errors naming the client and coordinate,
// never a panic, for every aggregator.
func TestAggregatorInputErrors(t *testing.T) {
	good := func() [][]float64 {
		u := make([][]float64, 7)
		for i := range u {
			u[i] = []float64{float64(i), 1, -float64(i)}
		}
		return u
	}
	ones := []float64{1, 1, 1, 1, 1, 1, 1}
	for _, a := range stratAllAggregators(t) {
		t.Run(a.Name(), func(t *testing.T) {
			dst := make([]float64, 3)
			require.NoError(t, a.Aggregate(dst, good(), ones))

			u := good()
			u[2][1] = math.NaN()
			err := a.Aggregate(dst, u, ones)
			require.ErrorIs(t, err, ErrInvalidUpdate)
			assert.Contains(t, err.Error(), "client 2, coordinate 1 is NaN")

			u = good()
			u[6][2] = math.Inf(1)
			err = a.Aggregate(dst, u, ones)
			require.ErrorIs(t, err, ErrInvalidUpdate)
			assert.Contains(t, err.Error(), "client 6, coordinate 2 is +Inf")

			u = good()
			u[1] = u[1][:2]
			err = a.Aggregate(dst, u, ones)
			require.ErrorIs(t, err, ErrInvalidUpdate)
			assert.Contains(t, err.Error(), "client 1 sent 2 coordinates, the model has 3")

			err = a.Aggregate(dst, nil, nil)
			require.ErrorIs(t, err, ErrInvalidUpdate)
			assert.Contains(t, err.Error(), "no client updates")

			for _, w := range []float64{-1, math.NaN(), math.Inf(1)} {
				ws := append([]float64(nil), ones...)
				ws[4] = w
				err = a.Aggregate(dst, good(), ws)
				require.ErrorIs(t, err, ErrInvalidWeight, "weight %v", w)
				assert.Contains(t, err.Error(), "client 4 has weight")
			}
			err = a.Aggregate(dst, good(), ones[:6])
			require.ErrorIs(t, err, ErrInvalidWeight)
			assert.Contains(t, err.Error(), "6 weights for 7 updates")
		})
	}
}

func TestWeightedMeanZeroWeights(t *testing.T) {
	dst := make([]float64, 1)
	err := NewWeightedMean().Aggregate(dst, [][]float64{{1}, {2}}, []float64{0, 0})
	require.ErrorIs(t, err, ErrInvalidWeight)
	assert.Contains(t, err.Error(), "sum to 0")
	err = NewWeightedMean().Aggregate(dst, [][]float64{{1}, {2}}, []float64{math.MaxFloat64, math.MaxFloat64})
	require.ErrorIs(t, err, ErrInvalidWeight)
	// nil weights: every client weighs 1; a zero weight drops a client.
	require.NoError(t, NewWeightedMean().Aggregate(dst, [][]float64{{1}, {2}}, nil))
	assert.Equal(t, []float64{1.5}, dst)
	require.NoError(t, NewWeightedMean().Aggregate(dst, [][]float64{{1}, {2}}, []float64{0, 5}))
	assert.Equal(t, []float64{2}, dst)
}

// Hand-computed q-FedAvg rounds (Li et al. 2020, Algorithm 2).
func TestQFedAvgHand(t *testing.T) {
	updates := [][]float64{{1, 0}, {0, 2}}
	dst := make([]float64, 2)

	// q = 1, η = 1 (L = 1), losses 2 and 1: coefficients F·L = 2, 1;
	// h = Σ (F⁰·L²·‖u‖² + L·F) = (1 + 2) + (4 + 1) = 8;
	// dst = (2·{1,0} + 1·{0,2})/8 = {0.25, 0.25}.
	a, err := NewQFedAvg(QFedAvgConfig{Q: 1, ClientLearningRate: 1})
	require.NoError(t, err)
	require.NoError(t, a.Aggregate(dst, updates, []float64{2, 1}))
	assert.InDeltaSlice(t, []float64{0.25, 0.25}, dst, 1e-15)

	// q = 2, η = 0.5 (L = 2): coefficients F²·L = 8, 2;
	// h = (2·2·4·1 + 2·4) + (2·1·4·4 + 2·1) = 24 + 34 = 58;
	// dst = (8·{1,0} + 2·{0,2})/58 = {8/58, 4/58}.
	a, err = NewQFedAvg(QFedAvgConfig{Q: 2, ClientLearningRate: 0.5})
	require.NoError(t, err)
	require.NoError(t, a.Aggregate(dst, updates, []float64{2, 1}))
	assert.InDeltaSlice(t, []float64{8.0 / 58, 4.0 / 58}, dst, 1e-15)

	// q = 0 is FedAvg with equal weights, whatever the losses.
	a, err = NewQFedAvg(QFedAvgConfig{ClientLearningRate: 0.01})
	require.NoError(t, err)
	require.NoError(t, a.Aggregate(dst, updates, []float64{7, 0}))
	assert.InDeltaSlice(t, []float64{0.5, 1}, dst, 1e-15)

	// The client with the higher loss gets the larger share as q grows.
	share := func(q float64) float64 {
		a, err := NewQFedAvg(QFedAvgConfig{Q: q, ClientLearningRate: 1})
		require.NoError(t, err)
		d := make([]float64, 2)
		require.NoError(t, a.Aggregate(d, [][]float64{{1, 0}, {0, 1}}, []float64{3, 1}))
		return d[0] / (d[0] + d[1])
	}
	assert.Less(t, share(0), share(1))
	assert.Less(t, share(1), share(5))
}

func TestQFedAvgErrors(t *testing.T) {
	_, err := NewQFedAvg(QFedAvgConfig{Q: -1, ClientLearningRate: 1})
	require.ErrorIs(t, err, ErrStrategyConfig)
	_, err = NewQFedAvg(QFedAvgConfig{Q: 1})
	require.ErrorIs(t, err, ErrStrategyConfig)
	assert.Contains(t, err.Error(), "client learning rate 0")

	a, err := NewQFedAvg(QFedAvgConfig{Q: 0.5, ClientLearningRate: 1})
	require.NoError(t, err)
	dst := make([]float64, 1)
	err = a.Aggregate(dst, [][]float64{{1}}, nil)
	require.ErrorIs(t, err, ErrInvalidWeight)
	assert.Contains(t, err.Error(), "losses are required")
	err = a.Aggregate(dst, [][]float64{{1}, {2}}, []float64{1, 0})
	require.ErrorIs(t, err, ErrInvalidWeight)
	assert.Contains(t, err.Error(), "client 1 has loss 0")

	b, err := NewQFedAvg(QFedAvgConfig{Q: 2, ClientLearningRate: 1})
	require.NoError(t, err)
	err = b.Aggregate(dst, [][]float64{{0}, {0}}, []float64{0, 0})
	require.ErrorIs(t, err, ErrInvalidWeight)
	assert.Contains(t, err.Error(), "normaliser")
}

// Aggregating into one of the updates would overwrite a client's input
// while it is read; it is refused.
func TestAggregatorRefusesAliasedDst(t *testing.T) {
	for _, a := range stratAllAggregators(t) {
		updates := make([][]float64, 7)
		for i := range updates {
			updates[i] = []float64{float64(i), 1}
		}
		err := a.Aggregate(updates[3], updates, []float64{1, 1, 1, 1, 1, 1, 1})
		require.ErrorIs(t, err, ErrInvalidUpdate, a.Name())
		assert.Contains(t, err.Error(), "destination is client 3's update")
	}
}

// q-FedAvg's purpose: a fairer spread of losses. Three clients have their
// optimum at 0 and one at 10 (loss ½(w − a_k)², one local step of rate
// 0.1). Equal-weight FedAvg settles at the mean 2.5, where the outlier's
// loss is ½·7.5² ≈ 28.1. q-FedAvg with q = 2 settles where
// Σ F_k²·∇F_k = 0, that is 3·(w²/2)²·w = ((10−w)²/2)²·(10−w), so
// w/(10−w) = 3^(−1/5) and w = 10·3^(−1/5)/(1 + 3^(−1/5)) ≈ 4.453, where
// the largest loss is ≈ 15.4.
func TestQFedAvgMultiRoundFairness(t *testing.T) {
	optima := [][]float64{{0}, {0}, {0}, {10}}
	run := func(q float64) float64 {
		a, err := NewQFedAvg(QFedAvgConfig{Q: q, ClientLearningRate: 0.1})
		require.NoError(t, err)
		opt, err := NewFedAvg()
		require.NoError(t, err)
		w := []float64{1}
		delta := make([]float64, 1)
		losses := make([]float64, len(optima))
		for range 2000 {
			for k, o := range optima {
				losses[k] = (w[0] - o[0]) * (w[0] - o[0]) / 2
			}
			require.NoError(t, a.Aggregate(delta, stratQuadUpdates(w, optima, 0.1, 1), losses))
			require.NoError(t, opt.Step(w, delta))
		}
		return w[0]
	}
	assert.InDelta(t, 2.5, run(0), 1e-9)
	r := math.Pow(3, -0.2)
	fair := run(2)
	assert.InDelta(t, 10*r/(1+r), fair, 1e-6)
	worst := func(w float64) float64 { return (10 - w) * (10 - w) / 2 }
	assert.Less(t, worst(fair), 0.6*worst(2.5))
}
