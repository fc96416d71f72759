//go:build race

package dp

// raceEnabled is true when the tests run under the race detector, whose
// instrumentation allocates on its own and makes allocation counts
// meaningless.
const raceEnabled = true
