package vec

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks report GB/s as the bytes of the destination vector processed
// per second (4 bytes per uint32 element, 8 per uint64 or float64), so that
// BenchmarkAddMod32/1M compares directly with BenchmarkCopy/1M, a copy of
// the same number of bytes.

var benchSizes = []struct {
	name string
	n    int
}{
	{"1K", 1000},
	{"1M", 1000000},
}

func BenchmarkCopy(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			dst, src := make([]uint32, s.n), make([]uint32, s.n)
			b.SetBytes(int64(4 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

func benchMod32(b *testing.B, op func(dst, src []uint32, bits uint)) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			dst, src := make([]uint32, s.n), make([]uint32, s.n)
			for i := range src {
				dst[i], src[i] = r.Uint32(), r.Uint32()
			}
			b.SetBytes(int64(4 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				op(dst, src, 32)
			}
		})
	}
}

func benchMod64(b *testing.B, op func(dst, src []uint64, bits uint)) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			dst, src := make([]uint64, s.n), make([]uint64, s.n)
			for i := range src {
				dst[i], src[i] = r.Uint64(), r.Uint64()
			}
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				op(dst, src, 64)
			}
		})
	}
}

func BenchmarkAddMod32(b *testing.B) { benchMod32(b, AddMod32) }
func BenchmarkSubMod32(b *testing.B) { benchMod32(b, SubMod32) }
func BenchmarkAddMod64(b *testing.B) { benchMod64(b, AddMod64) }
func BenchmarkSubMod64(b *testing.B) { benchMod64(b, SubMod64) }

func benchFloats(n int) (x, y []float64) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y = make([]float64, n), make([]float64, n)
	for i := range x {
		x[i], y[i] = r.NormFloat64(), r.NormFloat64()
	}
	return x, y
}

var sinkF float64

func BenchmarkDot(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			x, y := benchFloats(s.n)
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				sinkF = Dot(x, y)
			}
		})
	}
}

func BenchmarkAxpy(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			x, y := benchFloats(s.n)
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				Axpy(y, 1e-9, x)
			}
		})
	}
}

func BenchmarkScale(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			x, _ := benchFloats(s.n)
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Alternate so the values stay bounded.
				if i&1 == 0 {
					Scale(x, 2)
				} else {
					Scale(x, 0.5)
				}
				i++
			}
		})
	}
}

func BenchmarkNorm2(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			x, _ := benchFloats(s.n)
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				sinkF = Norm2(x)
			}
		})
	}
}

// BenchmarkClipL2 measures the clipping case: every call computes the norm
// and scales. The bound shrinks by a factor 1 - 1e-9 per call so that the
// vector is always just above it.
func BenchmarkClipL2(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			x, _ := benchFloats(s.n)
			bound := Norm2(x)
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				bound *= 1 - 1e-9
				sinkF = ClipL2(x, bound)
			}
			if sinkF == 1 {
				b.Fatal("ClipL2 did not clip")
			}
		})
	}
}

func BenchmarkClipL2Into(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			x, y := benchFloats(s.n)
			bound := Norm2(x) / 2
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				sinkF = ClipL2Into(y, x, bound)
			}
		})
	}
}

func BenchmarkEncodeFixed(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			x, _ := benchFloats(s.n)
			dst := make([]uint64, s.n)
			src := rand.NewPCG(5, 6)
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				EncodeFixed(dst, x, 1<<16, 32, src)
			}
		})
	}
}

func BenchmarkDecodeFixed(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			x, _ := benchFloats(s.n)
			enc := make([]uint64, s.n)
			EncodeFixed(enc, x, 1<<16, 32, rand.NewPCG(5, 6))
			b.SetBytes(int64(8 * s.n))
			b.ReportAllocs()
			for b.Loop() {
				DecodeFixed(x, enc, 1<<16, 32)
			}
		})
	}
}
