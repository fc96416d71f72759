package federated_test

import (
	"fmt"

	"github.com/privml/privml/federated"
)

// Three rounds of FedAdam on a two-parameter model: the server averages
// the clients' updates with their example counts as weights, then takes an
// adaptive step.
func ExampleNewFedAdam() {
	opt, err := federated.NewFedAdam(federated.WithServerLearningRate(0.1))
	if err != nil {
		panic(err)
	}
	global := []float64{0, 0}
	rounds := [][][]float64{
		{{1.0, -0.5}, {0.8, -0.3}},
		{{0.5, -0.2}, {0.7, -0.4}},
		{{0.2, 0.1}, {0.4, -0.1}},
	}
	weights := []float64{100, 300} // examples per client
	delta := make([]float64, len(global))
	for r, updates := range rounds {
		if err := federated.NewWeightedMean().Aggregate(delta, updates, weights); err != nil {
			panic(err)
		}
		if err := opt.Step(global, delta); err != nil {
			panic(err)
		}
		fmt.Printf("round %d: %s global = [%.4f %.4f]\n", r+1, opt.Name(), global[0], global[1])
	}
	// Output:
	// round 1: fedadam global = [0.0988 -0.0972]
	// round 2: fedadam global = [0.2302 -0.2292]
	// round 3: fedadam global = [0.3742 -0.3579]
}

// Krum keeps the aggregate on the honest clients' side when one client of
// five sends an update scaled by 100.
func ExampleNewKrum() {
	updates := [][]float64{
		{1.0, 2.0},
		{1.1, 1.9},
		{0.9, 2.1},
		{1.0, 2.05},
		{100, 200}, // Byzantine
	}
	krum, err := federated.NewKrum(1) // tolerate f = 1: needs n >= 5
	if err != nil {
		panic(err)
	}
	dst := make([]float64, 2)
	if err := krum.Aggregate(dst, updates, nil); err != nil {
		panic(err)
	}
	sel, _ := krum.Select(updates)
	fmt.Printf("krum picks client %d: [%.2f %.2f]\n", sel[0], dst[0], dst[1])

	if err := federated.NewWeightedMean().Aggregate(dst, updates, nil); err != nil {
		panic(err)
	}
	fmt.Printf("mean: [%.2f %.2f]\n", dst[0], dst[1])

	_, err = krum.Select(updates[:4])
	fmt.Println(err)
	// Output:
	// krum picks client 3: [1.00 2.05]
	// mean: [20.80 41.61]
	// federated: too few clients for the Byzantine bound: krum needs n >= 2f+3 = 5 clients, has n=4 for f=1
}
