package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata holds the first 200 images of the Fashion-MNIST test split (see
// testdata/README.md); with -split 150 the example trains on 150 of them and
// tests on 50.
const testdata = "testdata"

// Bounds checked on the encrypted run.
const (
	// maxLogitError bounds |decrypted − plaintext| over all logits. The
	// network needs depth 5 at a scale of 2^38; measured errors are about
	// 1e-5 (1.4e-5 over 100 images after full training).
	maxLogitError = 1e-3
	// maxAccuracyGap is the largest allowed difference between encrypted
	// and plaintext accuracy on the encrypted images (0.5 points).
	maxAccuracyGap = 0.005
	minAgreement   = 0.99
)

// fullData returns the shared Fashion-MNIST folder when all four files are
// there, and "" otherwise.
func fullData(t *testing.T) string {
	dir, err := dataDir("")
	if err != nil {
		return ""
	}
	for _, f := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
		"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Logf("full Fashion-MNIST not found (%v): using %s", err, testdata)
			return ""
		}
	}
	return dir
}

// TestBadInput: bad flags and missing data give errors that name the flag
// or the folder, never a panic.
func TestBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "-1"}, "-n"},
		{[]string{"-epochs", "0"}, "-epochs"},
		{[]string{"-lr", "NaN"}, "-lr"},
		{[]string{"-batch", "0"}, "-batch"},
		{[]string{"-split", "-2"}, "-split"},
		{[]string{"-data", missing}, "-data"},
		{[]string{"-data", testdata}, "-split"},
		{[]string{"-data", testdata, "-split", "200"}, "-split"},
		{[]string{"stray"}, "stray"},
	} {
		err := run(c.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %q", c.args, err, c.want)
		}
	}
}

// TestEncryptedMatchesPlaintext trains briefly (on the shared Fashion-MNIST
// when present, else on the bundled subset), classifies a few test images
// under encryption, and checks the -json output: encrypted accuracy equals
// plaintext accuracy within 0.5 points, argmax agreement is at least 99 %,
// and no logit is off by more than maxLogitError.
func TestEncryptedMatchesPlaintext(t *testing.T) {
	if testing.Short() {
		t.Skip("encrypted inference takes about 20 s; skipped with -short")
	}
	args := []string{"-data", testdata, "-split", "150", "-epochs", "30", "-batch", "16", "-lr", "0.002", "-n", "10", "-json"}
	if dir := fullData(t); dir != "" {
		args = []string{"-data", dir, "-train", "6000", "-epochs", "2", "-n", "10", "-json"}
	}
	var out, log bytes.Buffer
	if err := run(args, &out, &log); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, log.String())
	}
	t.Logf("%v\n%s", args, log.String())
	var fields map[string]any
	if err := json.Unmarshal(out.Bytes(), &fields); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s", err, out.String())
	}
	for _, k := range []string{"plain_accuracy", "encrypted_accuracy", "agreement", "max_abs_error",
		"eval_ms_per_sample", "eval_key_bytes", "plain_accuracy_full", "samples", "test_images"} {
		if _, ok := fields[k].(float64); !ok {
			t.Errorf("-json output has no number %q:\n%s", k, out.String())
		}
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Samples != 10 {
		t.Errorf("%d encrypted images, want 10", r.Samples)
	}
	if math.Abs(r.EncryptedAccuracy-r.PlainAccuracy) > maxAccuracyGap {
		t.Errorf("encrypted accuracy %v, plaintext %v", r.EncryptedAccuracy, r.PlainAccuracy)
	}
	if r.Agreement < minAgreement {
		t.Errorf("argmax agreement %v < %v", r.Agreement, minAgreement)
	}
	if !(r.MaxAbsError < maxLogitError) {
		t.Errorf("max logit error %v, want < %v", r.MaxAbsError, maxLogitError)
	}
	if r.PlainAccuracyFull < 0.5 {
		t.Errorf("plaintext accuracy %v on %d test images (chance is 0.1)", r.PlainAccuracyFull, r.TestImages)
	}
	if r.EvalKeyBytes <= 0 || r.EvalMSPerSample <= 0 || r.InputBytes <= 0 {
		t.Errorf("missing sizes or timings: %+v", r)
	}
}
