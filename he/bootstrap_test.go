package he

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// TestBootstrapPlanner: without Bootstrap a deep ReLU model is refused
// before encryption with the planner's message; with it, the planner picks
// the secure bootstrapping parameters and places bootstraps only where
// levels run out.
func TestBootstrapPlanner(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	m := randModel(t, r, []int{8, 8, 8, 8, 2}, []Activation{ActReLU, ActReLU, ActReLU, ActNone})
	_, err := Compile(m, CompileOptions{})
	want := "he: model needs depth 40; the largest preset without bootstrapping (PN15) has 15"
	if !errors.Is(err, ErrDepth) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	plan, err := Compile(m, CompileOptions{Bootstrap: true})
	if err != nil {
		t.Fatal(err)
	}
	p := plan.Parameters()
	if !p.Bootstrappable() || !p.Secure128() || p.LogN() != 16 || p.Depth() != 13 || p.Name() != "N16QP1767H32768H32" {
		t.Fatalf("parameters %v", p)
	}
	// Each ReLU layer needs 1 + 12 = 13 levels: all of them, so the last
	// two hidden layers start with a bootstrap, and so does the output
	// layer.
	if plan.Bootstraps() != 3 {
		t.Fatalf("%d bootstraps, want 3", plan.Bootstraps())
	}
	if bp := p.boot.params.BootstrappingParameters; bp.LogQP() > MaxLogQP128Bootstrap {
		t.Fatalf("bootstrapping log QP %.1f", bp.LogQP())
	}
	// A model that fits a preset is never bootstrapped.
	small := randModel(t, r, []int{8, 8, 2}, []Activation{ActReLU, ActNone})
	if plan, err := Compile(small, CompileOptions{Bootstrap: true}); err != nil || plan.Bootstraps() != 0 || plan.Parameters().Bootstrappable() {
		t.Fatalf("small model: %v, %v", plan, err)
	}
	// Layers whose outputs have no known range cannot be bootstrapped.
	sq := randModel(t, r, []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4}, []Activation{
		ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActSquare,
		ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActSquare, ActNone})
	if _, err := Compile(sq, CompileOptions{Bootstrap: true}); !errors.Is(err, ErrDepth) || !strings.Contains(err.Error(), "no known range") {
		t.Fatalf("square model: err = %v", err)
	}
	// Values too large for the bootstrapping message ratio are refused.
	wide := randModel(t, r, []int{8, 8, 8, 8, 2}, []Activation{ActReLU, ActReLU, ActReLU, ActNone})
	wide.Layers[0].Interval = 1e4
	if _, err := Compile(wide, CompileOptions{Bootstrap: true}); !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), "too wide to bootstrap") {
		t.Fatalf("wide interval: err = %v", err)
	}
	// Non-bootstrappable parameters with Bootstrap set: still refused.
	if _, err := Compile(m, CompileOptions{Bootstrap: true, Parameters: testParams(t, 10, 20)}); !errors.Is(err, ErrDepth) {
		t.Fatalf("err = %v, want ErrDepth", err)
	}
}

// TestBootstrapDeepReLU evaluates a model with three ReLU layers (alpha 4,
// 9 levels each with the dense part) on insecure bootstrappable parameters
// with 13 levels between bootstraps: layers 1 and 2 start with a
// bootstrap. The decrypted outputs must match the plaintext model with the
// same polynomials to within 1e-3 (bootstrapping and CKKS noise) and the
// exact model within the approximation error, with the same argmax.
func TestBootstrapDeepReLU(t *testing.T) {
	if testing.Short() {
		t.Skip("bootstrapping takes about a minute under -race; skipped under -short")
	}
	params, err := InsecureBootstrapTestParameters(11)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{Latency, Batch} {
		t.Run(mode.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(33, 34))
			m := randModel(t, r, []int{8, 4, 4, 4, 3}, []Activation{ActReLU, ActReLU, ActReLU, ActNone})
			for li := range 3 {
				m.Layers[li].Alpha = 4
			}
			xs := randSamples(r, 4, 8)
			opts := CompileOptions{Mode: mode, Parameters: &params, Calibration: xs, Bootstrap: true}
			if _, err := Compile(m, CompileOptions{Mode: mode, Parameters: &params, Calibration: xs}); !errors.Is(err, ErrDepth) {
				t.Fatalf("without Bootstrap: err = %v, want ErrDepth", err)
			}
			plan, err := Compile(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Bootstraps() != 2 || plan.Depth() != 3*9+1 {
				t.Fatalf("plan %v", plan)
			}
			client, err := NewClient(plan.Parameters())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			t0 := time.Now()
			keys, err := client.GenEvaluationKeys(plan)
			if err != nil {
				t.Fatal(err)
			}
			tKeys := time.Since(t0)
			t0 = time.Now()
			server, err := NewServer(plan, keys)
			if err != nil {
				t.Fatal(err)
			}
			tServer := time.Since(t0)
			cts, err := client.Encrypt(plan, xs)
			if err != nil {
				t.Fatal(err)
			}
			rep := &Report{}
			t0 = time.Now()
			for _, ct := range cts {
				res, err := server.Evaluate(ct)
				if err != nil {
					t.Fatal(err)
				}
				out, err := client.Decrypt(res)
				if err != nil {
					t.Fatal(err)
				}
				rep.Outputs = append(rep.Outputs, out...)
			}
			tEval := time.Since(t0)
			if err := Compare(plan, xs, rep); err != nil {
				t.Fatal(err)
			}
			t.Logf("keys %v, server setup %v, evaluation %v for %d ciphertexts; max error %.3g (approximation %.3g), agreement %d/%d",
				tKeys, tServer, tEval, len(cts), rep.MaxAbsError, rep.MaxApproxError, rep.Agreed, rep.Samples)
			worst := 0.0
			for i, x := range xs {
				want, err := plan.predictApprox(x)
				if err != nil {
					t.Fatal(err)
				}
				for j := range want {
					worst = math.Max(worst, math.Abs(rep.Outputs[i][j]-want[j]))
				}
			}
			if worst > 1e-3 {
				t.Fatalf("encrypted vs polynomial model: max error %g > 1e-3", worst)
			}
			if rep.MaxAbsError > rep.MaxApproxError+1e-3 || rep.Agreed != rep.Samples {
				t.Fatalf("max error %g (approximation %g), agreement %d/%d", rep.MaxAbsError, rep.MaxApproxError, rep.Agreed, rep.Samples)
			}
		})
	}
}

