// Command he-digits trains a 64-32(x²)-10 multilayer perceptron on the 8x8
// handwritten digits in plain Go, then classifies the test split under CKKS
// encryption: the client encrypts each image, the server evaluates the
// network with evaluation keys only, the client decrypts the ten logits. It
// prints the time of every phase, key and ciphertext sizes, plaintext and
// encrypted accuracy, argmax agreement and the largest logit error.
//
// Usage:
//
//	go run ./examples/he-digits [-mode latency|batch] [-n 0] [-epochs 40]
//	    [-seed 1] [-json]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
		fmt.Fprintln(os.Stderr, "he-digits:", err)
		os.Exit(1)
	}
}

// Result is what -json prints.
type Result struct {
	Model string `json:"model"`
	Mode  string `json:"mode"`
	hedemo.Result
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("he-digits", flag.ContinueOnError)
	fs.SetOutput(out)
	mode := fs.String("mode", "latency", "packing: latency (one image per ciphertext) or batch (one ciphertext per pixel)")
	n := fs.Int("n", 0, "number of test images to classify under encryption (0: the whole test split)")
	epochs := fs.Int("epochs", 40, "training epochs")
	seed := fs.Uint64("seed", 1, "seed of the split and of training (not of any encryption randomness)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := hedemo.ParseMode(*mode)
	if err != nil {
		return err
	}

	data, err := dataset.Digits()
	if err != nil {
		return err
	}
	for i := range data.X {
		data.X[i] /= 16 // pixels 0..16 to [0, 1]
	}
	train, test, err := data.Split(*seed, 0.2)
	if err != nil {
		return err
	}
	model, err := hedemo.TrainMLP(train, 32, *epochs, *seed)
	if err != nil {
		return err
	}
	samples, labels := hedemo.Rows(test), test.Y
	if *n > 0 && *n < len(samples) {
		samples, labels = samples[:*n], labels[:*n]
	}

	res := Result{Model: "64-32(x^2)-10 MLP", Mode: *mode}
	s, err := hedemo.Setup(model, he.CompileOptions{Mode: m, Calibration: hedemo.Rows(train), InputRange: [2]float64{0, 1}}, &res.Result)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, nct, err := s.RunAll(samples, &res.Result)
	if err != nil {
		return err
	}
	if err := hedemo.Score(s, model, samples, labels, rep, &res.Result); err != nil {
		return err
	}

	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(out, "model        %s, mode %s, %d test images\n", res.Model, res.Mode, res.Samples)
	hedemo.PrintSetup(out, &res.Result)
	fmt.Fprintf(out, "encrypt      %8.1f ms  (%d ciphertexts of %.2f MB)\n", res.EncryptMS, nct, float64(res.InputBytes)/1e6)
	fmt.Fprintf(out, "evaluate     %8.1f ms  (%.3f ms per image; result %.2f MB)\n", res.EvalMS, res.EvalMSPerSample, float64(res.OutputBytes)/1e6)
	fmt.Fprintf(out, "decrypt      %8.1f ms\n", res.DecryptMS)
	fmt.Fprintf(out, "accuracy     plaintext %.4f, encrypted %.4f\n", res.PlainAccuracy, res.EncryptedAccuracy)
	fmt.Fprintf(out, "agreement    %d/%d argmax, max logit error %.2e\n", rep.Agreed, rep.Samples, res.MaxAbsError)
	return nil
}
