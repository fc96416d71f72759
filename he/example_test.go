package he_test

import (
	"fmt"

	"github.com/privml/privml/he"
)

// Example runs a two-layer network with a square activation on encrypted
// inputs: the client encrypts, the server evaluates with evaluation keys
// only, the client decrypts.
func Example() {
	model, err := he.NewMLP(
		he.Dense{
			Weights:    [][]float64{{0.5, -1, 0.25}, {1, 0.5, -0.5}},
			Bias:       []float64{0.1, -0.2},
			Activation: he.ActSquare,
		},
		he.Dense{Weights: [][]float64{{1, -1}, {-0.5, 2}}},
	)
	if err != nil {
		panic(err)
	}
	// The planner picks the smallest 128-bit preset deep enough (depth 3).
	plan, err := he.Compile(model, he.CompileOptions{})
	if err != nil {
		panic(err)
	}
	client, err := he.NewClient(plan.Parameters())
	if err != nil {
		panic(err)
	}
	keys, err := client.GenEvaluationKeys(plan)
	if err != nil {
		panic(err)
	}
	server, err := he.NewServer(plan, keys) // no secret key here
	if err != nil {
		panic(err)
	}
	x := []float64{1, 2, 3}
	cts, err := client.Encrypt(plan, [][]float64{x})
	if err != nil {
		panic(err)
	}
	res, err := server.Evaluate(cts[0])
	if err != nil {
		panic(err)
	}
	got, err := client.Decrypt(res)
	if err != nil {
		panic(err)
	}
	want, _ := model.Predict(x)
	fmt.Println(plan.Parameters().Name())
	fmt.Printf("encrypted: %.2f %.2f\n", got[0][0], got[0][1])
	fmt.Printf("plaintext: %.2f %.2f\n", want[0], want[1])
	// Output:
	// PN13/depth3
	// encrypted: 0.33 -0.03
	// plaintext: 0.33 -0.03
}

// ExampleCompile shows the planner refusing a model too deep for every
// preset, before anything is encrypted.
func ExampleCompile() {
	var layers []he.Dense
	for range 9 {
		layers = append(layers, he.Dense{Weights: [][]float64{{1, 0}, {0, 1}}, Activation: he.ActSquare})
	}
	model, _ := he.NewMLP(layers...)
	_, err := he.Compile(model, he.CompileOptions{})
	fmt.Println(err)
	// Output:
	// he: model needs depth 18; the largest preset without bootstrapping (PN15) has 15: he: insufficient multiplicative depth
}

// ExampleVerify checks a logistic regression under encryption against
// plaintext inference: a degree-7 sigmoid on [-4, 4] is within about 1e-3
// of the exact one there, and CKKS adds about 1e-5.
func ExampleVerify() {
	model, _ := he.NewLogisticRegression([]float64{0.8, -0.4, 0.3}, 0.1, 7, 4)
	samples := [][]float64{{1, 2, 3}, {-2, 1, 0}, {0.5, 0.5, -2}, {3, -1, 2}}
	rep, err := he.Verify(model, samples, he.CompileOptions{Mode: he.Batch})
	if err != nil {
		panic(err)
	}
	fmt.Printf("agreement %d/%d, max abs error below 0.01: %v\n", rep.Agreed, rep.Samples, rep.MaxAbsError < 0.01)
	// Output:
	// agreement 4/4, max abs error below 0.01: true
}

// ExampleCompileOptions_bootstrap compiles a network with three hidden
// ReLU layers: 13 levels each (dense 1, sign 11, product 1) plus the output
// layer make depth 40, more than any preset. With Bootstrap set the planner
// moves to the logN 16 bootstrapping parameters and bootstraps before
// every layer but the first.
func ExampleCompileOptions_bootstrap() {
	id := [][]float64{{1, 0}, {0, 1}}
	relu := he.Dense{Weights: id, Activation: he.ActReLU, Interval: 4}
	model, _ := he.NewMLP(relu, relu, relu, he.Dense{Weights: id})
	_, err := he.Compile(model, he.CompileOptions{})
	fmt.Println(err)
	plan, err := he.Compile(model, he.CompileOptions{Bootstrap: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(plan.Parameters().Name(), plan.Depth(), plan.Bootstraps())
	// Output:
	// he: model needs depth 40; the largest preset without bootstrapping (PN15) has 15: he: insufficient multiplicative depth
	// N16QP1767H32768H32 40 3
}
