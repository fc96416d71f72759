//go:build amd64 && !purego

package vec

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// withAVX2 runs f with the AVX2 kernels on (when the CPU has them) and
// off, so that both amd64 paths are tested whatever the machine.
func withAVX2(t *testing.T, f func(t *testing.T)) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	for _, on := range []bool{false, true} {
		if on && !saved {
			t.Log("CPU without AVX2: AVX2 kernels not tested")
			continue
		}
		useAVX2 = on
		t.Run(fmt.Sprintf("avx2=%v", on), f)
	}
}

// TestModAMD64Paths compares the SSE2-only and AVX2+SSE2 dispatch with the
// portable loops, at lengths around both block sizes.
func TestModAMD64Paths(t *testing.T) {
	withAVX2(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 9))
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 95, 96, 97, 1000, 1031} {
			for _, bits := range []uint{1, 8, 31, 32} {
				m := uint32(1<<bits - 1)
				a, b := make([]uint32, n), make([]uint32, n)
				fill32(r, a)
				fill32(r, b)
				for _, op := range []struct {
					name          string
					fast, generic func(dst, src []uint32, m uint32)
				}{{"add", addMod32, addMod32Generic}, {"sub", subMod32, subMod32Generic}} {
					x, y := append([]uint32(nil), a...), append([]uint32(nil), a...)
					op.fast(x, b, m)
					op.generic(y, b, m)
					for i := range x {
						if x[i] != y[i] {
							t.Fatalf("%s32 n=%d bits=%d [%d]: %#x, want %#x", op.name, n, bits, i, x[i], y[i])
						}
					}
				}
			}
			for _, bits := range []uint{1, 33, 63, 64} {
				m := mask64(bits)
				a, b := make([]uint64, n), make([]uint64, n)
				fill64(r, a)
				fill64(r, b)
				for _, op := range []struct {
					name          string
					fast, generic func(dst, src []uint64, m uint64)
				}{{"add", addMod64, addMod64Generic}, {"sub", subMod64, subMod64Generic}} {
					x, y := append([]uint64(nil), a...), append([]uint64(nil), a...)
					op.fast(x, b, m)
					op.generic(y, b, m)
					for i := range x {
						if x[i] != y[i] {
							t.Fatalf("%s64 n=%d bits=%d [%d]: %#x, want %#x", op.name, n, bits, i, x[i], y[i])
						}
					}
				}
			}
		}
	})
}

// BenchmarkAddMod32SSE2 is BenchmarkAddMod32 with the AVX2 kernel off, to
// show what it gains.
func BenchmarkAddMod32SSE2(b *testing.B) {
	saved := useAVX2
	useAVX2 = false
	defer func() { useAVX2 = saved }()
	benchMod32(b, AddMod32)
}

// TestAddMod32UnalignedKernels runs the unaligned-src test on the SSE2
// and the AVX2 kernels.
func TestAddMod32UnalignedKernels(t *testing.T) {
	withAVX2(t, TestAddMod32UnalignedSrc)
}
