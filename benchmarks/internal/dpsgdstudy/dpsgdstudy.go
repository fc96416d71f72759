// Package dpsgdstudy is the study run by benchmarks/dpsgd-study: it
// measures DP-SGD test accuracy against ε on the 8x8 digits and on
// Fashion-MNIST, for softmax regression and a small tanh MLP, and prints
// published figures beside ours. It writes benchmarks/results/dpsgd.md and
// dpsgd.png.
//
//	go run ./benchmarks/dpsgd-study [-quick] [-data DIR] [-seed 1] [-fashion-epochs 3]
//
// ε ∈ {0.5, 1, 2, 3, 4, 8, ∞} at δ = 1e-5. For each finite ε the noise
// multiplier is the smallest at which the run's steps of the
// Poisson-subsampled Gaussian reach (ε, δ) under the RDP accountant
// (accounting.CalibratePoissonGaussian, as `privml dp sigma`); ∞ is the
// same clipped training with no noise. Noise and batches are seeded for
// reproducibility, which makes these runs NOT private: a study only.
//
// Fashion-MNIST is read from -data (default $PRIVML_DATASETS, else
// ../shared/datasets beside the repository), folder fashion-mnist;
// -quick uses only the embedded digits.
package dpsgdstudy

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/privml/privml/benchmarks/internal/mlmodel"
	"github.com/privml/privml/benchmarks/internal/study"
	"github.com/privml/privml/dp"
	"github.com/privml/privml/dp/accounting"
	"github.com/privml/privml/dp/dpsgd"
	"github.com/privml/privml/internal/dataset"
)

const delta = 1e-5

// Task is one data set with its training settings.
type Task struct {
	Name            string
	TrainX, TestX   [][]float64
	TrainY, TestY   []int
	Classes         int
	Batch           float64 // expected batch size qN
	Epochs          int
	Clip            float64
	LRLinear, LRMLP float64
	Hidden          int
}

// Point is one trained model.
type Point struct {
	Model             string
	Epsilon, Sigma    float64 // target ε (Inf: no noise), noise multiplier
	Claimed, Accuracy float64
}

func rows(d *dataset.Dataset) (X [][]float64, Y []int) {
	for i := range d.Rows {
		X = append(X, d.Row(i))
		Y = append(Y, d.Y[i])
	}
	return X, Y
}

func digitsTask(quick bool) (*Task, error) {
	d, err := dataset.Digits()
	if err != nil {
		return nil, err
	}
	for i := range d.X {
		d.X[i] /= 16
	}
	train, test, err := d.Split(1, 0.2)
	if err != nil {
		return nil, err
	}
	t := &Task{Name: "digits", Classes: 10, Batch: 64, Epochs: 30, Clip: 1, LRLinear: 2, LRMLP: 1, Hidden: 32}
	if quick {
		t.Epochs = 3
	}
	t.TrainX, t.TrainY = rows(train)
	t.TestX, t.TestY = rows(test)
	return t, nil
}

func fashionTask(dir string, epochs int) (*Task, error) {
	load := func(split string) ([][]float64, []int, error) {
		img, lab, err := dataset.LoadFashionMNIST(dir, split)
		if err != nil {
			return nil, nil, study.MissingData("Fashion-MNIST", dir, err)
		}
		d, err := img.Dataset(lab, dataset.FashionMNISTClassNames(), 0)
		if err != nil {
			return nil, nil, err
		}
		X, Y := rows(d)
		return X, Y, nil
	}
	t := &Task{Name: "Fashion-MNIST", Classes: 10, Batch: 256, Epochs: epochs, Clip: 1, LRLinear: 4, LRMLP: 4, Hidden: 32}
	var err error
	if t.TrainX, t.TrainY, err = load("train"); err != nil {
		return nil, err
	}
	if t.TestX, t.TestY, err = load("t10k"); err != nil {
		return nil, err
	}
	return t, nil
}

// zeroNoise adds nothing: the ε = ∞ runs.
type zeroNoise struct{}

func (zeroNoise) AddGaussian([]float64, float64) error { return nil }

