// Command he-logreg trains a logistic regression on the breast cancer
// data set (30 features) in plain Go, then scores the test split under CKKS
// encryption: the client encrypts the standardized features, the server
// computes sigmoid(w·x + b) with a Chebyshev interpolant of the sigmoid
// using evaluation keys only, and the client decrypts the probabilities.
// It prints the time of every phase, key and ciphertext sizes, plaintext
// and encrypted accuracy, agreement of the decisions and the largest
// probability error.
//
// Usage:
//
//	go run ./examples/he-logreg [-mode latency|batch] [-degree 7] [-n 0]
//	    [-seed 1] [-json]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/privml/privml/examples/internal/hedemo"
	"github.com/privml/privml/he"
	"github.com/privml/privml/internal/dataset"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "he-logreg:", err)
		os.Exit(1)
	}
}

// Result is what -json prints.
type Result struct {
	Model           string  `json:"model"`
	Mode            string  `json:"mode"`
	SigmoidDegree   int     `json:"sigmoid_degree"`
	SigmoidInterval float64 `json:"sigmoid_interval"`
	MaxApproxError  float64 `json:"max_approx_error"`
	hedemo.Result
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("he-logreg", flag.ContinueOnError)
	fs.SetOutput(out)
	mode := fs.String("mode", "latency", "packing: latency (one sample per ciphertext) or batch (one ciphertext per feature)")
	degree := fs.Int("degree", 7, "degree of the Chebyshev interpolant of the sigmoid")
	n := fs.Int("n", 0, "number of test samples to score under encryption (0: the whole test split)")
	seed := fs.Uint64("seed", 1, "seed of the train/test split")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := hedemo.ParseMode(*mode)
	if err != nil {
		return err
	}

	data, err := dataset.BreastCancer()
	if err != nil {
		return err
	}
	train, test, err := data.Split(*seed, 0.2)
	if err != nil {
		return err
	}
	if _, err := dataset.Standardize(train, test); err != nil {
		return err
	}
	w, b := trainLogReg(train, 2000, 0.5, 1e-2)
	model, err := he.NewLogisticRegression(w, b, *degree, 0)
	if err != nil {
		return err
	}
	samples, labels := hedemo.Rows(test), test.Y
	if *n > 0 && *n < len(samples) {
		samples, labels = samples[:*n], labels[:*n]
	}

	res := Result{Model: "logistic regression, 30 features", Mode: *mode, SigmoidDegree: *degree}
	s, err := hedemo.Setup(model, he.CompileOptions{Mode: m, Calibration: hedemo.Rows(train)}, &res.Result)
	if err != nil {
		return err
	}
	defer s.Close()
	res.SigmoidInterval = s.Plan.Model().Layers[0].Interval
	// Test records beyond the training data's range (widened by a
	// quarter) are clamped into it, and counted, rather than refused.
	s.Clamp(samples, &res.Result)
	rep, nct, err := s.RunAll(samples, &res.Result)
	if err != nil {
		return err
	}
	if err := hedemo.Score(s, model, samples, labels, rep, &res.Result); err != nil {
		return err
	}
	res.MaxApproxError = rep.MaxApproxError

	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(out, "model        %s, mode %s, %d test samples\n", res.Model, res.Mode, res.Samples)
	fmt.Fprintf(out, "sigmoid      Chebyshev degree %d on [-%g, %g]\n", res.SigmoidDegree, res.SigmoidInterval, res.SigmoidInterval)
	hedemo.PrintSetup(out, &res.Result)
	fmt.Fprintf(out, "encrypt      %8.1f ms  (%d ciphertexts of %.2f MB)\n", res.EncryptMS, nct, float64(res.InputBytes)/1e6)
	fmt.Fprintf(out, "evaluate     %8.1f ms  (%.3f ms per sample; result %.2f MB)\n", res.EvalMS, res.EvalMSPerSample, float64(res.OutputBytes)/1e6)
	fmt.Fprintf(out, "decrypt      %8.1f ms\n", res.DecryptMS)
	fmt.Fprintf(out, "accuracy     plaintext %.4f, encrypted %.4f\n", res.PlainAccuracy, res.EncryptedAccuracy)
	fmt.Fprintf(out, "clamped      %d features outside the calibrated range\n", res.ClampedFeatures)
	fmt.Fprintf(out, "agreement    %d/%d decisions, max probability error %.2e (interpolation alone %.2e)\n",
		rep.Agreed, rep.Samples, res.MaxAbsError, res.MaxApproxError)
	return nil
}

// trainLogReg fits w, b by full-batch gradient descent on the L2-regularized
// logistic loss.
func trainLogReg(d *dataset.Dataset, iters int, lr, l2 float64) ([]float64, float64) {
	w := make([]float64, d.Cols)
	g := make([]float64, d.Cols)
	b := 0.0
	for range iters {
		clear(g)
		gb := 0.0
		for i := range d.Rows {
			x := d.Row(i)
			z := b
			for j, v := range x {
				z += w[j] * v
			}
			e := 1/(1+math.Exp(-z)) - float64(d.Y[i])
			for j, v := range x {
				g[j] += e * v
			}
			gb += e
		}
		inv := 1 / float64(d.Rows)
		for j := range w {
			w[j] -= lr * (g[j]*inv + l2*w[j])
		}
		b -= lr * gb * inv
	}
	return w, b
}
