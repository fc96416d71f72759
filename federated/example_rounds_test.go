package federated_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/privml/privml/federated"
)

// Ten clients each hold a number; a federated "model" of one parameter
// learns their mean through secure aggregation (SecAgg+ sessions run in
// process); one client drops out of every round before sending its input,
// and the mean is that of the others.
func ExampleServer() {
	clients := make([]federated.Client, 10)
	for i := range clients {
		v := float64(i) // client i's private value
		clients[i] = federated.ClientFunc(func(t federated.Task) (federated.Update, error) {
			return federated.Update{Delta: []float64{v - t.Global[0]}, Weight: 1}, nil
		})
	}
	var seed [32]byte // a repeatable simulation; omit for crypto/rand
	srv, err := federated.NewServer(federated.Config{
		Shape:        federated.Shape{{Name: "mean", Dims: []int{1}}},
		Fraction:     1,
		Clip:         100,
		Secure:       &federated.SecureConfig{},
		InsecureSeed: &seed,
		Availability: func(round, client int, _ *rand.Rand) federated.Availability {
			if client == round%10 {
				return federated.Availability{Drop: federated.DropBeforeInput}
			}
			return federated.Availability{}
		},
	}, clients, []float64{0})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := srv.Round()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("round %d: %d sampled, %d in the secure sum, secure=%v, mean %.3f\n",
		rep.Round, rep.Sampled, rep.Reports, rep.Secure, srv.Model()[0])
	// Output:
	// round 1: 10 sampled, 9 in the secure sum, secure=true, mean 4.889
}
