// Package vec holds the hot loops that every privml pillar shares: float64
// dot products, axpy, scaling, L2 norms and clipping, modular addition and
// subtraction of uint32/uint64 vectors modulo 2^bits, and fixed-point
// encoding with stochastic rounding.
//
// This package is internal: its API may change without notice.
//
// # Conventions
//
// Kernels work on flat slices, allocate nothing and follow gonum's
// convention that the slice modified in place is named dst. Length
// mismatches, a bit width out of range, a negative clipping bound and a
// non-positive scale are programmer errors and panic with a constant
// message; data from outside never reaches these functions unchecked.
//
// # Specification and fast paths
//
// Each kernel's specification is a plain loop (the *Generic functions),
// which the tests compare against every fast path:
//
//   - [Dot], [Axpy], [Scale] and the sum of squares of [Norm2] use gonum's
//     assembly-backed kernels (gonum.org/v1/gonum/floats), 2 to 4 times
//     faster than the plain loops here. [Dot] may therefore round
//     differently from a sequential sum (within 2n·eps·sum|x·y|).
//   - [AddMod32], [SubMod32], [AddMod64] and [SubMod64] have assembly
//     kernels on amd64: AVX2 (when golang.org/x/sys/cpu reports it) for
//     whole 128-byte blocks, and SSE2 (part of the amd64 baseline) for the
//     rest or on CPUs without AVX2. Packed adds wrap per 32- or 64-bit lane,
//     so carries never cross elements, and the result is masked to bits
//     bits. They give results identical to the plain loops.
//
// Building with the purego tag selects the plain loops everywhere.
//
// # Norms
//
// [Norm2] avoids overflow and underflow as LAPACK's dnrm2 does (Blue, "A
// portable Fortran program to find the Euclidean norm of a vector", ACM
// TOMS 4(1), 1978; Anderson, "Algorithm 978: Safe scaling in the Level 1
// BLAS", ACM TOMS 44(1), 2017) but pays for it only when needed: the plain
// sum of squares is used when it is finite and not tiny, and otherwise the
// vector is rescaled by a power of two (exactly) and summed again. NaN
// propagates; an infinite element gives +Inf. [ClipL2] and [ClipL2Into]
// zero a vector whose norm is NaN or infinite, so no non-finite input
// escapes clipping (DP-SGD per-example clipping, Abadi et al., "Deep
// learning with differential privacy", CCS 2016).
//
// # Fixed point
//
// [EncodeFixed] maps x to round(x·scale) modulo 2^bits in two's complement,
// rounding stochastically (up with probability equal to the fractional
// part), which makes the encoding unbiased (Gupta et al., "Deep learning
// with limited numerical precision", ICML 2015; as used for secure
// aggregation of real vectors by Kairouz, Liu and Steinke, "The distributed
// discrete Gaussian mechanism for federated learning with secure
// aggregation", ICML 2021). Out-of-range values clamp to the ends of the
// signed range, NaN encodes as 0. [DecodeFixed] is the centred inverse;
// |DecodeFixed(EncodeFixed(x)) - x| < 1/scale in range.
package vec
