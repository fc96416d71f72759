package vec_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/privml/privml/internal/vec"
)

func ExampleAddMod32() {
	// Two clients' values modulo 2^8; the sum wraps around.
	sum := []uint32{200, 10}
	vec.AddMod32(sum, []uint32{100, 20}, 8)
	fmt.Println(sum)
	vec.SubMod32(sum, []uint32{100, 20}, 8)
	fmt.Println(sum)
	// Output:
	// [44 30]
	// [200 10]
}

func ExampleClipL2() {
	g := []float64{3, 4} // norm 5
	f := vec.ClipL2(g, 1)
	fmt.Println(f, g, vec.Norm2(g))
	// Output: 0.2 [0.6000000000000001 0.8] 1
}

func ExampleNorm2() {
	// The squares overflow float64, the norm does not.
	fmt.Println(vec.Norm2([]float64{3e300, 4e300}))
	// Output: 5e+300
}

func ExampleEncodeFixed() {
	x := []float64{1.25, -0.75, 1000}
	enc := make([]uint64, len(x))
	// 4 fractional bits fit these values exactly: no rounding happens.
	// 1000·16 = 16000 does not fit 12 bits and clamps to 2^11 - 1.
	vec.EncodeFixed(enc, x, 16, 12, rand.NewPCG(1, 2))
	fmt.Printf("%#x\n", enc)
	dec := make([]float64, len(x))
	vec.DecodeFixed(dec, enc, 16, 12)
	fmt.Println(dec)
	// Output:
	// [0x14 0xff4 0x7ff]
	// [1.25 -0.75 127.9375]
}
