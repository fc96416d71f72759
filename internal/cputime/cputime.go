// Package cputime reads the CPU time the process has used, for benchmarks
// and simulations that report compute apart from wall time: on a shared
// machine other jobs inflate wall time far more than CPU time.
package cputime
