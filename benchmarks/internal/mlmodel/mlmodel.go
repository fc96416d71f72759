// Package mlmodel holds the small models of the privacy/utility studies:
// softmax (multinomial logistic) regression and a one-hidden-layer tanh
// MLP, with per-example cross-entropy gradients for DP-SGD, and the
// training loops (DP-SGD through dp/dpsgd, plain mini-batch SGD).
package mlmodel

import (
	"math"
	"math/rand/v2"
	"sync"

	"github.com/privml/privml/dp/dpsgd"
)

// Model is a classifier with a flat parameter vector.
type Model interface {
	// Params returns the parameters (the model's own slice).
	Params() []float64
	// Probs writes the class probabilities of x to dst (len classes).
	Probs(dst, x []float64)
	// Gradient writes the gradient of the cross-entropy loss at (x, y)
	// to dst (len(Params())). It is safe for concurrent use.
	Gradient(dst, x []float64, y int)
	// Classes is the number of classes.
	Classes() int
}

// Softmax is multinomial logistic regression: logits = W·[x, 1].
type Softmax struct {
	D, K int
	W    []float64 // K rows of D+1
}

// NewSoftmax returns a zero-initialised softmax regression.
func NewSoftmax(d, k int) *Softmax { return &Softmax{D: d, K: k, W: make([]float64, k*(d+1))} }

// Params implements Model.
func (m *Softmax) Params() []float64 { return m.W }

// Classes implements Model.
func (m *Softmax) Classes() int { return m.K }

// Probs implements Model.
func (m *Softmax) Probs(dst, x []float64) {
	for c := range m.K {
		row := m.W[c*(m.D+1) : (c+1)*(m.D+1)]
		z := row[m.D]
		for j, v := range x {
			z += row[j] * v
		}
		dst[c] = z
	}
	softmax(dst)
}

// Gradient implements Model.
func (m *Softmax) Gradient(dst, x []float64, y int) {
	p := make([]float64, m.K)
	m.Probs(p, x)
	for c := range m.K {
		g := p[c]
		if c == y {
			g--
		}
		row := dst[c*(m.D+1) : (c+1)*(m.D+1)]
		for j, v := range x {
			row[j] = g * v
		}
		row[m.D] = g
	}
}

// MLP is x → tanh(W1·x + b1) → softmax(W2·h + b2). tanh is the tempered
// sigmoid of Papernot et al. (2021) at scale 2, inverse temperature 2,
// offset 1.
type MLP struct {
	D, H, K int
	P       []float64 // W1 (H×D), b1 (H), W2 (K×H), b2 (K)
	// Square replaces tanh by x², the activation CKKS evaluates exactly.
	Square bool
}

// NewMLP returns an MLP with W1 and W2 drawn from N(0, 1/fan-in) by a
// generator seeded with seed, and zero biases.
func NewMLP(d, h, k int, seed uint64) *MLP {
	m := &MLP{D: d, H: h, K: k, P: make([]float64, h*d+h+k*h+k)}
	rng := rand.New(rand.NewPCG(seed, 0x6d6c70))
	w1, _, w2, _ := m.split(m.P)
	for i := range w1 {
		w1[i] = rng.NormFloat64() / math.Sqrt(float64(d))
	}
	for i := range w2 {
		w2[i] = rng.NormFloat64() / math.Sqrt(float64(h))
	}
	return m
}

// Split returns the views W1 (H×D row-major), b1, W2 (K×H), b2 of the
// parameters.
func (m *MLP) Split() (w1, b1, w2, b2 []float64) { return m.split(m.P) }

func (m *MLP) split(p []float64) (w1, b1, w2, b2 []float64) {
	hd, kh := m.H*m.D, m.K*m.H
	return p[:hd], p[hd : hd+m.H], p[hd+m.H : hd+m.H+kh], p[hd+m.H+kh:]
}

// Params implements Model.
func (m *MLP) Params() []float64 { return m.P }

// Classes implements Model.
func (m *MLP) Classes() int { return m.K }

// forward fills h with the hidden activations and out with the class
// probabilities; z, if not nil, receives the pre-activations.
func (m *MLP) forward(h, z, out, x []float64) {
	w1, b1, w2, b2 := m.split(m.P)
	for i := range m.H {
		row := w1[i*m.D : (i+1)*m.D]
		s := b1[i]
		for j, v := range x {
			s += row[j] * v
		}
		if z != nil {
			z[i] = s
		}
		if m.Square {
			h[i] = s * s
		} else {
			h[i] = math.Tanh(s)
		}
	}
	for c := range m.K {
		row := w2[c*m.H : (c+1)*m.H]
		s := b2[c]
		for i, v := range h {
			s += row[i] * v
		}
		out[c] = s
	}
	softmax(out)
}

