// Package hestudy is the study run by benchmarks/he-study: the precision
// and cost of CKKS inference (package he) per parameter preset and model,
// against plaintext inference of the same model. It writes
// benchmarks/results/he.md and he.png.
//
//	go run ./benchmarks/he-study [-quick] [-n 20] [-seed 1] [-data DIR] [-conv-train 0] [-conv-epochs 2]
//
// Models, trained in plain Go: logistic regression on breast cancer (30
// standardised features, sigmoid of degree 7 and 15, over the interval set
// by calibration on the training rows), a digits MLP 64-32(x²)-10 (pixels
// scaled to [0, 1]), both on embedded data, and the conv net of
// examples/he-convnet (package convnet: convolution 4x7x7 stride 3, x²,
// 256→64, x², 64→10) on Fashion-MNIST from -data (folder fashion-mnist;
// default $PRIVML_DATASETS, else ../shared/datasets beside the repository),
// or with -quick on 150 images of the 200-image subset bundled with
// examples/he-convnet. For each preset the model is compiled with that
// preset forced (a preset too shallow for the model is reported as such)
// and calibrated on training rows only (the first 2000 for the conv net);
// test samples with features outside the calibrated input range are moved
// into it by [he.Plan.ClampInput] and counted. Keys are generated, n test
// samples are encrypted one per ciphertext (latency mode), evaluated and
// decrypted. Reported: the largest |encrypted − plaintext| output error
// (plaintext inference on the same, clamped, input), bits of precision
// (−log2 of it), evaluation latency per sample, evaluation-key size,
// argmax (or sign, for logistic regression) agreement with plaintext, and
// the clamped samples.
package hestudy

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot/plotter"

	"github.com/privml/privml/benchmarks/internal/mlmodel"
	"github.com/privml/privml/benchmarks/internal/study"
	"github.com/privml/privml/he"
	"github.com/privml/privml/internal/convnet"
	"github.com/privml/privml/internal/dataset"
)

// Point is one (preset, model) measurement.
type Point struct {
	Preset, Model string
	Skipped       string // why the preset cannot run the model
	MaxErr, Bits  float64
	ApproxErr     float64 // the part of MaxErr due to the polynomial activation alone
	LatencyMS     float64
	KeyBytes      int
	Agreed, N     int
	// Clamped test samples had features outside the input range calibrated
	// on the training rows, moved to its ends by [he.Plan.ClampInput]
	// (ClampedFeatures of them in all) before encryption.
	Clamped, ClampedFeatures int
}

type task struct {
	name    string
	about   string // how the model was trained, for the notes
	model   *he.Model
	samples [][]float64
	calib   [][]float64
}

func rows(d *dataset.Dataset) [][]float64 {
	var X [][]float64
	for i := range d.Rows {
		X = append(X, d.Row(i))
	}
	return X
}

func logregTask(n int, seed uint64, degree int) (*task, error) {
	d, err := dataset.BreastCancer()
	if err != nil {
		return nil, err
	}
	train, test, err := d.Split(seed, 0.2)
	if err != nil {
		return nil, err
	}
	if _, err := dataset.Standardize(train, test); err != nil {
		return nil, err
	}
	m := mlmodel.NewSoftmax(train.Cols, 2)
	mlmodel.TrainSGD(m, rows(train), train.Y, 20, 32, 0.1, seed)
	w := make([]float64, train.Cols)
	for j := range w {
		w[j] = m.W[train.Cols+1+j] - m.W[j]
	}
	b := m.W[2*(train.Cols+1)-1] - m.W[train.Cols]
	hm, err := he.NewLogisticRegression(w, b, degree, 0)
	if err != nil {
		return nil, err
	}
	X := rows(test)
	return &task{name: fmt.Sprintf("logistic regression (30, sigmoid deg %d)", degree), model: hm, samples: X[:min(n, len(X))], calib: rows(train)}, nil
}

