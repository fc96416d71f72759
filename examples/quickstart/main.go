// Command quickstart shows one call of each privml pillar in a few seconds,
// with no external files:
//
//   - dp: the analytic Gaussian mechanism adds exact lattice noise to a
//     gradient, and an RDP accountant says what 1,000 DP-SGD steps spend;
//   - anonymize: Mondrian makes a small table 3-anonymous and the
//     independent verifier checks it;
//   - federated/secagg: 20 clients add up vectors with SecAgg+ while three
//     drop out, and a lying server that asks for both shares of a client is
//     refused;
//   - he: a logistic regression on the embedded breast-cancer data runs on
//     encrypted inputs and is checked against plaintext.
//
// Run it with
//
//	go run ./examples/quickstart
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"strings"
	"time"

	"github.com/privml/privml/anonymize"
	"github.com/privml/privml/dp"
	"github.com/privml/privml/dp/accounting"
	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
	"github.com/privml/privml/he"
	"github.com/privml/privml/internal/dataset"
)

func main() {
	samples := flag.Int("he-samples", 64, "number of breast-cancer test samples to classify under encryption")
	flag.Parse()
	if err := run(os.Stdout, *samples); err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer, heSamples int) error {
	for _, step := range []struct {
		name string
		fn   func(io.Writer) error
	}{
		{"dp", runDP},
		{"anonymize", runAnonymize},
		{"federated/secagg", runSecAgg},
		{"he", func(w io.Writer) error { return runHE(w, heSamples) }},
	} {
		start := time.Now()
		fmt.Fprintf(w, "== %s\n", step.name)
		if err := step.fn(w); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		fmt.Fprintf(w, "   (%v)\n", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func runDP(w io.Writer) error {
	// (epsilon, delta) = (1, 1e-5) for one release of a gradient whose L2
	// sensitivity is 1; sigma is calibrated once, then noise is added to the
	// whole vector.
	m, err := dp.NewGaussianMechanism(1, 1e-5, 1)
	if err != nil {
		return err
	}
	grad := make([]float64, 1_000_000)
	if err := m.AddNoise(grad); err != nil {
		return err
	}
	fmt.Fprintf(w, "   Gaussian mechanism: sigma %.4f on a grid of %.3g, 1,000,000 coordinates noised\n", m.Sigma(), m.Granularity())

	eps, order, err := accounting.PoissonGaussianEpsilon(0.01, 1.1, 1000, 1e-5, accounting.RDPConfig{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   DP-SGD, q=0.01, noise multiplier 1.1, 1000 steps: epsilon %.3f at delta 1e-5 (RDP order %g)\n", eps, order)
	return nil
}

const patients = `age,zip,disease
31,81667,flu
33,81669,cold
35,81671,flu
38,81672,asthma
52,81733,cancer
55,81735,flu
58,81737,cold
61,81739,asthma
`

func runAnonymize(w io.Writer) error {
	t, err := anonymize.ReadCSV(strings.NewReader(patients), anonymize.CSVOptions{})
	if err != nil {
		return err
	}
	spec := anonymize.Spec{
		QIs:       []anonymize.QI{{Column: "age", Kind: anonymize.Numeric}, {Column: "zip", Kind: anonymize.Numeric}},
		Sensitive: "disease",
		K:         3,
		L:         &anonymize.LDiversity{Kind: anonymize.DistinctL, L: 3},
	}
	res, err := anonymize.Mondrian(t, spec, nil)
	if err != nil {
		return err
	}
	rep, err := anonymize.Verify(t, res.Output, spec)
	if err != nil {
		return err
	}
	var sb strings.Builder
	if err := res.Output.WriteCSV(&sb, ','); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(sb.String()), "\n") {
		fmt.Fprintf(w, "   %s\n", line)
	}
	fmt.Fprintf(w, "   verified: k=%d, distinct l=%d, NCP %.1f%%\n", rep.KMin, rep.LDistinct, rep.NCP)
	return nil
}

func runSecAgg(w io.Writer) error {
	p, err := secagg.NewParams(secagg.Config{NumClients: 20, Dim: 4, Bits: 24, MaxAbs: 1000, DropoutRate: 0.2, CorruptRate: 0.1})
	if err != nil {
		return err
	}
	inputs := func(client int, dst []int64) {
		for j := range dst {
			dst[j] = int64(client * (j + 1))
		}
	}
	rep, err := sim.Run(p, inputs, sim.Options{Drop: map[secagg.Round][]int{
		secagg.RoundMaskedInput: {3, 7},
		secagg.RoundUnmask:      {11},
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   20 clients, SecAgg+ degree k=%d, threshold t=%d, 3 dropouts: sum of %d survivors %v, correct: %v\n",
		p.Degree(), p.Threshold(), len(rep.Result.Survivors), rep.Result.Sum, rep.Correct)
	rep, err = sim.Run(p, inputs, sim.Options{Server: sim.AskBothShares, Target: 4})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   a server asking for both shares of client 4: result released %v, honest clients refusing %d\n",
		rep.Result != nil, len(rep.ClientErrors))
	return nil
}

func runHE(w io.Writer, n int) error {
	data, err := dataset.BreastCancer()
	if err != nil {
		return err
	}
	train, test, err := data.Split(1, 0.2)
	if err != nil {
		return err
	}
	if _, err := dataset.Standardize(train, test); err != nil {
		return err
	}
	wts, bias := trainLogReg(train, 200, 0.5)
	// Interval 0: the planner sets the sigmoid's approximation interval from
	// the training data given as calibration samples.
	model, err := he.NewLogisticRegression(wts, bias, 7, 0)
	if err != nil {
		return err
	}
	if n > test.Rows {
		n = test.Rows
	}
	xs := make([][]float64, n)
	for i := range xs {
		xs[i] = test.Row(i)
	}
	calib := make([][]float64, train.Rows)
	for i := range calib {
		calib[i] = train.Row(i)
	}
	opts := he.CompileOptions{Mode: he.Batch, Calibration: calib}
	plan, err := he.Compile(model, opts)
	if err != nil {
		return err
	}
	for _, x := range xs { // test rows beyond the calibrated range are clamped into it
		plan.ClampInput(x)
	}
	rep, err := he.Verify(model, xs, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   logistic regression on %d encrypted breast-cancer samples: %d/%d decisions agree with plaintext\n",
		rep.Samples, rep.Agreed, rep.Samples)
	fmt.Fprintf(w, "   max probability error %.3f, of which the degree-7 sigmoid polynomial alone accounts for %.3f\n",
		rep.MaxAbsError, rep.MaxApproxError)
	return nil
}

// trainLogReg fits logistic regression by full-batch gradient descent.
func trainLogReg(d *dataset.Dataset, epochs int, lr float64) ([]float64, float64) {
	w := make([]float64, d.Cols)
	var b float64
	g := make([]float64, d.Cols)
	for range epochs {
		clear(g)
		var gb float64
		for i := range d.Rows {
			x := d.Row(i)
			z := b
			for j, v := range x {
				z += w[j] * v
			}
			e := sigmoid(z) - float64(d.Y[i])
			for j, v := range x {
				g[j] += e * v
			}
			gb += e
		}
		for j := range w {
			w[j] -= lr * g[j] / float64(d.Rows)
		}
		b -= lr * gb / float64(d.Rows)
	}
	return w, b
}

func sigmoid(z float64) float64 {
	if z < 0 {
		e := math.Exp(z)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(-z))
}
