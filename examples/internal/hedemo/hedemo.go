// Package hedemo holds what the encrypted-inference examples (he-digits,
// he-logreg, he-convnet) share: the timed protocol phases, the scoring of
// decrypted outputs against plaintext inference and the labels, and the
// fields of their -json output that keep one meaning across them.
package hedemo

import (
	"fmt"
	"io"
	"time"

	"github.com/privml/privml/he"
	"github.com/privml/privml/internal/dataset"
)

// Result holds the -json fields every example prints; each example embeds
// it in its own result type, so the names are the same everywhere.
// Samples is the number of inputs classified under encryption, and the
// accuracies and the agreement are over those.
type Result struct {
	Parameters        string  `json:"parameters"`
	Samples           int     `json:"samples"`
	PlainAccuracy     float64 `json:"plain_accuracy"`
	EncryptedAccuracy float64 `json:"encrypted_accuracy"`
	Agreement         float64 `json:"agreement"`
	MaxAbsError       float64 `json:"max_abs_error"`
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
	// ClampedFeatures counts the features of the samples that lay outside
	// the range the plan was calibrated for and were moved to its ends
	// (see [Session.Clamp]).
	ClampedFeatures int `json:"clamped_features"`
}

// Session is a compiled model with its two roles: the client that holds
// the secret key and the server that holds evaluation keys only.
type Session struct {
	Plan   *he.Plan
	Client *he.Client
	Server *he.Server
}

// Close zeroes the client's secret key.
func (s *Session) Close() { s.Client.Close() }

// Setup compiles the model, generates the client's keys and builds the
// server, recording the time of each phase and the key sizes in r.
func Setup(model *he.Model, opts he.CompileOptions, r *Result) (*Session, error) {
	t0 := time.Now()
	plan, err := he.Compile(model, opts)
	if err != nil {
		return nil, err
	}
	r.CompileMS = MS(time.Since(t0))
	r.Parameters = plan.Parameters().String()

	t0 = time.Now()
	client, err := he.NewClient(plan.Parameters())
	if err != nil {
		return nil, err
	}
	keys, err := client.GenEvaluationKeys(plan)
	if err != nil {
		client.Close()
		return nil, err
	}
	r.KeygenMS = MS(time.Since(t0))
	r.EvalKeyBytes, r.GaloisKeys = keys.Bytes(), keys.GaloisKeys()

	t0 = time.Now()
	server, err := he.NewServer(plan, keys)
	if err != nil {
		client.Close()
		return nil, err
	}
	r.ServerSetupMS = MS(time.Since(t0))
	return &Session{Plan: plan, Client: client, Server: server}, nil
}

// Clamp replaces every sample that has features outside the plan's input
// range by a copy clamped into it (he.Plan.ClampInput), so that Encrypt
// accepts it and the plaintext comparison sees the same input, and counts
// the clamped features in r.
func (s *Session) Clamp(samples [][]float64, r *Result) {
	for i, x := range samples {
		c := append([]float64(nil), x...)
		if n := s.Plan.ClampInput(c); n > 0 {
			samples[i] = c
			r.ClampedFeatures += n
		}
	}
}

// RunAll encrypts all samples at once (one ciphertext per sample in latency
// mode, a few feature-major ones in batch mode), evaluates every
// ciphertext and decrypts the results, recording the phases in r. It
// returns the decrypted outputs and the number of input ciphertexts.
func (s *Session) RunAll(samples [][]float64, r *Result) (*he.Report, int, error) {
	t0 := time.Now()
	cts, err := s.Client.Encrypt(s.Plan, samples)
	if err != nil {
		return nil, 0, err
	}
	r.EncryptMS = MS(time.Since(t0))
	r.InputBytes = cts[0].Bytes()

	results := make([]*he.Ciphertext, 0, len(cts))
	t0 = time.Now()
	for _, ct := range cts {
		out, err := s.Server.Evaluate(ct)
		if err != nil {
			return nil, 0, err
		}
		results = append(results, out)
	}
	r.EvalMS = MS(time.Since(t0))
	r.EvalMSPerSample = r.EvalMS / float64(len(samples))
	r.OutputBytes = results[0].Bytes()

	rep := &he.Report{}
	t0 = time.Now()
	for _, out := range results {
		o, err := s.Client.Decrypt(out)
		if err != nil {
			return nil, 0, err
		}
		rep.Outputs = append(rep.Outputs, o...)
	}
	r.DecryptMS = MS(time.Since(t0))
	return rep, len(cts), nil
}

// Score compares the decrypted outputs in rep with plaintext inference
// (he.Compare fills the agreement and the errors) and records, in r, the
// sample count, agreement, largest error and the plaintext and encrypted
// accuracies against labels.
func Score(s *Session, model *he.Model, samples [][]float64, labels []int, rep *he.Report, r *Result) error {
	if err := he.Compare(s.Plan, samples, rep); err != nil {
		return err
	}
	r.Samples = len(samples)
	r.Agreement, r.MaxAbsError = rep.Agreement, rep.MaxAbsError
	plainOK, encOK := 0, 0
	for i, x := range samples {
		p, err := model.Predict(x)
		if err != nil {
			return err
		}
		if model.Class(p) == labels[i] {
			plainOK++
		}
		if model.Class(rep.Outputs[i]) == labels[i] {
			encOK++
		}
	}
	r.PlainAccuracy = float64(plainOK) / float64(len(samples))
	r.EncryptedAccuracy = float64(encOK) / float64(len(samples))
	return nil
}

// PrintSetup prints the parameters, compile, key generation and server
// set-up lines of the text output.
func PrintSetup(out io.Writer, r *Result) {
	fmt.Fprintf(out, "parameters   %s\n", r.Parameters)
	fmt.Fprintf(out, "compile      %8.1f ms\n", r.CompileMS)
	fmt.Fprintf(out, "keygen       %8.1f ms  (%d Galois keys, %.1f MB compressed evaluation keys)\n", r.KeygenMS, r.GaloisKeys, float64(r.EvalKeyBytes)/1e6)
	fmt.Fprintf(out, "server setup %8.1f ms\n", r.ServerSetupMS)
}

// ParseMode maps the -mode flag to a packing.
func ParseMode(mode string) (he.Mode, error) {
	switch mode {
	case "latency":
		return he.Latency, nil
	case "batch":
		return he.Batch, nil
	}
	return 0, fmt.Errorf("unknown -mode %q (latency or batch)", mode)
}

// MS returns d in milliseconds.
func MS(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// Rows returns the rows of d as a slice of feature vectors.
func Rows(d *dataset.Dataset) [][]float64 {
	xs := make([][]float64, d.Rows)
	for i := range xs {
		xs[i] = d.Row(i)
	}
	return xs
}