// digitsTask trains a 64-32(x²)-10 MLP with plain SGD (square activation,
// as CKKS evaluates it exactly).
func digitsTask(n int, seed uint64, epochs int) (*task, error) {
	d, err := dataset.Digits()
	if err != nil {
		return nil, err
	}
	for i := range d.X {
		d.X[i] /= 16
	}
	train, test, err := d.Split(seed, 0.2)
	if err != nil {
		return nil, err
	}
	m := mlmodel.NewMLP(64, 32, 10, seed)
	m.Square = true
	mlmodel.TrainSGD(m, rows(train), train.Y, epochs, 32, 0.05, seed)
	w1, b1, w2, b2 := m.Split()
	mat := func(w []float64, r, c int) [][]float64 {
		out := make([][]float64, r)
		for i := range out {
			out[i] = append([]float64(nil), w[i*c:(i+1)*c]...)
		}
		return out
	}
	hm, err := he.NewMLP(
		he.Dense{Weights: mat(w1, 32, 64), Bias: b1, Activation: he.ActSquare},
		he.Dense{Weights: mat(w2, 10, 32), Bias: b2})
	if err != nil {
		return nil, err
	}
	X := rows(test)
	return &task{name: "digits MLP 64-32(x²)-10", model: hm, samples: X[:min(n, len(X))], calib: rows(train)}, nil
}

// convOptions are the settings of [convTask].
type convOptions struct {
	dir            string // Fashion-MNIST folder; "" for the 200-image subset of examples/he-convnet
	train          int    // train on the first this many training images (0: all)
	epochs, batch  int
	lr             float64
	seed           uint64
	n, calibration int
}

// convTask trains the conv net of examples/he-convnet (package convnet) on
// Fashion-MNIST, or on 150 images of the bundled subset (quick mode), and
// takes n test images as samples; calibration uses the first training
// images only.
func convTask(o convOptions, progress io.Writer) (*task, error) {
	var trainX, testX [][]float64
	var trainY, testY []int
	if o.dir == "" {
		root, ok := study.RepoRoot()
		if !ok {
			return nil, errors.New("no go.mod above the working directory: cannot find examples/he-convnet/testdata")
		}
		dir := filepath.Join(root, "examples", "he-convnet", "testdata")
		x, y, err := convnet.Load(dir, "t10k")
		if err != nil {
			return nil, err
		}
		trainX, trainY, testX, testY = x[:150], y[:150], x[150:], y[150:]
	} else {
		var err error
		if trainX, trainY, err = convnet.Load(o.dir, "train"); err != nil {
			return nil, study.MissingData("Fashion-MNIST", o.dir, err)
		}
		if testX, testY, err = convnet.Load(o.dir, "t10k"); err != nil {
			return nil, study.MissingData("Fashion-MNIST", o.dir, err)
		}
	}
	if o.train > 0 && o.train < len(trainX) {
		trainX, trainY = trainX[:o.train], trainY[:o.train]
	}
	nn, err := convnet.Train(trainX, trainY, testX, testY, convnet.Config{Epochs: o.epochs, Batch: o.batch, LR: o.lr, Clip: 5, Seed: o.seed}, progress)
	if err != nil {
		return nil, err
	}
	hm, err := nn.Model()
	if err != nil {
		return nil, err
	}
	about := fmt.Sprintf("The conv net is trained with Adam (batch %d, step %g, seed %d) for %d epochs on %d Fashion-MNIST training images; "+
		"plaintext test accuracy %.1f %% on %d test images.", o.batch, o.lr, o.seed, o.epochs, len(trainX), 100*nn.Accuracy(testX, testY), len(testX))
	return &task{name: "conv net 4x7x7/3(x²)-64(x²)-10", about: about, model: hm, samples: testX[:min(o.n, len(testX))],
		calib: trainX[:min(o.calibration, len(trainX))]}, nil
}

