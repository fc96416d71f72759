package he

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// randModel returns an MLP with the given layer sizes and activations,
// weights uniform in ±scale/sqrt(in).
func randModel(t testing.TB, r *rand.Rand, sizes []int, acts []Activation) *Model {
	t.Helper()
	var layers []Dense
	for li := 0; li+1 < len(sizes); li++ {
		in, out := sizes[li], sizes[li+1]
		w := make([][]float64, out)
		for o := range w {
			w[o] = make([]float64, in)
			for i := range w[o] {
				w[o][i] = (2*r.Float64() - 1) / math.Sqrt(float64(in))
			}
		}
		b := make([]float64, out)
		for o := range b {
			b[o] = 0.1 * (2*r.Float64() - 1)
		}
		layers = append(layers, Dense{Weights: w, Bias: b, Activation: acts[li]})
	}
	m, err := NewMLP(layers...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randSamples(r *rand.Rand, n, dim int) [][]float64 {
	xs := make([][]float64, n)
	for i := range xs {
		xs[i] = make([]float64, dim)
		for j := range xs[i] {
			xs[i][j] = 2*r.Float64() - 1
		}
	}
	return xs
}

// runEncrypted compiles, keys, encrypts, evaluates and decrypts.
func runEncrypted(t testing.TB, m *Model, xs [][]float64, opts CompileOptions) [][]float64 {
	t.Helper()
	plan, err := Compile(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return runPlan(t, plan, xs)
}

// runPlan keys, encrypts, evaluates and decrypts with a compiled plan.
func runPlan(t testing.TB, plan *Plan, xs [][]float64) [][]float64 {
	t.Helper()
	client, err := NewClient(plan.Parameters())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := client.GenEvaluationKeys(plan)
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewServer(plan, keys)
	if err != nil {
		t.Fatal(err)
	}
	cts, err := client.Encrypt(plan, xs)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]float64
	for _, ct := range cts {
		res, err := server.Evaluate(ct)
		if err != nil {
			t.Fatal(err)
		}
		if res.Level() != 0 {
			t.Fatalf("output at level %d, want 0 (plan depth %d)", res.Level(), plan.Depth())
		}
		out, err := client.Decrypt(res)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
	}
	return got
}

func maxErr(t testing.TB, m *Model, xs, got [][]float64) float64 {
	t.Helper()
	if len(got) != len(xs) {
		t.Fatalf("got %d outputs for %d samples", len(got), len(xs))
	}
	e := 0.0
	for i, x := range xs {
		want, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if len(got[i]) != len(want) {
			t.Fatalf("sample %d: %d outputs, want %d", i, len(got[i]), len(want))
		}
		for j := range want {
			e = math.Max(e, math.Abs(got[i][j]-want[j]))
		}
	}
	return e
}

func testParams(t testing.TB, logN, depth int) *Parameters {
	t.Helper()
	p, err := InsecureTestParameters(logN, depth)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestDenseSquareLatency(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := randModel(t, r, []int{20, 12, 5}, []Activation{ActSquare, ActNone})
	xs := randSamples(r, 3, 20)
	got := runEncrypted(t, m, xs, CompileOptions{Mode: Latency, Parameters: testParams(t, 11, 3)})
	if e := maxErr(t, m, xs, got); e > 1e-3 {
		t.Fatalf("max abs error %g > 1e-3", e)
	}
}

func TestDenseSquareBatch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m := randModel(t, r, []int{20, 12, 5}, []Activation{ActSquare, ActNone})
	xs := randSamples(r, 1100, 20) // 1100 > 1024 slots: two batches
	got := runEncrypted(t, m, xs, CompileOptions{Mode: Batch, Parameters: testParams(t, 11, 3)})
	if e := maxErr(t, m, xs, got); e > 1e-3 {
		t.Fatalf("max abs error %g > 1e-3", e)
	}
}

// TestBlockedLatency uses matrices larger than the slot count (512 at
// logN=10), so inputs and outputs span several ciphertexts.
func TestBlockedLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("slow under -short")
	}
	r := rand.New(rand.NewPCG(5, 6))
	m := randModel(t, r, []int{700, 530}, []Activation{ActNone})
	xs := randSamples(r, 1, 700)
	got := runEncrypted(t, m, xs, CompileOptions{Mode: Latency, Parameters: testParams(t, 10, 1)})
	if e := maxErr(t, m, xs, got); e > 1e-3 {
		t.Fatalf("max abs error %g > 1e-3", e)
	}
}

