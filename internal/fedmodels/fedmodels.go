// Package fedmodels holds what the federated example and benchmarks share:
// binary logistic regression and a one-hidden-layer MLP over flat
// []float64 parameter vectors, a local-SGD [federated.Client] for them,
// centralized training for the non-private baseline, and the Adult
// train/test split they run on.
package fedmodels

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/privml/privml/federated"
	"github.com/privml/privml/internal/dataset"
)

// Model is a binary classifier over a flat parameter vector.
type Model interface {
	Shape() federated.Shape
	// Init returns initial parameters drawn from r.
	Init(r *rand.Rand) []float64
	// Prob returns P(y = 1 | x).
	Prob(params, x []float64) float64
	// AddGrad adds the gradient of the log loss at (x, y) to grad.
	AddGrad(grad, params, x []float64, y int)
}

// LogReg is logistic regression on D features: weights then bias.
type LogReg struct{ D int }

// Shape is w[D], b[1].
func (m LogReg) Shape() federated.Shape {
	return federated.Shape{{Name: "w", Dims: []int{m.D}}, {Name: "b", Dims: []int{1}}}
}

// Init returns zeros.
func (m LogReg) Init(*rand.Rand) []float64 { return make([]float64, m.D+1) }

// Prob is sigmoid(w·x + b).
func (m LogReg) Prob(p, x []float64) float64 {
	z := p[m.D]
	for j, v := range x {
		z += p[j] * v
	}
	return sigmoid(z)
}

// AddGrad adds (sigmoid(w·x+b) - y)·(x, 1).
func (m LogReg) AddGrad(g, p, x []float64, y int) {
	e := m.Prob(p, x) - float64(y)
	for j, v := range x {
		g[j] += e * v
	}
	g[m.D] += e
}

// MLP is a one-hidden-layer perceptron with tanh units: W1[H×D], b1[H],
// w2[H], b2.
type MLP struct{ D, H int }

// Shape is W1[H,D], b1[H], w2[H], b2[1].
func (m MLP) Shape() federated.Shape {
	return federated.Shape{
		{Name: "W1", Dims: []int{m.H, m.D}}, {Name: "b1", Dims: []int{m.H}},
		{Name: "w2", Dims: []int{m.H}}, {Name: "b2", Dims: []int{1}},
	}
}

// Init draws W1 and w2 with Glorot-scaled normal entries.
func (m MLP) Init(r *rand.Rand) []float64 {
	p := make([]float64, m.Shape().Size())
	s1 := math.Sqrt(1 / float64(m.D))
	for i := range m.H * m.D {
		p[i] = r.NormFloat64() * s1
	}
	s2 := math.Sqrt(1 / float64(m.H))
	for i := range m.H {
		p[m.H*m.D+m.H+i] = r.NormFloat64() * s2
	}
	return p
}

func (m MLP) hidden(h, p, x []float64) {
	w1, b1 := p[:m.H*m.D], p[m.H*m.D:m.H*m.D+m.H]
	for i := range m.H {
		z := b1[i]
		row := w1[i*m.D : (i+1)*m.D]
		for j, v := range x {
			z += row[j] * v
		}
		h[i] = math.Tanh(z)
	}
}

// Prob is sigmoid(w2·tanh(W1·x + b1) + b2).
func (m MLP) Prob(p, x []float64) float64 {
	h := make([]float64, m.H)
	m.hidden(h, p, x)
	return m.out(p, h)
}

func (m MLP) out(p, h []float64) float64 {
	w2 := p[m.H*m.D+m.H : m.H*m.D+2*m.H]
	z := p[len(p)-1]
	for i, v := range h {
		z += w2[i] * v
	}
	return sigmoid(z)
}

