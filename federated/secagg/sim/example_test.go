package sim_test

import (
	"fmt"
	"log"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/federated/secagg/sim"
)

// Example simulates a session of 20 clients in which two drop out before
// masking their inputs and one after, then a server that asks the
// neighbours of client 4 for both of its shares.
func Example() {
	p, err := secagg.NewParams(secagg.Config{NumClients: 20, Dim: 5, Bits: 24, MaxAbs: 1000, DropoutRate: 0.2, CorruptRate: 0.1})
	if err != nil {
		log.Fatal(err)
	}
	inputs := func(client int, dst []int64) {
		for j := range dst {
			dst[j] = int64(client * (j + 1))
		}
	}
	rep, err := sim.Run(p, inputs, sim.Options{Drop: map[secagg.Round][]int{
		secagg.RoundMaskedInput: {3, 7},
		secagg.RoundUnmask:      {11},
	}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("survivors:", len(rep.Result.Survivors), "correct:", rep.Correct, "sum:", rep.Result.Sum)

	rep, err = sim.Run(p, inputs, sim.Options{Server: sim.AskBothShares, Target: 4})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("lying server: result", rep.Result != nil, "- refusals:", len(rep.ClientErrors) == p.Degree())
	// Output:
	// survivors: 18 correct: true sum: [180 360 540 720 900]
	// lying server: result false - refusals: true
}
