// Package convnet is the small convolutional network of TenSEAL's encrypted
// MNIST tutorial, trained in plain Go on Fashion-MNIST and exported as an
// [he.Model]: a convolution of 4 filters 7x7 with stride 3 on a 28x28 image
// (4 channels of 8x8 = 256 outputs), x², a dense layer 256→64, x², and a
// dense layer 64→10 giving the logits. It is shared by examples/he-convnet
// and the HE study of benchmarks.
package convnet

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/privml/privml/he"
	"github.com/privml/privml/internal/dataset"
)

// The network: a convolution of 4 filters 7x7 with stride 3 on a 28x28
// image (4 channels of 8x8 = 256 outputs), x², a dense layer 256→64, x²,
// and a dense layer 64→10 giving the logits.
const (
	// Side is the height and width of an image, Pixels their product (the
	// model's input dimension).
	Side    = 28
	Pixels  = Side * Side
	side    = Side
	pixels  = Pixels
	filters = 4
	kernel  = 7
	stride  = 3
	outSide = (side-kernel)/stride + 1 // 8
	convOut = filters * outSide * outSide
	hidden  = 64
	classes = 10
	taps    = kernel * kernel
)

// Net holds all parameters in one flat slice (so that Adam and clipping
// are one loop) with named views into it. The convolution output is
// flattened channel-major, index (f·8 + y)·8 + x, as [he.Conv2D] does.
type Net struct {
	params       []float64
	convW, convB []float64 // convW[f·49 + ky·7 + kx]
	w1, b1       []float64 // w1[o·256 + i]
	w2, b2       []float64 // w2[o·64 + i]
}

// patch[p][k] is the pixel under tap k of output position p.
var patch = func() [outSide * outSide][taps]int {
	var t [outSide * outSide][taps]int
	for oy := range outSide {
		for ox := range outSide {
			for ky := range kernel {
				for kx := range kernel {
					t[oy*outSide+ox][ky*kernel+kx] = (oy*stride+ky)*side + ox*stride + kx
				}
			}
		}
	}
	return t
}()

func newNet() *Net {
	sizes := []int{filters * taps, filters, hidden * convOut, hidden, classes * hidden, classes}
	total := 0
	for _, s := range sizes {
		total += s
	}
	n := &Net{params: make([]float64, total)}
	n.view(n.params)
	return n
}

// view points the named slices of n into p, laid out as in n.params.
func (n *Net) view(p []float64) {
	take := func(k int) []float64 { s := p[:k:k]; p = p[k:]; return s }
	n.convW, n.convB = take(filters*taps), take(filters)
	n.w1, n.b1 = take(hidden*convOut), take(hidden)
	n.w2, n.b2 = take(classes*hidden), take(classes)
}

// init draws every weight and bias uniformly from ±1/√fan_in, the default
// initialisation of common frameworks for convolutions and dense layers.
func (n *Net) init(r *rand.Rand) {
	u := func(s []float64, fanIn int) {
		b := 1 / math.Sqrt(float64(fanIn))
		for i := range s {
			s[i] = (2*r.Float64() - 1) * b
		}
	}
	u(n.convW, taps)
	u(n.convB, taps)
	u(n.w1, convOut)
	u(n.b1, convOut)
	u(n.w2, hidden)
	u(n.b2, hidden)
}

// acts holds the activations of one forward pass.
type acts struct {
	z1, a1 [convOut]float64
	z2, a2 [hidden]float64
	z3     [classes]float64
}

func (n *Net) forward(x []float64, a *acts) {
	for f := range filters {
		w := n.convW[f*taps : (f+1)*taps]
		for p := range outSide * outSide {
			s := n.convB[f]
			for k, i := range patch[p] {
				s += w[k] * x[i]
			}
			a.z1[f*outSide*outSide+p] = s
			a.a1[f*outSide*outSide+p] = s * s
		}
	}
	for o := range hidden {
		s := n.b1[o] + dot(n.w1[o*convOut:(o+1)*convOut], a.a1[:])
		a.z2[o], a.a2[o] = s, s*s
	}
	for o := range classes {
		a.z3[o] = n.b2[o] + dot(n.w2[o*hidden:(o+1)*hidden], a.a2[:])
	}
}