func TestSigmoidTanh(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, act := range []Activation{ActSigmoid, ActTanh} {
		for _, mode := range []Mode{Latency, Batch} {
			t.Run(string(act)+"/"+mode.String(), func(t *testing.T) {
				if testing.Short() && act == ActTanh {
					t.Skip("slow under -short")
				}
				m := randModel(t, r, []int{10, 4}, []Activation{act})
				m.Layers[0].Degree = 15
				m.Layers[0].Interval = 4
				xs := randSamples(r, 4, 10)
				got := runEncrypted(t, m, xs, CompileOptions{Mode: mode, Parameters: testParams(t, 11, 5)})
				// Degree-15 Chebyshev interpolation of sigmoid/tanh on [-4, 4]
				// is accurate to about 1e-4; CKKS adds about 1e-5.
				if e := maxErr(t, m, xs, got); e > 2e-3 {
					t.Fatalf("max abs error %g > 2e-3", e)
				}
			})
		}
	}
}

func TestPlannerDepth(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	sizes := []int{4}
	var acts []Activation
	for range 9 {
		sizes = append(sizes, 4)
		acts = append(acts, ActSquare)
	}
	m := randModel(t, r, sizes, acts) // depth 18
	_, err := Compile(m, CompileOptions{})
	if !errors.Is(err, ErrDepth) {
		t.Fatalf("Compile depth-18 model: err = %v, want ErrDepth", err)
	}
	want := "model needs depth 18; the largest preset without bootstrapping (PN15) has 15"
	if err == nil || !contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	// A depth-3 model gets PN13 truncated to depth 3.
	m = randModel(t, r, []int{64, 32, 10}, []Activation{ActSquare, ActNone})
	plan, err := Compile(m, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := plan.Parameters(); p.LogN() != 13 || p.Depth() != 3 || !p.Secure128() || p.Name() != "PN13/depth3" {
		t.Fatalf("plan parameters %v, want PN13 at depth 3", p)
	}
	// Depth 5 (dense + degree-15 sigmoid) does not fit PN13 (depth 4).
	lr, err := NewLogisticRegression(make([]float64, 30), 0, 15, 8)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err = Compile(lr, CompileOptions{}); err != nil {
		t.Fatal(err)
	}
	if plan.Parameters().LogN() != 14 || plan.Depth() != 5 {
		t.Fatalf("logistic regression degree 15: %v", plan)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestOutputScaling: outputs beyond the modulus headroom of PN13-like
// parameters (|y| up to 2^6) are scaled down by the planner and restored at
// decryption; without calibration they would wrap around.
func TestOutputScaling(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	m := randModel(t, r, []int{8, 4}, []Activation{ActNone})
	for o := range m.Layers[0].Weights {
		for i := range m.Layers[0].Weights[o] {
			m.Layers[0].Weights[o][i] *= 100
		}
	}
	xs := randSamples(r, 8, 8)
	for _, mode := range []Mode{Latency, Batch} {
		opts := CompileOptions{Mode: mode, Parameters: testParams(t, 10, 1), Calibration: xs}
		plan, err := Compile(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		if plan.outScale <= 1 {
			t.Fatalf("%v: output scale %v, want > 1 for outputs near 100", mode, plan.outScale)
		}
		got := runEncrypted(t, m, xs, opts)
		if e := maxErr(t, m, xs, got); e > 0.05 {
			t.Fatalf("%v: max abs error %g > 0.05 on outputs of magnitude ~100", mode, e)
		}
	}
	// A final activation cannot be scaled: the planner refuses.
	m.Layers[0].Activation = ActSquare
	if _, err := Compile(m, CompileOptions{Parameters: testParams(t, 10, 2), Calibration: xs}); !errors.Is(err, ErrModel) {
		t.Fatalf("overflowing squared outputs: err = %v, want ErrModel", err)
	}
}

func TestModelJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	m := randModel(t, r, []int{5, 3, 2}, []Activation{ActTanh, ActNone})
	var buf bytes.Buffer
	if err := m.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := ReadModelJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{0.1, -0.2, 0.3, 0.4, -0.5}
	a, _ := m.Predict(x)
	b, _ := m2.Predict(x)
	if a[0] != b[0] || a[1] != b[1] {
		t.Fatalf("JSON round trip changed predictions: %v vs %v", a, b)
	}
	bad := []string{
		`{"format":"privml-he-model/v1","input_dim":2,"layers":[{"weights":[[1]]}]}`,
		`{"format":"other","input_dim":1,"layers":[{"weights":[[1]]}]}`,
		`{"format":"privml-he-model/v1","input_dim":1,"layers":[{"weights":[[1]],"activation":"gelu"}]}`,
		`{"format":"privml-he-model/v1","input_dim":1,"layers":[{"weights":[[1]],"activation":"relu","alpha":5}]}`,
		`{"format":"privml-he-model/v1","input_dim":1,"layers":[{"weights":[[1]],"bias":[1,2]}]}`,
		`{"format":"privml-he-model/v1","input_dim":1,"layers":[]}`,
		`{"format":`,
	}
	for _, s := range bad {
		if _, err := ReadModelJSON(strings.NewReader(s)); !errors.Is(err, ErrModel) && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", s, err)
		}
	}
}

// TestDecryptPublicAndMisuse: public decryption refuses to destroy the
// outputs; keys, plans and ciphertexts that do not belong
// together are refused with the matching sentinel errors.
func TestDecryptPublicAndMisuse(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	m := randModel(t, r, []int{6, 3}, []Activation{ActSquare})
	xs := randSamples(r, 1, 6)
	plan, err := Compile(m, CompileOptions{Parameters: testParams(t, 10, 2), Calibration: xs})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewClient(plan.Parameters())
	keys, _ := c.GenEvaluationKeys(plan)
	s, err := NewServer(plan, keys)
	if err != nil {
		t.Fatal(err)
	}
	cts, _ := c.Encrypt(plan, xs)
	res, err := s.Evaluate(cts[0])
	if err != nil {
		t.Fatal(err)
	}
	// At a 2^29 scale, flooding for 30 bits of statistical security
	// leaves nothing of the outputs: refused.
	if _, err := c.DecryptPublic(plan, res, PublicDecryption{}); !errors.Is(err, ErrPrecision) {
		t.Fatalf("DecryptPublic at a 2^29 scale: %v", err)
	}
	if _, err := c.DecryptPublic(plan, res, PublicDecryption{StatisticalSecurity: 200}); !errors.Is(err, ErrInput) {
		t.Fatalf("statistical security 200: %v", err)
	}

	// A plan for other parameters.
	other, _ := Compile(m, CompileOptions{Parameters: testParams(t, 11, 2)})
	if _, err := c.Encrypt(other, xs); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Encrypt with another plan: %v", err)
	}
	if _, err := NewServer(other, keys); !errors.Is(err, ErrMismatch) {
		t.Fatalf("NewServer with keys for other parameters: %v", err)
	}
	// Keys without the relinearization key the model needs.
	if _, err := NewServer(plan, &EvaluationKeys{params: keys.params, set: rlweKeySetWithoutRelin(keys)}); !errors.Is(err, ErrMissingKey) {
		t.Fatalf("NewServer without relinearization key: %v", err)
	}
	// Wrong sample shapes and values.
	if _, err := c.Encrypt(plan, [][]float64{{1, 2}}); !errors.Is(err, ErrInput) {
		t.Fatalf("short sample: %v", err)
	}
	if _, err := c.Encrypt(plan, [][]float64{{1, 2, 3, 4, 5, math.NaN()}}); !errors.Is(err, ErrInput) {
		t.Fatalf("NaN feature: %v", err)
	}
	// An output fed back as input is at the wrong level.
	if _, err := s.Evaluate(res); !errors.Is(err, ErrMismatch) {
		t.Fatalf("evaluating an output: %v", err)
	}
	c.Close()
	if _, err := c.Decrypt(res); !errors.Is(err, ErrInput) {
		t.Fatalf("Decrypt after Close: %v", err)
	}
}

func rlweKeySetWithoutRelin(k *EvaluationKeys) *rlwe.MemEvaluationKeySet {
	set := rlwe.NewMemEvaluationKeySet(nil)
	for g, gk := range k.set.GaloisKeys {
		set.GaloisKeys[g] = gk
	}
	return set
}
