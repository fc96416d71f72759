package secagg

import (
	"fmt"
	"testing"
)

// BenchmarkAddPacked adds 1,000,000-element 32-bit masked inputs into the
// running sum, cycling through 16 distinct inputs (64 MB, more than the
// caches) so that each comes from memory as a client's message would;
// run with -cpu 1,2 for the workers' speed-up.
func BenchmarkAddPacked(b *testing.B) {
	const n, inputs = 1_000_000, 16
	src := make([][]byte, inputs)
	for i := range src {
		src[i] = make([]byte, 4*n)
		for j := range src[i] {
			src[i][j] = byte(i*131 + j*7)
		}
	}
	for _, off := range []int{0, 3} {
		b.Run(fmt.Sprintf("offset=%d", off), func(b *testing.B) {
			acc, scratch := newVector(32, n), vector{}
			in := make([][]byte, inputs)
			for i := range in {
				in[i] = append(make([]byte, off), src[i]...)[off:]
			}
			b.SetBytes(4 * n)
			i := 0
			for b.Loop() {
				if err := acc.addPackedParallel(in[i%inputs], &scratch); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
