package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestMainSmall runs main on a few samples.
func TestMainSmall(t *testing.T) {
	old := os.Args
	defer func() { os.Args = old }()
	os.Args = []string{"he-logreg", "-mode", "batch", "-n", "16"}
	main()
}

// TestEncryptedMatchesPlaintext checks the -json output: every decision
// agrees with plaintext inference, and the probability error stays within
// the interpolation error of the degree-7 sigmoid plus 1e-3 for CKKS.
func TestEncryptedMatchesPlaintext(t *testing.T) {
	for _, mode := range []string{"batch", "latency"} {
		var out bytes.Buffer
		if err := run([]string{"-mode", mode, "-n", "6", "-json"}, &out); err != nil {
			t.Fatal(err)
		}
		var r Result
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out.String())
		}
		if r.Agreement != 1 || r.EncryptedAccuracy != r.PlainAccuracy {
			t.Fatalf("%s: agreement %v, accuracy %v vs %v", mode, r.Agreement, r.EncryptedAccuracy, r.PlainAccuracy)
		}
		if r.MaxAbsError > r.MaxApproxError+1e-3 {
			t.Fatalf("%s: max abs error %g exceeds interpolation error %g + 1e-3", mode, r.MaxAbsError, r.MaxApproxError)
		}
		if r.EvalKeyBytes <= 0 || r.EvalMSPerSample <= 0 {
			t.Fatalf("%s: missing sizes or timings: %+v", mode, r)
		}
	}
}
