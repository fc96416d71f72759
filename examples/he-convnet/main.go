// Command he-convnet trains a small convolutional network on Fashion-MNIST
// in plain Go, then classifies test images under CKKS encryption: the
// client encrypts each 28x28 image, the server evaluates the network with
// evaluation keys only, the client decrypts the ten logits. The network is
// the one of TenSEAL's encrypted MNIST tutorial: a convolution of 4 filters
// 7x7 with stride 3 (256 outputs), x², a dense layer 256→64, x², and a
// dense layer 64→10. The convolution is lowered to a dense layer by
// he.Conv2D.Dense.
//
// It prints the training loss and accuracy per epoch, progress every 10
// encrypted images, the time of every phase, key and ciphertext sizes,
// plaintext accuracy on the whole test split and on the encrypted images,
// encrypted accuracy, argmax agreement and the largest logit error.
//
// Usage:
//
//	go run ./examples/he-convnet [-data dir] [-n 100] [-epochs 5] [-train 0]
//	    [-split 0] [-batch 64] [-lr 0.001] [-seed 1] [-json]
//
// The data folder holds the four gzipped IDX files of Fashion-MNIST; by
// default $PRIVML_DATASETS/fashion-mnist, else ../shared/datasets/fashion-mnist
// beside the repository root.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/privml/privml/examples/internal/hedemo"
	"github.com/privml/privml/he"
	"github.com/privml/privml/internal/convnet"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "he-convnet:", err)
		os.Exit(1)
	}
}

// Result is what -json prints. The shared fields keep the meaning they have
// in examples/he-digits: Samples is the number of images classified under
// encryption, and the accuracies and agreement are over those.
type Result struct {
	Model             string  `json:"model"`
	Mode              string  `json:"mode"`
	Data              string  `json:"data"`
	TrainImages       int     `json:"train_images"`
	TestImages        int     `json:"test_images"`
	Epochs            int     `json:"epochs"`
	TrainLoss         float64 `json:"train_loss"`
	TrainS            float64 `json:"train_s"`
	PlainAccuracyFull float64 `json:"plain_accuracy_full"`
	EncryptMSPerImage float64 `json:"encrypt_ms_per_sample"`
	DecryptMSPerImage float64 `json:"decrypt_ms_per_sample"`
	hedemo.Result
}

type options struct {
	data                string
	n, epochs, trainMax int
	split, batch        int
	lr                  float64
	seed                uint64
	json                bool
}