// backward adds to g (laid out as n.params) the gradient of the softmax
// cross-entropy of sample x with label y, and returns the loss.
func (n *Net) backward(x []float64, y int, a *acts, g *Net) float64 {
	var dz3 [classes]float64
	zmax := slices.Max(a.z3[:])
	sum := 0.0
	for c := range classes {
		dz3[c] = math.Exp(a.z3[c] - zmax)
		sum += dz3[c]
	}
	loss := math.Log(sum) - (a.z3[y] - zmax)
	for c := range classes {
		dz3[c] /= sum
	}
	dz3[y]--
	var dz2 [hidden]float64
	for c, d := range dz3 {
		g.b2[c] += d
		axpy(g.w2[c*hidden:(c+1)*hidden], d, a.a2[:])
		axpy(dz2[:], d, n.w2[c*hidden:(c+1)*hidden])
	}
	var dz1 [convOut]float64
	for o := range hidden {
		d := dz2[o] * 2 * a.z2[o]
		g.b1[o] += d
		axpy(g.w1[o*convOut:(o+1)*convOut], d, a.a1[:])
		axpy(dz1[:], d, n.w1[o*convOut:(o+1)*convOut])
	}
	for f := range filters {
		gw := g.convW[f*taps : (f+1)*taps]
		for p := range outSide * outSide {
			o := f*outSide*outSide + p
			d := dz1[o] * 2 * a.z1[o]
			g.convB[f] += d
			for k, i := range patch[p] {
				gw[k] += d * x[i]
			}
		}
	}
	return loss
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Accuracy returns the fraction of samples the network classifies right.
func (n *Net) Accuracy(xs [][]float64, ys []int) float64 {
	if len(xs) == 0 {
		return 0
	}
	var a acts
	ok := 0
	for i, x := range xs {
		n.forward(x, &a)
		if argmax(a.z3[:]) == ys[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(xs))
}

// Loss returns the mean softmax cross-entropy over the samples.
func (n *Net) Loss(xs [][]float64, ys []int) float64 {
	if len(xs) == 0 {
		return 0
	}
	var a acts
	sum := 0.0
	for i, x := range xs {
		n.forward(x, &a)
		zmax := slices.Max(a.z3[:])
		e := 0.0
		for _, z := range a.z3 {
			e += math.Exp(z - zmax)
		}
		sum += math.Log(e) - (a.z3[ys[i]] - zmax)
	}
	return sum / float64(len(xs))
}

// Config are the settings of [Train].
type Config struct {
	Epochs, Batch int
	LR            float64 // Adam step size
	Clip          float64 // largest L2 norm of a mini-batch gradient
	Seed          uint64
}

// Train fits the network by mini-batch Adam (Kingma and Ba, ICLR 2015,
// with their default β1 = 0.9, β2 = 0.999, ε = 1e-8) on the mean softmax
// cross-entropy. With two x² layers the logits are a polynomial of degree
// 7 in the weights (4 in the pixels), so a bad step can blow up: each
// mini-batch gradient is clipped to L2 norm cfg.Clip, and training stops
// with an error if the loss stops being finite. After each epoch it writes
// the mean training loss, the training accuracy seen during the epoch and
// the accuracy on (tx, ty) to progress. The generator is seeded for
// repeatable runs; it draws nothing secret.
func Train(xs [][]float64, ys []int, tx [][]float64, ty []int, cfg Config, progress io.Writer) (*Net, error) {
	r := rand.New(rand.NewPCG(cfg.Seed, 0xc0de))
	n := newNet()
	n.init(r)
	g, m, v := newNet(), make([]float64, len(n.params)), make([]float64, len(n.params))
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	var a acts
	step := 0
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		t0 := time.Now()
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		lossSum, ok := 0.0, 0
		for start := 0; start < len(idx); start += cfg.Batch {
			end := min(start+cfg.Batch, len(idx))
			clear(g.params)
			for _, s := range idx[start:end] {
				n.forward(xs[s], &a)
				if argmax(a.z3[:]) == ys[s] {
					ok++
				}
				lossSum += n.backward(xs[s], ys[s], &a, g)
			}
			if math.IsNaN(lossSum) || math.IsInf(lossSum, 0) {
				return nil, fmt.Errorf("convnet: training diverged in epoch %d (loss %v): lower the step size", epoch, lossSum)
			}
			scale := 1 / float64(end-start)
			norm := 0.0
			for _, x := range g.params {
				norm += x * x
			}
			if norm = math.Sqrt(norm) * scale; norm > cfg.Clip {
				scale *= cfg.Clip / norm
			}
			step++
			c1 := 1 - math.Pow(beta1, float64(step))
			c2 := 1 - math.Pow(beta2, float64(step))
			for i, gi := range g.params {
				gi *= scale
				m[i] = beta1*m[i] + (1-beta1)*gi
				v[i] = beta2*v[i] + (1-beta2)*gi*gi
				n.params[i] -= cfg.LR * (m[i] / c1) / (math.Sqrt(v[i]/c2) + eps)
			}
		}
		fmt.Fprintf(progress, "epoch %2d/%d  loss %.4f  train accuracy %.4f  test accuracy %.4f  (%.1f s)\n",
			epoch, cfg.Epochs, lossSum/float64(len(xs)), float64(ok)/float64(len(xs)), n.Accuracy(tx, ty), time.Since(t0).Seconds())
	}
	return n, nil
}

// Model returns the network as an [he.Model]: the convolution lowered to a
// dense layer by [he.Conv2D.Dense], then the two dense layers.
func (n *Net) Model() (*he.Model, error) {
	conv := he.Conv2D{InChannels: 1, Height: side, Width: side, OutChannels: filters, Kernel: kernel, Stride: stride,
		Weights: make([][][][]float64, filters), Bias: slices.Clone(n.convB), Activation: he.ActSquare}
	for f := range filters {
		k := make([][]float64, kernel)
		for ky := range kernel {
			k[ky] = slices.Clone(n.convW[f*taps+ky*kernel : f*taps+(ky+1)*kernel])
		}
		conv.Weights[f] = [][][]float64{k}
	}
	cd, err := conv.Dense()
	if err != nil {
		return nil, err
	}
	return he.NewMLP(cd,
		he.Dense{Weights: rowsOf(n.w1, hidden, convOut), Bias: slices.Clone(n.b1), Activation: he.ActSquare},
		he.Dense{Weights: rowsOf(n.w2, classes, hidden), Bias: slices.Clone(n.b2)})
}

func rowsOf(w []float64, rows, cols int) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = slices.Clone(w[i*cols : (i+1)*cols])
	}
	return m
}

func dot(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// axpy sets dst += alpha·x.
func axpy(dst []float64, alpha float64, x []float64) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += alpha * x[i]
	}
}

// Load reads the images and labels of one split ("train" or "t10k") of
// Fashion-MNIST in dir, pixels scaled to [0, 1], one image per row.
func Load(dir, split string) ([][]float64, []int, error) {
	im, labels, err := dataset.LoadFashionMNIST(dir, split)
	if err != nil {
		return nil, nil, err
	}
	if im.Rows != side || im.Cols != side {
		return nil, nil, fmt.Errorf("convnet: %s: %s images are %dx%d, want %dx%d", dir, split, im.Rows, im.Cols, side, side)
	}
	flat := dataset.AppendUnitFloat(make([]float64, 0, len(im.Pix)), im.Pix)
	xs, ys := make([][]float64, im.Count), make([]int, im.Count)
	for i := range xs {
		xs[i] = flat[i*pixels : (i+1)*pixels : (i+1)*pixels]
		ys[i] = int(labels[i])
	}
	return xs, ys, nil
}
