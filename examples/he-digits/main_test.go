package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestMainSmall runs main on a few images with a short training.
func TestMainSmall(t *testing.T) {
	old := os.Args
	defer func() { os.Args = old }()
	os.Args = []string{"he-digits", "-mode", "batch", "-n", "20", "-epochs", "5"}
	main()
}

// TestEncryptedMatchesPlaintext checks the -json output in both modes:
// every argmax agrees with plaintext inference and logits are within 0.05.
func TestEncryptedMatchesPlaintext(t *testing.T) {
	for _, mode := range []string{"batch", "latency"} {
		var out bytes.Buffer
		if err := run([]string{"-mode", mode, "-n", "4", "-epochs", "5", "-json"}, &out); err != nil {
			t.Fatal(err)
		}
		var r Result
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out.String())
		}
		if r.Agreement != 1 || r.EncryptedAccuracy != r.PlainAccuracy || r.MaxAbsError > 0.05 {
			t.Fatalf("%s: agreement %v, accuracy %v vs %v, max error %g", mode, r.Agreement, r.EncryptedAccuracy, r.PlainAccuracy, r.MaxAbsError)
		}
		if r.PlainAccuracy < 0.5 {
			t.Fatalf("%s: plaintext accuracy %v after 5 epochs", mode, r.PlainAccuracy)
		}
		if r.EvalKeyBytes <= 0 || r.EvalMSPerSample <= 0 {
			t.Fatalf("%s: missing sizes or timings: %+v", mode, r)
		}
	}
}
