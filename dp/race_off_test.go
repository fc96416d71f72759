//go:build !race

package dp

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = false