// measure runs the model under one preset.
func measure(t *task, preset he.Preset) (*Point, error) {
	p := &Point{Preset: preset.String(), Model: t.name, N: len(t.samples)}
	params, err := he.NewParameters(preset)
	if err != nil {
		return nil, err
	}
	plan, err := he.Compile(t.model, he.CompileOptions{Parameters: &params, Calibration: t.calib})
	if err != nil {
		if errors.Is(err, he.ErrDepth) {
			p.Skipped = err.Error()
			return p, nil
		}
		return nil, err
	}
	client, err := he.NewClient(plan.Parameters())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	keys, err := client.GenEvaluationKeys(plan)
	if err != nil {
		return nil, err
	}
	p.KeyBytes = keys.Bytes()
	server, err := he.NewServer(plan, keys)
	if err != nil {
		return nil, err
	}
	samples := make([][]float64, len(t.samples))
	for i, x := range t.samples {
		samples[i] = slices.Clone(x)
		if k := plan.ClampInput(samples[i]); k > 0 {
			p.Clamped++
			p.ClampedFeatures += k
		}
	}
	cts, err := client.Encrypt(plan, samples)
	if err != nil {
		return nil, err
	}
	rep := &he.Report{}
	var eval time.Duration
	for _, ct := range cts {
		t0 := time.Now()
		res, err := server.Evaluate(ct)
		eval += time.Since(t0)
		if err != nil {
			return nil, err
		}
		out, err := client.Decrypt(res)
		if err != nil {
			return nil, err
		}
		rep.Outputs = append(rep.Outputs, out...)
	}
	if err := he.Compare(plan, samples, rep); err != nil {
		return nil, err
	}
	p.MaxErr, p.ApproxErr, p.Agreed = rep.MaxAbsError, rep.MaxApproxError, rep.Agreed
	p.Bits = -math.Log2(rep.MaxAbsError)
	p.LatencyMS = float64(eval.Microseconds()) / 1e3 / float64(len(t.samples))
	return p, nil
}

