// Package dataset loads the data formats used by privml's examples and
// benchmarks.
package dataset
