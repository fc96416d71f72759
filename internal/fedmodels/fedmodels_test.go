package fedmodels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated"
	"github.com/privml/privml/internal/dataset"
)

// logLoss is -log P(y | x).
func logLoss(m Model, p, x []float64, y int) float64 {
	q := m.Prob(p, x)
	if y == 1 {
		return -math.Log(q)
	}
	return -math.Log(1 - q)
}

// The analytic gradients match central finite differences to 1e-6.
func TestGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, m := range []Model{LogReg{D: 5}, MLP{D: 5, H: 4}} {
		p := m.Init(r)
		for i := range p {
			p[i] += 0.3 * r.NormFloat64()
		}
		require.Len(t, p, m.Shape().Size())
		x := []float64{0.5, -1, 2, 0.1, -0.3}
		for _, y := range []int{0, 1} {
			g := make([]float64, len(p))
			m.AddGrad(g, p, x, y)
			for i := range p {
				const h = 1e-6
				old := p[i]
				p[i] = old + h
				up := logLoss(m, p, x, y)
				p[i] = old - h
				down := logLoss(m, p, x, y)
				p[i] = old
				assert.InDelta(t, (up-down)/(2*h), g[i], 1e-6, "%T param %d y %d", m, i, y)
			}
		}
	}
}

// A client's update is its locally trained model minus the global one,
// weighted by its rows, and lowers its local loss.
func TestClientTrain(t *testing.T) {
	d := &dataset.Dataset{Rows: 4, Cols: 1, X: []float64{-2, -1, 1, 2}, Y: []int{0, 0, 1, 1}, ClassNames: []string{"a", "b"}}
	m := LogReg{D: 1}
	c := &Client{Model: m, Data: d, Idx: []int{0, 1, 2, 3}, SGD: SGD{Epochs: 5, Batch: 2, LR: 0.5}}
	global := []float64{0, 0}
	u, err := c.Train(federated.Task{Round: 1, Global: global, Rand: rand.New(rand.NewPCG(3, 4))})
	require.NoError(t, err)
	assert.Equal(t, 4.0, u.Weight)
	assert.Equal(t, []float64{0, 0}, global, "the global model is not written")
	assert.Greater(t, u.Delta[0], 0.0, "the weight moves toward the separating direction")
	after := []float64{u.Delta[0], u.Delta[1]}
	assert.Equal(t, 1.0, Accuracy(m, after, d))
	_, err = c.Train(federated.Task{Global: []float64{0}, Rand: rand.New(rand.NewPCG(3, 4))})
	assert.Error(t, err)
}

func TestAdultSplit(t *testing.T) {
	train, test, err := AdultSplit()
	require.NoError(t, err)
	assert.Equal(t, 30162, train.Rows+test.Rows)
	assert.InDelta(t, 0.2, float64(test.Rows)/30162, 0.001)
	assert.Equal(t, 103, train.Cols) // 5 numeric + 98 one-hot (the clean rows have 7 workclass values)
}