// train trains one model at target ε on the task and returns its point.
func train(run *study.Run, t *Task, model string, eps float64) (*Point, error) {
	n := len(t.TrainX)
	q := t.Batch / float64(n)
	steps := int(math.Round(float64(t.Epochs) / q))
	p := &Point{Model: model, Epsilon: eps, Claimed: math.Inf(1)}
	cfg := dpsgd.Config{ClipNorm: t.Clip, SamplingRate: q, DatasetSize: n, NoiseMultiplier: 1, Noise: zeroNoise{},
		Rand: chacha{rand.NewChaCha8(key(run.Seed, eps))}}
	if !math.IsInf(eps, 1) {
		sigma, _, err := accounting.CalibratePoissonGaussian(eps, q, steps, delta, accounting.RDPConfig{})
		if err != nil {
			return nil, fmt.Errorf("%s, epsilon %g: %w", t.Name, eps, err)
		}
		cfg.NoiseMultiplier, p.Sigma = sigma, sigma
		cfg.Noise = dp.NewSampler(dp.WithSeedForTesting(run.Seed))
	}
	sgd, err := dpsgd.New(cfg)
	if err != nil {
		return nil, err
	}
	var m mlmodel.Model
	lr := t.LRLinear
	if model == "MLP" {
		m, lr = mlmodel.NewMLP(len(t.TrainX[0]), t.Hidden, t.Classes, run.Seed), t.LRMLP
	} else {
		m = mlmodel.NewSoftmax(len(t.TrainX[0]), t.Classes)
	}
	every := max(steps/4, 1)
	err = mlmodel.TrainDP(m, t.TrainX, t.TrainY, sgd, steps, lr, runtime.GOMAXPROCS(0), func(s int) {
		if s%every == 0 && s < steps {
			run.Progress("  %s %s eps %g: step %d/%d", t.Name, model, eps, s, steps)
		}
	})
	if err != nil {
		return nil, err
	}
	if !math.IsInf(eps, 1) {
		if p.Claimed, err = sgd.Epsilon(delta, false); err != nil {
			return nil, err
		}
	}
	p.Accuracy = mlmodel.Accuracy(m, t.TestX, t.TestY)
	run.Progress("%s %s eps %g: sigma %.3f, %d steps, q %.4g, test accuracy %.4f", t.Name, model, eps, p.Sigma, steps, q, p.Accuracy)
	return p, nil
}

func key(seed uint64, eps float64) [32]byte {
	var k [32]byte
	b := math.Float64bits(eps)
	for i := range 8 {
		k[i], k[8+i] = byte(seed>>(8*i)), byte(b>>(8*i))
	}
	return k
}

type chacha struct{ c *rand.ChaCha8 }

func (c chacha) Read(p []byte) (int, error) { return c.c.Read(p) }

// Main runs the study with the command-line args, printing progress to out.
func Main(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("dpsgd-study", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "tiny settings: digits only, 3 epochs, epsilon in {1, 8, inf}")
	data := fs.String("data", "", "folder of the shared data sets (default: $PRIVML_DATASETS, else ../shared/datasets beside the repository)")
	seed := fs.Uint64("seed", 1, "seed of batches, noise and initialisation (NOT private: study only)")
	fashionEpochs := fs.Int("fashion-epochs", 3, "epochs on Fashion-MNIST")
	dir := fs.String("out", study.ResultsDir(), "results folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fashionEpochs < 1 {
		return fmt.Errorf("-fashion-epochs = %d, want >= 1", *fashionEpochs)
	}
	run, err := study.NewRun("dpsgd", *dir, *seed, *quick, out)
	if err != nil {
		return err
	}
	eps := []float64{0.5, 1, 2, 3, 4, 8, math.Inf(1)}
	if *quick {
		eps = []float64{1, 8, math.Inf(1)}
	}
	tasks := []*Task{}
	dg, err := digitsTask(*quick)
	if err != nil {
		return err
	}
	tasks = append(tasks, dg)
	if !*quick {
		fm, err := fashionTask(filepath.Join(study.DatasetsDir(*data), "fashion-mnist"), *fashionEpochs)
		if err != nil {
			return err
		}
		tasks = append(tasks, fm)
	}
	results := map[*Task][]*Point{}
	for _, t := range tasks {
		run.Progress("%s: %d train, %d test, %d features", t.Name, len(t.TrainX), len(t.TestX), len(t.TrainX[0]))
		for _, model := range []string{"softmax", "MLP"} {
			for _, e := range eps {
				p, err := train(run, t, model, e)
				if err != nil {
					return err
				}
				results[t] = append(results[t], p)
			}
		}
	}
	return write(run, tasks, results, eps)
}

