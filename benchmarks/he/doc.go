// Package hebench benchmarks encrypted inference with privml/he: the digits
// MLP and logistic regression in latency and batch mode, a ReLU MLP at PN15
// (BenchmarkReLU), a model with one bootstrap at insecure logN 12
// (BenchmarkBootstrap), and per-operation
// microbenchmarks at logN 13 and 14 next to hand-written lattigo code doing
// the same work, so that the overhead of the layers is visible. It has no
// non-test code.
//
// Run with a short benchtime, for example
//
//	go test ./benchmarks/he -run XXX -bench . -benchtime 3x
//
// Each benchmark reports ms/sample (wall clock) and cpu-ms/sample (process
// CPU time, less sensitive to a loaded machine).
package hebench