// AddGrad backpropagates the log loss.
func (m MLP) AddGrad(g, p, x []float64, y int) {
	h := make([]float64, m.H)
	m.hidden(h, p, x)
	e := m.out(p, h) - float64(y)
	off2 := m.H*m.D + m.H
	w2 := p[off2 : off2+m.H]
	for i, v := range h {
		g[off2+i] += e * v
		dz := e * w2[i] * (1 - v*v)
		g[m.H*m.D+i] += dz
		row := g[i*m.D : (i+1)*m.D]
		for j, xv := range x {
			row[j] += dz * xv
		}
	}
	g[len(g)-1] += e
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Accuracy is the fraction of d's rows classified right (threshold 1/2).
func Accuracy(m Model, p []float64, d *dataset.Dataset) float64 {
	ok := 0
	for i := range d.Rows {
		pred := 0
		if m.Prob(p, d.Row(i)) >= 0.5 {
			pred = 1
		}
		if pred == d.Y[i] {
			ok++
		}
	}
	return float64(ok) / float64(d.Rows)
}

// SGD is plain minibatch SGD settings.
type SGD struct {
	Epochs int
	Batch  int
	LR     float64
}

// Run trains p in place on the rows idx of d.
func (s SGD) Run(m Model, p []float64, d *dataset.Dataset, idx []int, r *rand.Rand) {
	if len(idx) == 0 {
		return
	}
	order := append([]int(nil), idx...)
	g := make([]float64, len(p))
	for range s.Epochs {
		r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for lo := 0; lo < len(order); lo += s.Batch {
			hi := min(lo+s.Batch, len(order))
			clear(g)
			for _, i := range order[lo:hi] {
				m.AddGrad(g, p, d.Row(i), d.Y[i])
			}
			f := s.LR / float64(hi-lo)
			for j := range p {
				p[j] -= f * g[j]
			}
		}
	}
}

// Client is one federated participant holding the rows Idx of Data; it
// trains the global model locally with SGD and returns the difference,
// weighted by its number of rows.
type Client struct {
	Model Model
	Data  *dataset.Dataset
	Idx   []int
	SGD   SGD
}

// Train implements federated.Client.
func (c *Client) Train(t federated.Task) (federated.Update, error) {
	if len(t.Global) != c.Model.Shape().Size() {
		return federated.Update{}, fmt.Errorf("fedmodels: global model has %d parameters, want %d", len(t.Global), c.Model.Shape().Size())
	}
	p := append([]float64(nil), t.Global...)
	c.SGD.Run(c.Model, p, c.Data, c.Idx, t.Rand)
	for j := range p {
		p[j] -= t.Global[j]
	}
	return federated.Update{Delta: p, Weight: float64(len(c.Idx))}, nil
}

// Clients builds one Client per part of a split.
func Clients(m Model, d *dataset.Dataset, parts [][]int, s SGD) []federated.Client {
	out := make([]federated.Client, len(parts))
	for i, idx := range parts {
		out[i] = &Client{Model: m, Data: d, Idx: idx, SGD: s}
	}
	return out
}

// AdultSplit reads the embedded Adult rows without missing values (30,162),
// one-hot encodes them, holds out 20% (a fixed seeded split) as the test
// set and standardizes both with the training set's statistics. UCI's
// separate test file is not embedded.
func AdultSplit() (train, test *dataset.Dataset, err error) {
	recs, err := dataset.AdultEmbedded(dataset.AdultOptions{DropMissing: true})
	if err != nil {
		return nil, nil, err
	}
	all, err := dataset.AdultNumeric(recs)
	if err != nil {
		return nil, nil, err
	}
	train, test, err = all.Split(20261204, 0.2)
	if err != nil {
		return nil, nil, err
	}
	if _, err := dataset.Standardize(train, test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// Baseline trains m centrally on every row of train with SGD (20 epochs,
// batch 32, rate 0.05), without privacy, and returns the parameters.
func Baseline(m Model, train *dataset.Dataset, r *rand.Rand) []float64 {
	p := m.Init(r)
	all := make([]int, train.Rows)
	for i := range all {
		all[i] = i
	}
	SGD{Epochs: 20, Batch: 32, LR: 0.05}.Run(m, p, train, all, r)
	return p
}