func write(run *study.Run, tasks []*Task, results map[*Task][]*Point, eps []float64) error {
	var sections []study.Section
	var series []study.Series
	for _, t := range tasks {
		tab, s := taskTable(t, results[t], eps)
		q := t.Batch / float64(len(t.TrainX))
		notes := fmt.Sprintf("%s: %d training and %d test images, expected batch %g (q = %.4g), %d epochs (%d steps), clip norm %g, learning rate %g (softmax) and %g (MLP), σ from the RDP accountant for the whole run; MLP %d-%d(tanh)-%d.",
			t.Name, len(t.TrainX), len(t.TestX), t.Batch, q, t.Epochs, int(math.Round(float64(t.Epochs)/q)), t.Clip, t.LRLinear, t.LRMLP, len(t.TrainX[0]), t.Hidden, t.Classes)
		sections = append(sections, study.Section{Title: t.Name, Table: tab, Notes: notes})
		series = append(series, s...)
	}
	sections = append(sections, study.Section{Title: "Published figures", Table: anchors(), Notes: comparison(tasks, results) + "\n\n" + anchorNotes})
	cmd := "go run ./benchmarks/dpsgd-study"
	if run.Quick {
		cmd += " -quick"
	}
	if _, err := run.WriteMarkdown("DP-SGD: test accuracy against ε", cmd, sections...); err != nil {
		return err
	}
	_, err := run.WritePNG(".png", study.Plot{Title: "DP-SGD test accuracy against epsilon (delta 1e-5)",
		X: "epsilon (log scale)", Y: "test accuracy", LogX: true, XTicks: finite(eps), LegendBottomRight: true, Series: series})
	return err
}

// finite returns the finite values of eps.
func finite(eps []float64) []float64 {
	var out []float64
	for _, e := range eps {
		if !math.IsInf(e, 0) {
			out = append(out, e)
		}
	}
	return out
}

// taskTable returns the table and plot series of one task.
func taskTable(t *Task, pts []*Point, eps []float64) (*study.Table, []study.Series) {
	tab := &study.Table{Header: []string{"ε (δ = 1e-5)", "σ", "softmax regression", "MLP (tanh, " + fmt.Sprint(t.Hidden) + " hidden)"}}
	byEps := map[float64][2]*Point{}
	for _, p := range pts {
		e := byEps[p.Epsilon]
		if p.Model == "MLP" {
			e[1] = p
		} else {
			e[0] = p
		}
		byEps[p.Epsilon] = e
	}
	var lin, mlp, linInf, mlpInf plotter.XYs
	for _, e := range eps {
		b := byEps[e]
		name := fmt.Sprint(e)
		sigma := fmt.Sprintf("%.3f", b[0].Sigma)
		if math.IsInf(e, 1) {
			name, sigma = "∞ (no noise)", "0"
		} else {
			lin = append(lin, plotter.XY{X: e, Y: b[0].Accuracy})
			mlp = append(mlp, plotter.XY{X: e, Y: b[1].Accuracy})
		}
		tab.Add(name, sigma, fmt.Sprintf("%.2f %%", 100*b[0].Accuracy), fmt.Sprintf("%.2f %%", 100*b[1].Accuracy))
	}
	if b, ok := byEps[math.Inf(1)]; ok && len(lin) > 0 {
		lo, hi := lin[0].X, lin[len(lin)-1].X
		linInf = plotter.XYs{{X: lo, Y: b[0].Accuracy}, {X: hi, Y: b[0].Accuracy}}
		mlpInf = plotter.XYs{{X: lo, Y: b[1].Accuracy}, {X: hi, Y: b[1].Accuracy}}
	}
	return tab, []study.Series{
		{Name: t.Name + " softmax", XY: lin}, {Name: t.Name + " MLP", XY: mlp},
		{Name: t.Name + " softmax, no noise", XY: linInf, Dashed: true},
		{Name: t.Name + " MLP, no noise", XY: mlpInf, Dashed: true}}
}

