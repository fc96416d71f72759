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
	"time"

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
	Model             string  `json:"model"`
	Mode              string  `json:"mode"`
	Parameters        string  `json:"parameters"`
	SigmoidDegree     int     `json:"sigmoid_degree"`
	SigmoidInterval   float64 `json:"sigmoid_interval"`
	Samples           int     `json:"samples"`
	PlainAccuracy     float64 `json:"plain_accuracy"`
	EncryptedAccuracy float64 `json:"encrypted_accuracy"`
	Agreement         float64 `json:"agreement"`
	MaxAbsError       float64 `json:"max_abs_error"`
	MaxApproxError    float64 `json:"max_approx_error"`
	CompileMS         float64 `json:"compile_ms"`
	KeygenMS          float64 `json:"keygen_ms"`
	ServerSetupMS     float64 `json:"server_setup_ms"`
	EncryptMS         float64 `json:"encrypt_ms"`
	EvalMS            float64 `json:"eval_ms"`
	DecryptMS         float64 `json:"decrypt_ms"`
	EvalMSPerSample   float64 `json:"eval_ms_per_sample"`
	EvalKeyBytes      int     `json:"eval_key_bytes"`
	GaloisKeys        int     `json:"galois_keys"`
	InputBytes        int     `json:"input_ciphertext_bytes"`
	OutputBytes       int     `json:"output_ciphertext_bytes"`
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
	var m he.Mode
	switch *mode {
	case "latency":
		m = he.Latency
	case "batch":
		m = he.Batch
	default:
		return fmt.Errorf("unknown -mode %q (latency or batch)", *mode)
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
	samples, labels := rows(test), test.Y
	if *n > 0 && *n < len(samples) {
		samples, labels = samples[:*n], labels[:*n]
	}

	res := Result{Model: "logistic regression, 30 features", Mode: *mode, Samples: len(samples), SigmoidDegree: *degree}
	t0 := time.Now()
	plan, err := he.Compile(model, he.CompileOptions{Mode: m, Calibration: rows(train)})
	if err != nil {
		return err
	}
	res.CompileMS = ms(time.Since(t0))
	res.Parameters = plan.Parameters().String()
	res.SigmoidInterval = plan.Model().Layers[0].Interval

	t0 = time.Now()
	client, err := he.NewClient(plan.Parameters())
	if err != nil {
		return err
	}
	defer client.Close()
	keys, err := client.GenEvaluationKeys(plan)
	if err != nil {
		return err
	}
	res.KeygenMS = ms(time.Since(t0))
	res.EvalKeyBytes, res.GaloisKeys = keys.Bytes(), keys.GaloisKeys()

	t0 = time.Now()
	server, err := he.NewServer(plan, keys)
	if err != nil {
		return err
	}
	res.ServerSetupMS = ms(time.Since(t0))

	t0 = time.Now()
	cts, err := client.Encrypt(plan, samples)
	if err != nil {
		return err
	}
	res.EncryptMS = ms(time.Since(t0))
	res.InputBytes = cts[0].Bytes()

	var results []*he.Ciphertext
	t0 = time.Now()
	for _, ct := range cts {
		r, err := server.Evaluate(ct)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	res.EvalMS = ms(time.Since(t0))
	res.EvalMSPerSample = res.EvalMS / float64(len(samples))
	res.OutputBytes = results[0].Bytes()

	rep := &he.Report{}
	t0 = time.Now()
	for _, r := range results {
		o, err := client.Decrypt(r)
		if err != nil {
			return err
		}
		rep.Outputs = append(rep.Outputs, o...)
	}
	res.DecryptMS = ms(time.Since(t0))
	if err := he.Compare(plan, samples, rep); err != nil {
		return err
	}
	res.Agreement, res.MaxAbsError, res.MaxApproxError = rep.Agreement, rep.MaxAbsError, rep.MaxApproxError
	plainOK, encOK := 0, 0
	for i, x := range samples {
		p, _ := model.Predict(x)
		if model.Class(p) == labels[i] {
			plainOK++
		}
		if model.Class(rep.Outputs[i]) == labels[i] {
			encOK++
		}
	}
	res.PlainAccuracy = float64(plainOK) / float64(len(samples))
	res.EncryptedAccuracy = float64(encOK) / float64(len(samples))

	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(out, "model        %s, mode %s, %d test samples\n", res.Model, res.Mode, res.Samples)
	fmt.Fprintf(out, "sigmoid      Chebyshev degree %d on [-%g, %g]\n", res.SigmoidDegree, res.SigmoidInterval, res.SigmoidInterval)
	fmt.Fprintf(out, "parameters   %s\n", res.Parameters)
	fmt.Fprintf(out, "compile      %8.1f ms\n", res.CompileMS)
	fmt.Fprintf(out, "keygen       %8.1f ms  (%d Galois keys, %.1f MB compressed evaluation keys)\n", res.KeygenMS, res.GaloisKeys, float64(res.EvalKeyBytes)/1e6)
	fmt.Fprintf(out, "server setup %8.1f ms\n", res.ServerSetupMS)
	fmt.Fprintf(out, "encrypt      %8.1f ms  (%d ciphertexts of %.2f MB)\n", res.EncryptMS, len(cts), float64(res.InputBytes)/1e6)
	fmt.Fprintf(out, "evaluate     %8.1f ms  (%.3f ms per sample; result %.2f MB)\n", res.EvalMS, res.EvalMSPerSample, float64(res.OutputBytes)/1e6)
	fmt.Fprintf(out, "decrypt      %8.1f ms\n", res.DecryptMS)
	fmt.Fprintf(out, "accuracy     plaintext %.4f, encrypted %.4f\n", res.PlainAccuracy, res.EncryptedAccuracy)
	fmt.Fprintf(out, "agreement    %d/%d decisions, max probability error %.2e (interpolation alone %.2e)\n",
		rep.Agreed, rep.Samples, res.MaxAbsError, res.MaxApproxError)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

func rows(d *dataset.Dataset) [][]float64 {
	xs := make([][]float64, d.Rows)
	for i := range xs {
		xs[i] = d.Row(i)
	}
	return xs
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
