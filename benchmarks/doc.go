// Package benchmarks holds performance benchmarks of privml against its
// peers and privacy/utility trade-off studies. It has no non-test code.
package benchmarks
