package he

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// reluBound is the error bound for a model whose layer li is the only ReLU
// layer, followed by layers without activation: the ReLU error is at most
// Interval·max(2^-alpha, err/2) per unit, amplified by the ∞-norms of the
// later weight matrices, plus slack for CKKS noise.
func reluBound(t *testing.T, plan *Plan, li int, slack float64) float64 {
	t.Helper()
	m := plan.Model()
	l := &m.Layers[li]
	sErr, ok := ReLUSignError(l.Alpha)
	if !ok {
		t.Fatalf("alpha %d unsupported", l.Alpha)
	}
	b := l.Interval * math.Max(math.Exp2(-float64(l.Alpha)), sErr/2)
	for _, nl := range m.Layers[li+1:] {
		norm := 0.0
		for _, row := range nl.Weights {
			s := 0.0
			for _, w := range row {
				s += math.Abs(w)
			}
			norm = math.Max(norm, s)
		}
		b *= norm
	}
	return b + slack
}

// TestReLUEncrypted compiles a one-hidden-layer ReLU MLP on parameters of
// exactly its depth (dense 1 + ReLU sign depth + 1 + dense 1), so the
// output must land at level 0 (checked by runEncrypted): the planner's
// depth accounting is exact. The decrypted outputs must match plaintext
// inference with the same polynomials to CKKS precision, the exact ReLU
// model within the approximation bound, and the argmax must agree.
func TestReLUEncrypted(t *testing.T) {
	alphas, depths := ReLUAlphas()
	for ai, alpha := range alphas {
		for _, mode := range []Mode{Latency, Batch} {
			t.Run(fmt.Sprintf("%v/alpha%d", mode, alpha), func(t *testing.T) {
				if testing.Short() && (alpha != 4 || mode != Batch) {
					t.Skip("slow under -short (and -race)")
				}
				r := rand.New(rand.NewPCG(21, uint64(alpha)))
				m := randModel(t, r, []int{16, 12, 4}, []Activation{ActReLU, ActNone})
				m.Layers[0].Alpha = alpha
				xs := randSamples(r, 12, 16)
				depth := 1 + depths[ai] + 1
				opts := CompileOptions{Mode: mode, Parameters: testParams(t, 11, depth), Calibration: xs}
				plan, err := Compile(m, opts)
				if err != nil {
					t.Fatal(err)
				}
				if plan.Depth() != depth || depths[ai] != reluDepth(alpha) {
					t.Fatalf("plan depth %d, want %d", plan.Depth(), depth)
				}
				got := runEncrypted(t, m, xs, opts)
				rep := &Report{Outputs: got}
				if err := Compare(plan, xs, rep); err != nil {
					t.Fatal(err)
				}
				bound := reluBound(t, plan, 0, 1e-3)
				t.Logf("alpha %d depth %d interval %.3g: max error %.3g (approximation alone %.3g, bound %.3g), agreement %d/%d",
					alpha, depth, plan.Model().Layers[0].Interval, rep.MaxAbsError, rep.MaxApproxError, bound, rep.Agreed, rep.Samples)
				if rep.MaxAbsError > bound {
					t.Fatalf("max abs error %g > bound %g", rep.MaxAbsError, bound)
				}
				// Encrypted vs plaintext with the same polynomials: CKKS noise only.
				for i, x := range xs {
					want, err := plan.predictApprox(x)
					if err != nil {
						t.Fatal(err)
					}
					for j := range want {
						if d := math.Abs(got[i][j] - want[j]); d > 1e-3 {
							t.Fatalf("sample %d output %d: encrypted %g, polynomial model %g", i, j, got[i][j], want[j])
						}
					}
				}
				if rep.Agreed != rep.Samples {
					t.Fatalf("argmax agreement %d/%d", rep.Agreed, rep.Samples)
				}
			})
		}
	}
}

