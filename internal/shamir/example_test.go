package shamir_test

import (
	"fmt"

	"github.com/privml/privml/internal/shamir"
)

func Example() {
	secret := []byte("a 32-byte seed of a client......")
	// 3 of 5 parties are needed; nil means crypto/rand.
	shares, err := shamir.Split(secret, 3, 5, nil)
	if err != nil {
		panic(err)
	}
	// Any 3 shares, in any order, reconstruct the secret.
	got, err := shamir.Combine([]shamir.Share{shares[4], shares[0], shares[2]}, 3, len(secret))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", got)
	// Output: a 32-byte seed of a client......
}

// A server that reconstructs the seeds of several clients from the shares
// of the same surviving parties computes the Lagrange coefficients once.
func ExampleLagrange() {
	seeds := [][]byte{[]byte("seed of client A"), []byte("seed of client B")}
	survivors := []uint32{2, 3, 5} // 1-based party indices
	l, err := shamir.NewLagrange(survivors)
	if err != nil {
		panic(err)
	}
	for _, seed := range seeds {
		shares, err := shamir.Split(seed, 3, 5, nil)
		if err != nil {
			panic(err)
		}
		held := []shamir.Share{shares[1], shares[2], shares[4]} // X = 2, 3, 5
		got, err := l.Combine(held, len(seed))
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s\n", got)
	}
	// Output:
	// seed of client A
	// seed of client B
}

func ExampleShare_MarshalBinary() {
	s := shamir.Share{X: 3, Y: []uint64{258}}
	b, err := s.MarshalBinary()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", b)
	var d shamir.Share
	if err := d.UnmarshalBinary(b); err != nil {
		panic(err)
	}
	fmt.Println(d.X, d.Y)
	// Output:
	// 0100000003010000000000000102
	// 3 [258]
}
