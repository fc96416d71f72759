package prg

import (
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
