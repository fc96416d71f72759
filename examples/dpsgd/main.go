// Command dpsgd trains a softmax (multinomial logistic) regression on the
// 8x8 handwritten digits with DP-SGD and prints the accuracy and the privacy
// spent after each epoch; with -plot it draws test accuracy against epsilon.
//
// Usage:
//
//	go run ./examples/dpsgd [-epochs 15] [-noise 1.0] [-clip 1] [-rate 0.05]
//	    [-lr 2] [-delta 1e-5] [-plot out.png] [-insecure-seed N]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/privml/privml/dp"
	"github.com/privml/privml/dp/dpsgd"
	"github.com/privml/privml/internal/dataset"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "dpsgd:", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	epochs       int
	noise, clip  float64
	rate, lr     float64
	delta        float64
	plot         string
	insecureSeed uint64
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("dpsgd", flag.ContinueOnError)
	fs.IntVar(&o.epochs, "epochs", 15, "number of epochs (1/rate steps each)")
	fs.Float64Var(&o.noise, "noise", 1.0, "noise multiplier σ")
	fs.Float64Var(&o.clip, "clip", 1, "per-example gradient clipping norm C")
	fs.Float64Var(&o.rate, "rate", 0.05, "Poisson sampling rate q")
	fs.Float64Var(&o.lr, "lr", 2, "learning rate")
	fs.Float64Var(&o.delta, "delta", 1e-5, "delta of the reported (epsilon, delta)")
	fs.StringVar(&o.plot, "plot", "", "write a PNG of test accuracy against epsilon to this file")
	fs.Uint64Var(&o.insecureSeed, "insecure-seed", 0, "if not 0, seed batches and noise deterministically: NOT PRIVATE, for tests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.epochs < 1 {
		return fmt.Errorf("-epochs = %d, want >= 1", o.epochs)
	}

	data, err := dataset.Digits()
	if err != nil {
		return err
	}
	for i := range data.X {
		data.X[i] /= 16 // pixel intensities 0..16 to [0, 1]
	}
	// The split is public: it only decides which records are held out.
	train, test, err := data.Split(1, 0.2)
	if err != nil {
		return err
	}

	cfg := dpsgd.Config{ClipNorm: o.clip, NoiseMultiplier: o.noise, SamplingRate: o.rate, DatasetSize: train.Rows}
	if o.insecureSeed != 0 {
		cfg.Noise = dp.NewSampler(dp.WithSeedForTesting(o.insecureSeed))
		var key [32]byte
		key[0], key[1] = byte(o.insecureSeed), byte(o.insecureSeed>>8)
		cfg.Rand = rand.NewChaCha8(key)
		fmt.Fprintln(out, "warning: -insecure-seed makes batches and noise predictable; this run is not private")
	}
	sgd, err := dpsgd.New(cfg)
	if err != nil {
		return err
	}

	m := newModel(train.Cols, train.NumClasses())
	stepsPerEpoch := int(math.Round(1 / o.rate))
	fmt.Fprintf(out, "digits: %d train, %d test; q = %g (expected batch %.0f), σ = %g, C = %g, %d steps per epoch\n",
		train.Rows, test.Rows, o.rate, o.rate*float64(train.Rows), o.noise, o.clip, stepsPerEpoch)
	fmt.Fprintf(out, "%5s %9s %9s %12s\n", "epoch", "train-acc", "test-acc", "epsilon")

	grad := make([]float64, m.size())
	var batch []int
	var grads [][]float64
	pts := make(plotter.XYs, 0, o.epochs)
	for epoch := 1; epoch <= o.epochs; epoch++ {
		for range stepsPerEpoch {
			batch, err = sgd.SampleBatch(batch[:0])
			if err != nil {
				return err
			}
			for len(grads) < len(batch) {
				grads = append(grads, make([]float64, m.size()))
			}
			for j, i := range batch {
				m.gradient(grads[j], train.Row(i), train.Y[i])
			}
			if err := sgd.Privatize(grad, grads[:len(batch)]); err != nil {
				return err
			}
			for k, g := range grad {
				m.w[k] -= o.lr * g
			}
		}
		eps, err := sgd.Epsilon(o.delta, false)
		if err != nil {
			return err
		}
		ta, va := m.accuracy(train), m.accuracy(test)
		fmt.Fprintf(out, "%5d %9.3f %9.3f %12.3f\n", epoch, ta, va, eps)
		pts = append(pts, plotter.XY{X: eps, Y: va})
	}
	pld, err := sgd.Epsilon(o.delta, true)
	if err != nil {
		return err
	}
	st, err := sgd.Statement(o.delta, 0, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "PLD accountant: epsilon = %.3f at delta = %g\n", pld, o.delta)
	fmt.Fprint(out, st)
	if o.plot != "" {
		if err := savePlot(o.plot, pts, o.delta); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", o.plot)
	}
	return nil
}

// model is a softmax regression: logits = W·[x, 1], W of k rows of d+1.
type model struct {
	d, k   int
	w      []float64
	logits []float64
}

func newModel(d, k int) *model {
	return &model{d: d, k: k, w: make([]float64, k*(d+1)), logits: make([]float64, k)}
}

func (m *model) size() int { return len(m.w) }

// probs fills m.logits with the class probabilities of x.
func (m *model) probs(x []float64) []float64 {
	top := math.Inf(-1)
	for c := range m.k {
		row := m.w[c*(m.d+1) : (c+1)*(m.d+1)]
		z := row[m.d]
		for j, v := range x {
			z += row[j] * v
		}
		m.logits[c] = z
		top = math.Max(top, z)
	}
	var s float64
	for c := range m.logits {
		m.logits[c] = math.Exp(m.logits[c] - top)
		s += m.logits[c]
	}
	for c := range m.logits {
		m.logits[c] /= s
	}
	return m.logits
}

// gradient writes the gradient of the cross-entropy loss at (x, y) to dst.
func (m *model) gradient(dst, x []float64, y int) {
	p := m.probs(x)
	for c := range m.k {
		g := p[c]
		if c == y {
			g--
		}
		row := dst[c*(m.d+1) : (c+1)*(m.d+1)]
		for j, v := range x {
			row[j] = g * v
		}
		row[m.d] = g
	}
}

func (m *model) accuracy(d *dataset.Dataset) float64 {
	var ok int
	for i := range d.Rows {
		p := m.probs(d.Row(i))
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		if best == d.Y[i] {
			ok++
		}
	}
	return float64(ok) / float64(d.Rows)
}

func savePlot(path string, pts plotter.XYs, delta float64) error {
	p := plot.New()
	p.Title.Text = "DP-SGD on digits: privacy/utility"
	p.X.Label.Text = fmt.Sprintf("epsilon (RDP accountant, delta = %g), one point per epoch", delta)
	p.Y.Label.Text = "test accuracy"
	line, points, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	p.Add(line, points, plotter.NewGrid())
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}