// bootPlan returns a plan with two bootstraps on insecure logN=10
// bootstrappable parameters: three ReLU layers of 9 levels each.
func bootPlan(t testing.TB) *Plan {
	t.Helper()
	params, err := InsecureBootstrapTestParameters(10)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(35, 36))
	m := randModel(t, r, []int{6, 4, 4, 4, 2}, []Activation{ActReLU, ActReLU, ActReLU, ActNone})
	for li := range 3 {
		m.Layers[li].Alpha = 4
		m.Layers[li].Interval = 4
	}
	plan, err := Compile(m, CompileOptions{Parameters: &params, Bootstrap: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Bootstraps() != 2 {
		t.Fatalf("plan %v: want 2 bootstraps", plan)
	}
	return plan
}

// TestBootstrapEncoding sends a bootstrapped plan and its keys (with the
// bootstrapping keys) through their encodings, builds the server from the
// decoded objects only and evaluates; truncated or corrupted key streams
// are errors, never panics.
func TestBootstrapEncoding(t *testing.T) {
	plan := bootPlan(t)
	client, err := NewClient(plan.Parameters())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	keys, err := client.GenEvaluationKeys(plan)
	if err != nil {
		t.Fatal(err)
	}
	planBytes, keyBytes := marshal(plan), marshal(keys)
	if len(keyBytes) != keys.Bytes() || len(keyBytes) < 1<<20 {
		t.Fatalf("keys encode to %d bytes, Bytes() = %d", len(keyBytes), keys.Bytes())
	}
	t.Logf("bootstrapped plan: %d bytes; keys with bootstrapping keys: %d bytes", len(planBytes), len(keyBytes))
	plan2, err := ReadPlan(bytes.NewReader(planBytes), AllowInsecureForTesting)
	if err != nil {
		t.Fatal(err)
	}
	if plan2.Bootstraps() != 2 || !plan2.Parameters().Equal(plan.Parameters()) {
		t.Fatalf("decoded plan %v", plan2)
	}
	if _, err := ReadPlan(bytes.NewReader(planBytes), Require128); !errors.Is(err, ErrInsecureParameters) {
		t.Fatalf("insecure bootstrappable plan under Require128: err = %v", err)
	}
	keys2, err := ReadEvaluationKeys(bytes.NewReader(keyBytes), AllowInsecureForTesting)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(marshal(keys2), keyBytes) {
		t.Fatal("decode then encode of bootstrapping keys is not the identity")
	}
	// Truncations anywhere, including inside the bootstrapping keys.
	cuts := 23
	if testing.Short() {
		cuts = 5
	}
	for n := 0; n < len(keyBytes); n += len(keyBytes)/cuts + 1 {
		if _, err := ReadEvaluationKeys(bytes.NewReader(keyBytes[:n]), AllowInsecureForTesting); !errors.Is(err, ErrMalformed) {
			t.Fatalf("keys truncated to %d of %d bytes: err = %v", n, len(keyBytes), err)
		}
	}
	// Corrupted fields of the bootstrapping section, which follows the
	// model keys: the Galois key count, then the relinearization key, then
	// (element, key) pairs.
	off := len(marshal(&EvaluationKeys{params: keys.params, set: keys.set}))
	p2 := plan.params.boot.params.BootstrappingParameters
	rows := len(keys.boot.rlk.Value)
	firstGal := off + 4 + 32 + 8*p2.N()*(len(p2.Q())+len(p2.P()))*rows
	for _, c := range []struct {
		name string
		at   int
		val  []byte
		want error
		msg  string
	}{
		{"huge count", off, []byte{0xff, 0xff, 0xff, 0xff}, ErrTooLarge, "bootstrapping Galois keys, limit"},
		{"count too large by one", off, []byte{byte(len(keys.boot.gks) + 1)}, ErrMalformed, "bootstrapping Galois key"},
		{"even Galois element", firstGal, []byte{2, 0, 0, 0, 0, 0, 0, 0}, ErrMalformed, "element 2 is not odd"},
		{"Galois element above 2N", firstGal, []byte{1, 0, 0, 0, 0, 0, 1, 0}, ErrMalformed, "is not odd and below 2N"},
		{"unknown key flags", 6 + 5 + 8*(len(plan.params.p.Q())+len(plan.params.p.P())) + 1 + len(plan.params.Name()), []byte{7}, ErrMalformed, "unknown flags"},
	} {
		bad := append([]byte(nil), keyBytes...)
		copy(bad[c.at:], c.val)
		_, err := ReadEvaluationKeys(bytes.NewReader(bad), AllowInsecureForTesting)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Fatalf("%s: err = %v, want %v saying %q", c.name, err, c.want, c.msg)
		}
	}
	// An unreduced coefficient in the last (sparse-to-dense) key.
	bad := append([]byte(nil), keyBytes...)
	for i := len(bad) - 8; i < len(bad); i++ {
		bad[i] = 0xff
	}
	if _, err := ReadEvaluationKeys(bytes.NewReader(bad), AllowInsecureForTesting); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unreduced coefficient: err = %v", err)
	}
	if testing.Short() {
		return // building bootstrappers takes about a minute under -race
	}
	// Keys without the bootstrapping part cannot serve a bootstrapped plan.
	if _, err := NewServer(plan2, &EvaluationKeys{params: keys2.params, set: keys2.set}); !errors.Is(err, ErrMissingKey) {
		t.Fatalf("no bootstrapping keys: err = %v", err)
	}
	// A bootstrapping key missing from the set is reported by NewServer.
	partial := &bootKeys{rlk: keys2.boot.rlk, gks: map[uint64]*rlwe.GaloisKey{}, d2s: keys2.boot.d2s, s2d: keys2.boot.s2d}
	if _, err := NewServer(plan2, &EvaluationKeys{params: keys2.params, set: keys2.set, boot: partial}); !errors.Is(err, ErrMissingKey) {
		t.Fatalf("missing bootstrapping Galois keys: err = %v", err)
	}
	server, err := NewServer(plan2, keys2)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(37, 38))
	xs := randSamples(r, 2, 6)
	cts, err := client.Encrypt(plan, xs)
	if err != nil {
		t.Fatal(err)
	}
	for i, ct := range cts {
		res, err := server.Evaluate(ct)
		if err != nil {
			t.Fatal(err)
		}
		got, err := client.Decrypt(res)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := plan.predictApprox(xs[i])
		for j := range want {
			if d := math.Abs(got[0][j] - want[j]); d > 1e-2 {
				t.Fatalf("sample %d output %d: encrypted %g, polynomial model %g", i, j, got[0][j], want[j])
			}
		}
	}
}

