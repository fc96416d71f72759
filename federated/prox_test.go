package federated

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProxGradientHand(t *testing.T) {
	grad := []float64{1, -1, 0.5}
	w := []float64{2, 0, -1}
	global := []float64{1, 1, -1}
	// grad + 0.5·(w − global) = {1 + 0.5, -1 − 0.5, 0.5 + 0}.
	require.NoError(t, ProxGradient(grad, w, global, 0.5))
	assert.Equal(t, []float64{1.5, -1.5, 0.5}, grad)

	term, err := ProxTerm(w, global, 0.5)
	require.NoError(t, err)
	// 0.5/2 · (1 + 1 + 0) = 0.5.
	assert.Equal(t, 0.5, term)

	g0 := []float64{3, 4}
	require.NoError(t, ProxGradient(g0, []float64{9, 9}, []float64{0, 0}, 0))
	assert.Equal(t, []float64{3, 4}, g0, "mu = 0 is plain local training")
	require.NoError(t, ProxGradient(nil, nil, nil, 1))
}

// Local gradient descent on F(w) = ½‖w − a‖² with the proximal term
// converges to the minimiser of F(w) + (μ/2)‖w − g‖², which is
// (a + μ·g)/(1 + μ): FedProx pulls the local model toward the global one.
func TestProxGradientLocalTraining(t *testing.T) {
	a := []float64{4, -2, 1}
	g := []float64{0, 0, 3}
	for _, mu := range []float64{0, 0.1, 1, 10} {
		w := append([]float64(nil), g...)
		lr := 0.5 / (1 + mu)
		grad := make([]float64, len(w))
		for range 500 {
			for j := range w {
				grad[j] = w[j] - a[j]
			}
			require.NoError(t, ProxGradient(grad, w, g, mu))
			for j := range w {
				w[j] -= lr * grad[j]
			}
		}
		for j := range w {
			assert.InDelta(t, (a[j]+mu*g[j])/(1+mu), w[j], 1e-9, "mu %v coordinate %d", mu, j)
		}
	}
}

func TestProxGradientErrors(t *testing.T) {
	grad := []float64{1, 2}
	err := ProxGradient(grad, []float64{1, 2}, []float64{1}, 0.1)
	require.ErrorIs(t, err, ErrInvalidUpdate)
	assert.Contains(t, err.Error(), "gradient 2, local model 2, global model 1")
	for _, mu := range []float64{-1, math.NaN(), math.Inf(1)} {
		err = ProxGradient(grad, []float64{1, 2}, []float64{1, 2}, mu)
		require.ErrorIs(t, err, ErrStrategyConfig, "mu %v", mu)
	}
	err = ProxGradient(grad, []float64{1, math.Inf(1)}, []float64{1, 2}, 0.1)
	require.ErrorIs(t, err, ErrInvalidUpdate)
	assert.Contains(t, err.Error(), "local model coordinate 1 is +Inf")
	err = ProxGradient(grad, []float64{1, 2}, []float64{math.NaN(), 2}, 0.1)
	assert.Contains(t, err.Error(), "global model coordinate 0 is NaN")
	assert.Equal(t, []float64{1, 2}, grad, "grad unchanged on error")
	_, err = ProxTerm([]float64{1}, []float64{1, 2}, 1)
	require.ErrorIs(t, err, ErrInvalidUpdate)
}