// run executes the command. Text output goes to out; with -json, out gets
// only the JSON object and the progress lines go to log.
func run(args []string, out, log io.Writer) error {
	var o options
	flags := flag.NewFlagSet("he-convnet", flag.ContinueOnError)
	flags.SetOutput(out)
	flags.StringVar(&o.data, "data", "", "folder with the Fashion-MNIST IDX files (default: $PRIVML_DATASETS/fashion-mnist, else ../shared/datasets/fashion-mnist beside the repository)")
	flags.IntVar(&o.n, "n", 100, "number of test images to classify under encryption (0: the whole test split)")
	flags.IntVar(&o.epochs, "epochs", 5, "training epochs")
	flags.IntVar(&o.trainMax, "train", 0, "train on the first this many training images (0: all)")
	flags.IntVar(&o.split, "split", 0, "if > 0, read only the test files: train on their first split images and test on the rest (for the subset in testdata, which has no training files)")
	flags.IntVar(&o.batch, "batch", 64, "mini-batch size")
	flags.Float64Var(&o.lr, "lr", 0.001, "Adam step size")
	flags.Uint64Var(&o.seed, "seed", 1, "seed of initialisation and shuffling (not of any encryption randomness)")
	flags.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	switch {
	case o.n < 0:
		return fmt.Errorf("-n = %d, want >= 0", o.n)
	case o.epochs < 1:
		return fmt.Errorf("-epochs = %d, want >= 1", o.epochs)
	case o.trainMax < 0:
		return fmt.Errorf("-train = %d, want >= 0", o.trainMax)
	case o.split < 0:
		return fmt.Errorf("-split = %d, want >= 0", o.split)
	case o.batch < 1:
		return fmt.Errorf("-batch = %d, want >= 1", o.batch)
	case !(o.lr > 0 && o.lr < 1):
		return fmt.Errorf("-lr = %v, want in (0, 1)", o.lr)
	}
	progress := out
	if o.json {
		progress = log
	}

	dir, err := dataDir(o.data)
	if err != nil {
		return err
	}
	trainX, trainY, testX, testY, err := load(dir, o.split)
	if err != nil {
		return err
	}
	if o.trainMax > 0 && o.trainMax < len(trainX) {
		trainX, trainY = trainX[:o.trainMax], trainY[:o.trainMax]
	}
	res := Result{Model: "conv 4x7x7 stride 3, x^2, 256-64, x^2, 64-10", Mode: "latency", Data: dir,
		TrainImages: len(trainX), TestImages: len(testX), Epochs: o.epochs}
	fmt.Fprintf(progress, "data         %s: %d training, %d test images\n", dir, len(trainX), len(testX))

	t0 := time.Now()
	nn, err := convnet.Train(trainX, trainY, testX, testY, convnet.Config{Epochs: o.epochs, Batch: o.batch, LR: o.lr, Clip: 5, Seed: o.seed}, progress)
	if err != nil {
		return err
	}
	res.TrainS = time.Since(t0).Seconds()
	res.TrainLoss = nn.Loss(trainX, trainY)
	res.PlainAccuracyFull = nn.Accuracy(testX, testY)
	model, err := nn.Model()
	if err != nil {
		return err
	}

	samples, labels := testX, testY
	if o.n > 0 && o.n < len(samples) {
		samples, labels = samples[:o.n], labels[:o.n]
	}
	s, err := hedemo.Setup(model, he.CompileOptions{Mode: he.Latency, Calibration: trainX[:min(len(trainX), 2000)],
		// Pixels are scaled to [0, 1]: every image is in range, seen in training or not.
		InputRange: [2]float64{0, 1}}, &res.Result)
	if err != nil {
		return err
	}
	defer s.Close()
	client, server, plan := s.Client, s.Server, s.Plan
	fmt.Fprintf(progress, "he           %s, depth %d, keys ready in %.1f s\n", res.Parameters, plan.Depth(), (res.KeygenMS+res.ServerSetupMS)/1e3)

	// One image at a time, as a latency-mode client would send them.
	rep := &he.Report{}
	var encT, evalT, decT time.Duration
	agreed := 0
	for i, x := range samples {
		t0 = time.Now()
		cts, err := client.Encrypt(plan, [][]float64{x})
		if err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		encT += time.Since(t0)
		res.InputBytes = cts[0].Bytes()
		t0 = time.Now()
		r, err := server.Evaluate(cts[0])
		if err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		evalT += time.Since(t0)
		res.OutputBytes = r.Bytes()
		t0 = time.Now()
		dec, err := client.Decrypt(r)
		if err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		decT += time.Since(t0)
		rep.Outputs = append(rep.Outputs, dec...)
		if p, err := model.Predict(x); err == nil && model.Class(p) == model.Class(dec[0]) {
			agreed++
		}
		if (i+1)%10 == 0 || i+1 == len(samples) {
			fmt.Fprintf(progress, "encrypted    %d/%d images, %d agree with plaintext, %.1f ms per evaluation\n",
				i+1, len(samples), agreed, hedemo.MS(evalT)/float64(i+1))
		}
	}
	res.EncryptMS, res.EvalMS, res.DecryptMS = hedemo.MS(encT), hedemo.MS(evalT), hedemo.MS(decT)
	k := float64(len(samples))
	res.EncryptMSPerImage, res.EvalMSPerSample, res.DecryptMSPerImage = res.EncryptMS/k, res.EvalMS/k, res.DecryptMS/k

	if err := hedemo.Score(s, model, samples, labels, rep, &res.Result); err != nil {
		return err
	}

	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(out, "model        %s, mode %s, %d encrypted test images\n", res.Model, res.Mode, res.Samples)
	fmt.Fprintf(out, "training     %d images, %d epochs, %.1f s, final loss %.4f\n", res.TrainImages, res.Epochs, res.TrainS, res.TrainLoss)
	hedemo.PrintSetup(out, &res.Result)
	fmt.Fprintf(out, "encrypt      %8.1f ms per image  (ciphertext %.2f MB)\n", res.EncryptMSPerImage, float64(res.InputBytes)/1e6)
	fmt.Fprintf(out, "evaluate     %8.1f ms per image  (result %.2f MB)\n", res.EvalMSPerSample, float64(res.OutputBytes)/1e6)
	fmt.Fprintf(out, "decrypt      %8.1f ms per image\n", res.DecryptMSPerImage)
	fmt.Fprintf(out, "accuracy     plaintext %.4f on all %d test images\n", res.PlainAccuracyFull, res.TestImages)
	fmt.Fprintf(out, "             plaintext %.4f, encrypted %.4f on the %d encrypted images\n", res.PlainAccuracy, res.EncryptedAccuracy, res.Samples)
	fmt.Fprintf(out, "agreement    %d/%d argmax, max logit error %.2e\n", rep.Agreed, rep.Samples, res.MaxAbsError)
	return nil
}

// dataDir returns the Fashion-MNIST folder: flagDir if set, else
// $PRIVML_DATASETS/fashion-mnist, else ../shared/datasets/fashion-mnist
// beside the repository root (the first folder above the working directory
// with a go.mod).
func dataDir(flagDir string) (string, error) {
	if flagDir != "" {
		return flagDir, nil
	}
	if d := os.Getenv("PRIVML_DATASETS"); d != "" {
		return filepath.Join(d, "fashion-mnist"), nil
	}
	root, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return filepath.Join(root, "..", "shared", "datasets", "fashion-mnist"), nil
		}
		parent := filepath.Dir(root)
		if parent == root {
			return filepath.Join("..", "shared", "datasets", "fashion-mnist"), nil
		}
		root = parent
	}
}

// load reads the training and test images scaled to [0, 1]. With split > 0
// it reads only the test files and splits them.
func load(dir string, split int) (trainX [][]float64, trainY []int, testX [][]float64, testY []int, err error) {
	hint := func(err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no Fashion-MNIST in %s (pass -data with a folder holding "+
				"{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz, or set PRIVML_DATASETS to the folder above it; "+
				"on Debian, apt-get install dataset-fashion-mnist installs them): %w", dir, err)
		}
		return err
	}
	testX, testY, err = convnet.Load(dir, "t10k")
	if err != nil {
		return nil, nil, nil, nil, hint(err)
	}
	if split > 0 {
		if split >= len(testX) {
			return nil, nil, nil, nil, fmt.Errorf("-split = %d, but %s has only %d test images", split, dir, len(testX))
		}
		return testX[:split], testY[:split], testX[split:], testY[split:], nil
	}
	trainX, trainY, err = convnet.Load(dir, "train")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil, nil, fmt.Errorf("%s has no training files (use -split N to train on the first N test images): %w", dir, err)
		}
		return nil, nil, nil, nil, err
	}
	return trainX, trainY, testX, testY, nil
}
