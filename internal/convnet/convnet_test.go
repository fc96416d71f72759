package convnet

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// subset returns the first 200 images of the Fashion-MNIST test split
// bundled with examples/he-convnet (see its testdata/README.md), split 150
// for training and 50 held out.
func subset(t *testing.T) (xs [][]float64, ys []int, tx [][]float64, ty []int, err error) {
	t.Helper()
	x, y, err := Load(filepath.Join("..", "..", "examples", "he-convnet", "testdata"), "t10k")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return x[:150], y[:150], x[150:], y[150:], nil
}

// TestModelMatchesTrainer: the he model built from the trained weights (the
// convolution through he.Conv2D.Dense) computes the trainer's logits.
func TestModelMatchesTrainer(t *testing.T) {
	xs, _, _, _, err := subset(t)
	if err != nil {
		t.Fatal(err)
	}
	n := newNet()
	n.init(rand.New(rand.NewPCG(3, 4)))
	m, err := n.Model()
	if err != nil {
		t.Fatal(err)
	}
	var a acts
	for _, x := range xs[:20] {
		n.forward(x, &a)
		got, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		for c := range classes {
			if math.Abs(got[c]-a.z3[c]) > 1e-9*(1+math.Abs(a.z3[c])) {
				t.Fatalf("logit %d: he model %v, trainer %v", c, got[c], a.z3[c])
			}
		}
	}
}

// TestGradient compares the backward pass with central differences on a
// few parameters of every layer.
func TestGradient(t *testing.T) {
	xs, ys, _, _, err := subset(t)
	if err != nil {
		t.Fatal(err)
	}
	n := newNet()
	n.init(rand.New(rand.NewPCG(5, 6)))
	g := newNet()
	var a acts
	n.forward(xs[0], &a)
	n.backward(xs[0], ys[0], &a, g)
	lossAt := func() float64 { return n.Loss(xs[:1], ys[:1]) }
	r := rand.New(rand.NewPCG(7, 8))
	// The blocks of params in order: check 5 random entries of each.
	off := 0
	for _, size := range []int{len(n.convW), len(n.convB), len(n.w1), len(n.b1), len(n.w2), len(n.b2)} {
		for range 5 {
			i := off + r.IntN(size)
			const h = 1e-5
			old := n.params[i]
			n.params[i] = old + h
			up := lossAt()
			n.params[i] = old - h
			down := lossAt()
			n.params[i] = old
			num := (up - down) / (2 * h)
			if math.Abs(num-g.params[i]) > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("parameter %d: backward %v, central difference %v", i, g.params[i], num)
			}
		}
		off += size
	}
}

// TestTrainLearns: a short training on the bundled subset beats chance by
// far.
func TestTrainLearns(t *testing.T) {
	xs, ys, tx, ty, err := subset(t)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	n, err := Train(xs, ys, tx, ty, Config{Epochs: 30, Batch: 16, LR: 0.002, Clip: 5, Seed: 1}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(log.String(), "epoch "); got != 30 {
		t.Errorf("%d epoch lines, want 30:\n%s", got, log.String())
	}
	if acc := n.Accuracy(tx, ty); acc < 0.5 {
		t.Errorf("held-out accuracy %v after 30 epochs on 150 images (chance is 0.1)\n%s", acc, log.String())
	}
}
