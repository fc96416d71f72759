package mlmodel

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGradientsMatchFiniteDifferences checks both models' analytic
// per-example gradients against central differences of the loss.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := []float64{0.3, -1.2, 0.7, 0.05}
	sm := NewSoftmax(4, 3)
	for i := range sm.W {
		sm.W[i] = rng.NormFloat64()
	}
	sq := NewMLP(4, 5, 3, 8)
	sq.Square = true
	for _, m := range []Model{sm, NewMLP(4, 5, 3, 7), sq} {
		p := m.Params()
		g := make([]float64, len(p))
		m.Gradient(g, x, 2)
		const h = 1e-6
		for k := range p {
			old := p[k]
			p[k] = old + h
			up := Loss(m, x, 2)
			p[k] = old - h
			down := Loss(m, x, 2)
			p[k] = old
			assert.InDelta(t, (up-down)/(2*h), g[k], 1e-6, "param %d of %T", k, m)
		}
	}
}

// TestTrainSGDLearnsSeparableData: two Gaussian blobs, plain SGD, > 95 %.
func TestTrainSGDLearnsSeparableData(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	var X [][]float64
	var Y []int
	for i := range 400 {
		y := i % 2
		X = append(X, []float64{rng.NormFloat64() + 3*float64(y), rng.NormFloat64()})
		Y = append(Y, y)
	}
	m := NewSoftmax(2, 2)
	TrainSGD(m, X, Y, 5, 20, 0.5, 3)
	assert.Greater(t, Accuracy(m, X, Y), 0.9)
}
