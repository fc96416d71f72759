package prg_test

import (
	"fmt"

	"github.com/privml/privml/internal/prg"
)

// Masking a vector for secure aggregation: the mask added from a seed is
// removed by expanding the same seed again.
func ExampleExpandAddMod32() {
	seed, err := prg.NewSeed(nil) // crypto/rand
	if err != nil {
		panic(err)
	}
	x := []uint32{1, 2, 3, 4}
	prg.ExpandAddMod32(x, &seed, 16) // x now looks uniform modulo 2^16
	prg.ExpandSubMod32(x, &seed, 16)
	fmt.Println(x)
	// Output: [1 2 3 4]
}

// The stream of the all-zero seed starts with AES-256 of the zero block
// under the zero key.
func ExampleNewReader() {
	var seed [prg.SeedSize]byte
	buf := make([]byte, 16)
	prg.NewReader(&seed).Read(buf)
	fmt.Printf("%x\n", buf)
	// Output: dc95c078a2408989ad48a21492842087
}