// Probs implements Model.
func (m *MLP) Probs(dst, x []float64) { m.forward(make([]float64, m.H), nil, dst, x) }

// Gradient implements Model.
func (m *MLP) Gradient(dst, x []float64, y int) {
	h, z := make([]float64, m.H), make([]float64, m.H)
	p := make([]float64, m.K)
	m.forward(h, z, p, x)
	p[y]--
	_, _, w2, _ := m.split(m.P)
	gw1, gb1, gw2, gb2 := m.split(dst)
	dh := make([]float64, m.H)
	for c, g := range p {
		row := gw2[c*m.H : (c+1)*m.H]
		wrow := w2[c*m.H : (c+1)*m.H]
		for i, v := range h {
			row[i] = g * v
			dh[i] += g * wrow[i]
		}
		gb2[c] = g
	}
	for i := range m.H {
		dz := dh[i] * (1 - h[i]*h[i])
		if m.Square {
			dz = dh[i] * 2 * z[i]
		}
		row := gw1[i*m.D : (i+1)*m.D]
		for j, v := range x {
			row[j] = dz * v
		}
		gb1[i] = dz
	}
}

func softmax(z []float64) {
	top := math.Inf(-1)
	for _, v := range z {
		top = math.Max(top, v)
	}
	var s float64
	for i, v := range z {
		z[i] = math.Exp(v - top)
		s += z[i]
	}
	for i := range z {
		z[i] /= s
	}
}

// Loss returns the cross-entropy loss of m at (x, y), at least 1e-300
// inside the logarithm.
func Loss(m Model, x []float64, y int) float64 {
	p := make([]float64, m.Classes())
	m.Probs(p, x)
	return -math.Log(math.Max(p[y], 1e-300))
}

// Predict returns the most probable class of x.
func Predict(m Model, x []float64) int {
	p := make([]float64, m.Classes())
	m.Probs(p, x)
	best := 0
	for c := range p {
		if p[c] > p[best] {
			best = c
		}
	}
	return best
}

// Accuracy returns the fraction of rows of X that m classifies as Y.
func Accuracy(m Model, X [][]float64, Y []int) float64 {
	var ok int
	for i, x := range X {
		if Predict(m, x) == Y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(X))
}

// gradients fills grads[j] with the gradient at example idx[j], using
// up to workers goroutines.
func gradients(m Model, X [][]float64, Y []int, idx []int, grads [][]float64, workers int) {
	if workers < 2 || len(idx) < 64 {
		for j, i := range idx {
			m.Gradient(grads[j], X[i], Y[i])
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(idx) + workers - 1) / workers
	for lo := 0; lo < len(idx); lo += chunk {
		hi := min(lo+chunk, len(idx))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := lo; j < hi; j++ {
				m.Gradient(grads[j], X[idx[j]], Y[idx[j]])
			}
		}()
	}
	wg.Wait()
}

// TrainDP runs steps DP-SGD steps of learning rate lr on (X, Y): a Poisson
// batch from sgd, per-example gradients, sgd.Privatize, a step. after, if
// not nil, is called after every step with its number (from 1).
func TrainDP(m Model, X [][]float64, Y []int, sgd *dpsgd.SGD, steps int, lr float64, workers int, after func(step int)) error {
	params := m.Params()
	grad := make([]float64, len(params))
	var grads [][]float64
	var batch []int
	var err error
	for s := 1; s <= steps; s++ {
		batch, err = sgd.SampleBatch(batch[:0])
		if err != nil {
			return err
		}
		for len(grads) < len(batch) {
			grads = append(grads, make([]float64, len(params)))
		}
		gradients(m, X, Y, batch, grads, workers)
		if err := sgd.Privatize(grad, grads[:len(batch)]); err != nil {
			return err
		}
		for k, g := range grad {
			params[k] -= lr * g
		}
		if after != nil {
			after(s)
		}
	}
	return nil
}

// TrainSGD runs plain (non-private) mini-batch SGD: epochs passes over a
// shuffled order in batches of batch, learning rate lr, no clipping.
func TrainSGD(m Model, X [][]float64, Y []int, epochs, batch int, lr float64, seed uint64) {
	params := m.Params()
	grad := make([]float64, len(params))
	sum := make([]float64, len(params))
	rng := rand.New(rand.NewPCG(seed, 0x736764))
	order := make([]int, len(X))
	for i := range order {
		order[i] = i
	}
	for range epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for lo := 0; lo < len(order); lo += batch {
			hi := min(lo+batch, len(order))
			clear(sum)
			for _, i := range order[lo:hi] {
				m.Gradient(grad, X[i], Y[i])
				for k, g := range grad {
					sum[k] += g
				}
			}
			scale := lr / float64(hi-lo)
			for k, g := range sum {
				params[k] -= scale * g
			}
		}
	}
}
