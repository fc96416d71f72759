//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

// The assembly kernels of mod_amd64.s (SSE2, part of the amd64 baseline)
// and mod_avx2_amd64.s (AVX2, used when the CPU and OS support it). Their
// specification is the loop of the same name with the suffix Generic in
// mod_generic.go; m is the mask 2^bits - 1, and dst and src have equal
// length. The AVX2 kernels take whole blocks of 128 bytes only; the SSE2
// kernels finish the rest.

//go:noescape
func addMod32SSE2(dst, src []uint32, m uint32)

//go:noescape
func subMod32SSE2(dst, src []uint32, m uint32)

//go:noescape
func addMod64SSE2(dst, src []uint64, m uint64)

//go:noescape
func subMod64SSE2(dst, src []uint64, m uint64)

//go:noescape
func addMod32AVX2(dst, src []uint32, m uint32)

//go:noescape
func subMod32AVX2(dst, src []uint32, m uint32)

//go:noescape
func addMod64AVX2(dst, src []uint64, m uint64)

//go:noescape
func subMod64AVX2(dst, src []uint64, m uint64)

// useAVX2 is fixed at start-up; tests switch it to cover both paths.
var useAVX2 = cpu.X86.HasAVX2

const (
	block32 = 32 // uint32s per AVX2 iteration
	block64 = 16 // uint64s per AVX2 iteration
)

func addMod32(dst, src []uint32, m uint32) {
	if useAVX2 && len(dst) >= block32 {
		n := len(dst) &^ (block32 - 1)
		addMod32AVX2(dst[:n], src[:n], m)
		dst, src = dst[n:], src[n:]
	}
	addMod32SSE2(dst, src, m)
}

func subMod32(dst, src []uint32, m uint32) {
	if useAVX2 && len(dst) >= block32 {
		n := len(dst) &^ (block32 - 1)
		subMod32AVX2(dst[:n], src[:n], m)
		dst, src = dst[n:], src[n:]
	}
	subMod32SSE2(dst, src, m)
}

func addMod64(dst, src []uint64, m uint64) {
	if useAVX2 && len(dst) >= block64 {
		n := len(dst) &^ (block64 - 1)
		addMod64AVX2(dst[:n], src[:n], m)
		dst, src = dst[n:], src[n:]
	}
	addMod64SSE2(dst, src, m)
}

func subMod64(dst, src []uint64, m uint64) {
	if useAVX2 && len(dst) >= block64 {
		n := len(dst) &^ (block64 - 1)
		subMod64AVX2(dst[:n], src[:n], m)
		dst, src = dst[n:], src[n:]
	}
	subMod64SSE2(dst, src, m)
}
