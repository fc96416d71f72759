// Package anonymize_test benchmarks privml/anonymize on the UCI Adult data
// set: set-up A (the Mondrian reference set-up) per k, set-up B (the ARX
// benchmark, optimal global recoding) and Adult replicated ×10 and ×100.
// See README.md for the commands and results.
package anonymize_test