// comparison states, from the measured points, how far ours are from the
// anchors at their ε and how much of the gap the no-noise models already
// show.
func comparison(tasks []*Task, results map[*Task][]*Point) string {
	acc := func(t *Task, model string, eps float64) (float64, bool) {
		for _, p := range results[t] {
			if p.Model == model && p.Epsilon == eps {
				return 100 * p.Accuracy, true
			}
		}
		return 0, false
	}
	var b strings.Builder
	for _, t := range tasks {
		switch t.Name {
		case "Fashion-MNIST":
			lin, ok1 := acc(t, "softmax", 3)
			mlp, ok2 := acc(t, "MLP", 3)
			linInf, ok3 := acc(t, "softmax", math.Inf(1))
			mlpInf, ok4 := acc(t, "MLP", math.Inf(1))
			if ok1 && ok2 && ok3 && ok4 {
				best := math.Max(lin, mlp)
				fmt.Fprintf(&b, "At ε = 3 on Fashion-MNIST ours reach %.1f %% (softmax) and %.1f %% (MLP): %.1f points below the end-to-end CNN of Tramèr and Boneh (86.0 %%) and %.1f below their ScatterNet + linear model (89.7 %%). Without noise the same models reach only %.1f and %.1f %% in this budget, so most of the gap is the model and the number of epochs, not the noise. ",
					lin, mlp, 86.0-best, 89.7-best, linInf, mlpInf)
			}
		case "digits":
			var parts []string
			for _, e := range []float64{0.5, 2, 8} {
				lin, ok1 := acc(t, "softmax", e)
				mlp, ok2 := acc(t, "MLP", e)
				if ok1 && ok2 {
					parts = append(parts, fmt.Sprintf("%.1f %% at ε = %g", math.Max(lin, mlp), e))
				}
			}
			if len(parts) > 0 {
				fmt.Fprintf(&b, "On the 8x8 digits our better model reaches %s, against Abadi et al.'s 90 / 95 / 97 %% on MNIST at 0.5 / 2 / 8 (a different data set, about 40 times larger). ", strings.Join(parts, ", "))
			}
		}
	}
	return strings.TrimSpace(b.String())
}

func anchors() *study.Table {
	t := &study.Table{Header: []string{"source", "data, model", "ε", "accuracy"}}
	t.Add("Abadi et al. 2016", "MNIST, PCA-60 + 1000-unit ReLU MLP", "0.5 / 2 / 8", "90 / 95 / 97 %")
	t.Add("Papernot et al. 2021", "Fashion-MNIST, CNN with tempered sigmoids", "2.7", "86.1 %")
	t.Add("Tramèr and Boneh 2021", "Fashion-MNIST, end-to-end CNN", "3", "86.0 %")
	t.Add("Tramèr and Boneh 2021", "Fashion-MNIST, ScatterNet features + linear", "3", "89.7 %")
	return t
}

const anchorNotes = `Ours are not the same experiment. The published models are convolutional
networks (or a scattering transform with a linear head) trained for tens of epochs with batch size,
learning rate and clip norm tuned, on GPUs; ours are a softmax regression and a 32-unit tanh MLP on raw
pixels, 3 epochs on Fashion-MNIST with batch 256, on 2 shared CPU cores, with one learning rate (4,
chosen from {1, 4} at ε = 3 and 2 epochs, a choice that itself is not private) for every ε. The
no-noise row bounds what each of our models reaches in this budget; the 86-90 % anchors need
convolutional or scattering features we do not have, and more epochs. Abadi et al.'s anchors are on
MNIST, which we do not ship; the 8x8 digits (1,438 training images) are far smaller, so the noise
weighs more at equal ε. We have not run the scattering-transform variant.`
