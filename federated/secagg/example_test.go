package secagg_test

import (
	"fmt"
	"log"

	"github.com/privml/privml/federated/secagg"
)

// Example runs one session with four clients in process; client 3 drops
// out after sharing its keys, and the server still recovers the sum of the
// other three inputs.
func Example() {
	p, err := secagg.NewParams(secagg.Config{
		NumClients: 4, Dim: 3, SideDim: 1, Bits: 16,
		MaxAbs: 1000, MaxSideAbs: 10, DropoutRate: 0.25,
	})
	if err != nil {
		log.Fatal(err)
	}
	inputs := [][]int64{{1, -2, 3, 1}, {10, 20, -30, 1}, {-100, 200, 300, 1}, {7, 7, 7, 1}}
	srv, _ := secagg.NewServer(p)
	clients := make([]*secagg.Client, 4)
	for i := range clients {
		clients[i], _ = secagg.NewClient(p, i, nil)
		adv, err := clients[i].Advertise()
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.HandleAdvert(adv); err != nil {
			log.Fatal(err)
		}
	}
	lists, err := srv.FinishAdvertise()
	if err != nil {
		log.Fatal(err)
	}
	for i, c := range clients {
		m, err := c.ShareKeys(lists[i])
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.HandleShareKeys(m); err != nil {
			log.Fatal(err)
		}
	}
	bundles, err := srv.FinishShareKeys()
	if err != nil {
		log.Fatal(err)
	}
	for i, c := range clients[:3] { // client 3 drops out here
		m, err := c.MaskInput(bundles[i], inputs[i])
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.HandleMaskedInput(m); err != nil {
			log.Fatal(err)
		}
	}
	if err := srv.FinishMaskedInput(); err != nil {
		log.Fatal(err)
	}
	reqs, err := srv.UnmaskRequests()
	if err != nil {
		log.Fatal(err)
	}
	for i, c := range clients[:3] {
		m, err := c.Unmask(reqs[i])
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.HandleUnmask(m); err != nil {
			log.Fatal(err)
		}
	}
	res, err := srv.Finish()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("k, t:", p.Degree(), p.Threshold())
	fmt.Println("sum:", res.Main(), "count:", res.Side())
	fmt.Println("survivors:", res.Survivors)
	// Output:
	// k, t: 2 2
	// sum: [-89 218 273] count: [3]
	// survivors: [0 1 2]
}

// ExampleNewParams shows the headroom check refusing a configuration whose
// sum could wrap around.
func ExampleNewParams() {
	_, err := secagg.NewParams(secagg.Config{NumClients: 1000, Dim: 10, Bits: 16, MaxAbs: 100})
	fmt.Println(err)
	// Output:
	// secagg: modulus too small for the sum: 1000 clients x MaxAbs=100 >= 2^15: the centred sum could wrap modulo 2^16; use more bits or a smaller bound (at most 32)
}

// ExampleFindGraphParams reproduces a row of fcp's parameter table.
func ExampleFindGraphParams() {
	gp, err := secagg.FindGraphParams(1000, 0.33, 0.05, secagg.SemiHonest)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(gp.Degree, gp.Threshold)
	// Output:
	// 72 24
}
