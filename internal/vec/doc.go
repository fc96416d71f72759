// Package vec holds the hot loops that every privml pillar shares: float64
// dot products, axpy, scaling, L2 norms and clipping, modular addition and
// subtraction of uint32/uint64 vectors modulo 2^B, and fixed-point encoding
// with stochastic rounding.
//
// Kernels work on flat slices, allocate nothing and follow gonum's
// convention that the slice modified in place is named dst. Length
// mismatches are programmer errors and panic; data never reaches these
// functions unchecked.
//
// This package is internal: its API may change without notice.
package vec