// TestBootstrapParametersDecode: bootstrappable parameters round-trip and
// are rebuilt from their constructor; a stream that changes their moduli
// or name, or claims a bootstrappable set that does not exist, is refused.
func TestBootstrapParametersDecode(t *testing.T) {
	if _, err := InsecureBootstrapTestParameters(9); !errors.Is(err, ErrInput) {
		t.Fatalf("logN 9: err = %v", err)
	}
	secure, err := NewBootstrapParameters()
	if err != nil {
		t.Fatal(err)
	}
	insecure, err := InsecureBootstrapTestParameters(10)
	if err != nil {
		t.Fatal(err)
	}
	if insecure.Secure128() || !insecure.Insecure() || !secure.Secure128() {
		t.Fatalf("security flags: %v / %v", secure, insecure)
	}
	for _, c := range []struct {
		p      Parameters
		policy SecurityPolicy
	}{{secure, Require128}, {insecure, AllowInsecureForTesting}} {
		b := marshal(c.p)
		got, err := ReadParameters(bytes.NewReader(b), c.policy)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(c.p) || !got.Bootstrappable() || got.Name() != c.p.Name() {
			t.Fatalf("decoded %v, want %v", got, c.p)
		}
		// The name is the last field: change its last byte.
		bad := append([]byte(nil), b...)
		bad[len(bad)-1] ^= 1
		if _, err := ReadParameters(bytes.NewReader(bad), c.policy); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s with another name: err = %v", c.p.Name(), err)
		}
	}
	if _, err := ReadParameters(bytes.NewReader(marshal(insecure)), Require128); !errors.Is(err, ErrInsecureParameters) {
		t.Fatalf("insecure bootstrappable parameters under Require128: err = %v", err)
	}
	// Ordinary parameters flagged bootstrappable: no such set.
	pi, _ := InsecureTestParameters(10, 2)
	b := marshal(pi)
	b[8] |= 2 // flags byte: header (6), logN, log scale, flags
	if _, err := ReadParameters(bytes.NewReader(b), AllowInsecureForTesting); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ordinary parameters flagged bootstrappable: err = %v", err)
	}
}
