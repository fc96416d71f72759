package accounting

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors. Every error returned by this package wraps one of them, so
// callers can test the cause with [errors.Is].
var (
	// ErrInvalidParameter reports a parameter outside its domain (NaN,
	// infinite, negative noise, a sampling rate outside (0, 1], a delta
	// outside (0, 1), a step count below 1, ...). The message names the
	// parameter and its value.
	ErrInvalidParameter = errors.New("accounting: invalid parameter")
	// ErrUnsupportedEvent reports an event, or an event under a neighbouring
	// relation, that an accountant cannot account for.
	ErrUnsupportedEvent = errors.New("accounting: unsupported event")
	// ErrNoSolution reports that an inverse calibration has no solution in its
	// search range (for example a target epsilon that no finite noise reaches).
	ErrNoSolution = errors.New("accounting: no solution")
)

func invalid(name string, v any, want string) error {
	return fmt.Errorf("%w: %s = %v, want %s", ErrInvalidParameter, name, v, want)
}

// checkPositive requires a finite v > 0.
func checkPositive(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return invalid(name, v, "finite and > 0")
	}
	return nil
}

// checkNonNegative requires a finite v >= 0.
func checkNonNegative(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return invalid(name, v, "finite and >= 0")
	}
	return nil
}

// checkRate requires q in (0, 1].
func checkRate(name string, q float64) error {
	if math.IsNaN(q) || q <= 0 || q > 1 {
		return invalid(name, q, "in (0, 1]")
	}
	return nil
}

// checkDelta requires delta in (0, 1).
func checkDelta(name string, d float64) error {
	if math.IsNaN(d) || d <= 0 || d >= 1 {
		return invalid(name, d, "in (0, 1)")
	}
	return nil
}

// checkSteps requires steps >= 1.
func checkSteps(name string, n int) error {
	if n < 1 {
		return invalid(name, n, ">= 1")
	}
	return nil
}