// Main runs the study with the command-line args, printing progress to out.
func Main(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("he-study", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "tiny settings: PN13 (and PN14 for the conv net), 2 samples, the conv net trained briefly on the subset of examples/he-convnet")
	n := fs.Int("n", 20, "test samples per (preset, model)")
	seed := fs.Uint64("seed", 1, "seed of the splits and of training (not of any encryption randomness)")
	data := fs.String("data", "", "folder of the shared data sets, with fashion-mnist/ for the conv net (default: $PRIVML_DATASETS, else ../shared/datasets beside the repository; unused with -quick)")
	convTrain := fs.Int("conv-train", 0, "train the conv net on the first this many Fashion-MNIST training images (0: all)")
	convEpochs := fs.Int("conv-epochs", 2, "training epochs of the conv net")
	dir := fs.String("out", study.ResultsDir(), "results folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	presets := he.Presets()
	epochs := 40
	conv := convOptions{dir: filepath.Join(study.DatasetsDir(*data), "fashion-mnist"), train: *convTrain, epochs: *convEpochs,
		batch: 64, lr: 0.001, seed: *seed, calibration: 2000}
	if *quick {
		presets, *n, epochs = presets[:1], 2, 5
		conv.dir, conv.train, conv.epochs, conv.batch, conv.lr = "", 0, 2, 16, 0.002
	}
	switch {
	case *n < 1:
		return fmt.Errorf("-n = %d, want >= 1", *n)
	case *convTrain < 0:
		return fmt.Errorf("-conv-train = %d, want >= 0", *convTrain)
	case *convEpochs < 1:
		return fmt.Errorf("-conv-epochs = %d, want >= 1", *convEpochs)
	}
	conv.n = *n
	run, err := study.NewRun("he", *dir, *seed, *quick, out)
	if err != nil {
		return err
	}
	lr, err := logregTask(*n, *seed, 7)
	if err != nil {
		return err
	}
	lr15, err := logregTask(*n, *seed, 15)
	if err != nil {
		return err
	}
	mlp, err := digitsTask(*n, *seed, epochs)
	if err != nil {
		return err
	}
	run.Progress("training the conv net (%d epochs)", conv.epochs)
	cnn, err := convTask(conv, out)
	if err != nil {
		return err
	}
	type job struct {
		t       *task
		presets []he.Preset
	}
	jobs := []job{{lr, presets}, {lr15, presets}, {mlp, presets}, {cnn, presets}}
	if *quick {
		// The conv net needs depth 5: PN13 is reported too shallow, PN14 runs.
		jobs = []job{{lr, presets}, {mlp, presets}, {cnn, he.Presets()[:2]}}
	}
	var pts []*Point
	for _, j := range jobs {
		for _, pr := range j.presets {
			p, err := measure(j.t, pr)
			if err != nil {
				return fmt.Errorf("%s, %v: %w", j.t.name, pr, err)
			}
			if p.Skipped != "" {
				run.Progress("%s, %s: skipped: %s", j.t.name, p.Preset, p.Skipped)
			} else {
				run.Progress("%s, %s: max error %.2e (%.1f bits), %.1f ms/sample, keys %.1f MB, %d/%d agree, %d clamped",
					j.t.name, p.Preset, p.MaxErr, p.Bits, p.LatencyMS, float64(p.KeyBytes)/1e6, p.Agreed, p.N, p.Clamped)
			}
			pts = append(pts, p)
		}
	}
	var about []string
	for _, j := range jobs {
		if j.t.about != "" {
			about = append(about, j.t.about)
		}
	}
	return write(run, pts, about)
}

func write(run *study.Run, pts []*Point, about []string) error {
	t := &study.Table{Header: []string{"model", "preset", "max error", "of which polynomial approximation", "bits of precision", "ms / sample", "eval keys MB", "agreement", "clamped samples (features)"}}
	series := map[string]plotter.XYs{}
	var names []string
	for _, p := range pts {
		if p.Skipped != "" {
			t.Add(p.Model, p.Preset, "too deep for the preset", "", "", "", "", "", "")
			continue
		}
		t.Add(p.Model, p.Preset, fmt.Sprintf("%.2e", p.MaxErr), fmt.Sprintf("%.2e", p.ApproxErr), fmt.Sprintf("%.1f", p.Bits), fmt.Sprintf("%.1f", p.LatencyMS),
			fmt.Sprintf("%.1f", float64(p.KeyBytes)/1e6), fmt.Sprintf("%d / %d", p.Agreed, p.N), fmt.Sprintf("%d (%d)", p.Clamped, p.ClampedFeatures))
		if _, ok := series[p.Model]; !ok {
			names = append(names, p.Model)
		}
		series[p.Model] = append(series[p.Model], plotter.XY{X: p.LatencyMS, Y: p.Bits})
	}
	var ss []study.Series
	for _, n := range names {
		ss = append(ss, study.Series{Name: n, XY: series[n]})
	}
	cmd := "go run ./benchmarks/he-study"
	if run.Quick {
		cmd += " -quick"
	}
	notes := `Latency mode (one sample per ciphertext), one Evaluate call at a time, the preset forced for each
row (PN13, PN14, PN15 in order of ring degree). Bits of precision: −log2 of the largest absolute error
of any output over the samples, against plaintext inference with the exact activation; the next column is the error of plaintext inference with the
polynomial activation alone, so the CKKS noise is the rest (the sigmoid's Chebyshev interpolant over the calibrated
interval, 1.25 times the largest training logit, dominates the logistic-regression error; x² is exact). Evaluation keys: serialized size. Calibration uses
training rows only (the first 2000 for the conv net); test samples outside the calibrated input range are moved into it
by he.Plan.ClampInput before encryption and compared on that input (last column: clamped samples, and features moved).
The forced preset keeps all its levels (PN14 has depth 8), so the conv net is slower here than in
examples/he-convnet, whose planner truncates PN14 to the depth 5 the network needs. Measured on a shared machine: latencies
are upper bounds.`
	for _, a := range about {
		notes += "\n" + a
	}
	if _, err := run.WriteMarkdown("CKKS inference: precision and cost per preset", cmd, study.Section{Table: t, Notes: notes}); err != nil {
		return err
	}
	_, err := run.WritePNG(".png", study.Plot{Title: "CKKS inference: precision against latency", X: "ms per sample (latency mode)", Y: "bits of precision", Series: ss})
	return err
}
