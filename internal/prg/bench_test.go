package prg

import (
	"fmt"
	"testing"
)

// Benchmarks report GB/s as the bytes of the destination vector masked per
// second (4 per uint32 element, 8 per uint64).

var benchSizes = []struct {
	name string
	n    int
}{
	{"1K", 1000},
	{"1M", 1000000},
}

func BenchmarkExpandAddMod32(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			seed := testSeed(1)
			x := make([]uint32, s.n)
			b.SetBytes(int64(4 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				ExpandAddMod32(x, &seed, 32)
			}
		})
	}
}

func BenchmarkExpandAddMod64(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			seed := testSeed(1)
			x := make([]uint64, s.n)
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				ExpandAddMod64(x, &seed, 64)
			}
		})
	}
}

// BenchmarkKeystream is the AES-256-CTR keystream alone, for comparison.
func BenchmarkKeystream(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			seed := testSeed(1)
			buf := make([]byte, 4*s.n)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				NewReader(&seed).Read(buf)
			}
		})
	}
}

// BenchmarkMaskBlocks adds 32 masks to a 1M-element vector piece by piece
// (every mask on one piece, then the next piece), the way a server removes
// many masks, against 32 whole-vector expansions; ns/op is per mask.
func BenchmarkMaskBlocks(b *testing.B) {
	const n, masks = 1_000_000, 32
	ms := make([]*Mask, masks)
	seeds := make([][SeedSize]byte, masks)
	for i := range ms {
		seeds[i] = testSeed(byte(i))
		ms[i] = NewMask(&seeds[i])
	}
	x := make([]uint32, n)
	b.Run("whole", func(b *testing.B) {
		b.SetBytes(4 * n)
		for b.Loop() {
			for i := range seeds {
				ExpandAddMod32(x, &seeds[i], 32)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*masks), "ns/mask")
	})
	for _, piece := range []int{8192, 16384, 32768, 65536, 131072} {
		b.Run(fmt.Sprintf("piece=%d", piece), func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				for lo := 0; lo < n; lo += piece {
					hi := min(lo+piece, n)
					for _, m := range ms {
						m.AddMod32At(x[lo:hi], lo, 32)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*masks), "ns/mask")
		})
	}
}