func TestReLUPlanner(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	m := randModel(t, r, []int{8, 8, 2}, []Activation{ActReLU, ActNone})
	d := 1 + reluDepth(DefaultReLUAlpha) + 1
	// One level short: refused before anything is encrypted.
	_, err := Compile(m, CompileOptions{Parameters: testParams(t, 10, d-1)})
	if !errors.Is(err, ErrDepth) {
		t.Fatalf("err = %v, want ErrDepth", err)
	}
	// The default alpha fits PN15 with one hidden ReLU layer.
	plan, err := Compile(m, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Parameters().LogN() != 15 || plan.Depth() != d {
		t.Fatalf("plan %v, want PN15 at depth %d", plan, d)
	}
	if l := plan.Model().Layers[0]; l.Alpha != DefaultReLUAlpha || l.Interval != DefaultInterval {
		t.Fatalf("resolved alpha %d interval %v", l.Alpha, l.Interval)
	}
	// Two hidden ReLU layers do not fit any preset.
	m2 := randModel(t, r, []int{8, 8, 8, 2}, []Activation{ActReLU, ActReLU, ActNone})
	_, err = Compile(m2, CompileOptions{})
	if !errors.Is(err, ErrDepth) || !strings.Contains(err.Error(), "the largest preset without bootstrapping (PN15) has 15") {
		t.Fatalf("err = %v", err)
	}
	// Bad settings are errors, not panics.
	for _, bad := range []Dense{
		{Weights: [][]float64{{1}}, Activation: ActReLU, Alpha: 5},
		{Weights: [][]float64{{1}}, Activation: ActReLU, Degree: 7},
		{Weights: [][]float64{{1}}, Activation: ActReLU, Interval: -1},
		{Weights: [][]float64{{1}}, Activation: ActSigmoid, Alpha: 7},
	} {
		if _, err := NewMLP(bad); !errors.Is(err, ErrModel) {
			t.Errorf("%+v: err = %v, want ErrModel", bad, err)
		}
	}
	// JSON and the compiled-model encoding carry relu and alpha.
	m.Layers[0].Alpha = 4
	var b bytes.Buffer
	if err := m.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"activation":"relu","alpha":4`) {
		t.Fatalf("JSON %s", b.String())
	}
	m3, err := ReadModelJSON(&b)
	if err != nil || m3.Layers[0].Activation != ActReLU || m3.Layers[0].Alpha != 4 {
		t.Fatalf("ReadModelJSON: %v, %+v", err, m3)
	}
	plan, err = Compile(m3, CompileOptions{Parameters: testParams(t, 10, 1+reluDepth(4)+1)})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ReadPlan(bytes.NewReader(marshal(plan)), AllowInsecureForTesting)
	if err != nil {
		t.Fatal(err)
	}
	if l := p2.Model().Layers[0]; l.Activation != ActReLU || l.Alpha != 4 || l.Degree != 0 || p2.Depth() != plan.Depth() {
		t.Fatalf("decoded plan layer %+v depth %d", l, p2.Depth())
	}
	if y, _ := m.Predict(make([]float64, 8)); len(y) != 2 {
		t.Fatal("Predict")
	}
}

// TestReLULatencyPadding guards the latency layouts: every slot the ReLU
// sees must hold an output or zero, never a partial sum, because the sign
// polynomials diverge outside [-Interval, Interval] and one diverging slot
// corrupts every slot. (The Gazelle hybrid layout qualifies: its folds
// leave the outputs replicated with the output period.) Here both
// outputs are small while partial sums of their inputs reach ±8, far
// outside the calibrated interval.
func TestReLULatencyPadding(t *testing.T) {
	w := make([][]float64, 2)
	for o := range w {
		w[o] = make([]float64, 16)
		for i := range w[o] {
			w[o][i] = 1
			if (i/8+o)%2 == 1 {
				w[o][i] = -1
			}
		}
	}
	m, err := NewMLP(
		Dense{Weights: w, Bias: []float64{0.3, -0.2}, Activation: ActReLU, Alpha: 4},
		Dense{Weights: [][]float64{{1, 0.5}, {-0.5, 1}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	xs := [][]float64{make([]float64, 16), make([]float64, 16)}
	for i := range 16 {
		xs[0][i] = 1
		xs[1][i] = 0.9
	}
	opts := CompileOptions{Mode: Latency, Parameters: testParams(t, 10, 1+reluDepth(4)+1), Calibration: xs}
	got := runEncrypted(t, m, xs, opts)
	plan, err := Compile(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range xs {
		want, _ := plan.predictApprox(x)
		for j := range want {
			if d := math.Abs(got[i][j] - want[j]); d > 1e-3 {
				t.Fatalf("sample %d output %d: encrypted %g, polynomial model %g", i, j, got[i][j], want[j])
			}
		}
	}
}
