package dp

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors. Every error returned by this package wraps one of them,
// so callers can test for a class of failure with [errors.Is].
var (
	// ErrInvalidParameter is wrapped by every error about a bad privacy or
	// noise parameter (epsilon, delta, rho, sensitivity, sigma, scale, bound).
	ErrInvalidParameter = errors.New("dp: invalid parameter")
	// ErrInvalidEpsilon reports an epsilon that is NaN, infinite or not
	// positive. It is always returned together with ErrInvalidParameter.
	ErrInvalidEpsilon = errors.New("dp: invalid epsilon")
	// ErrInvalidDelta reports a delta outside the open interval (0, 1).
	ErrInvalidDelta = errors.New("dp: invalid delta")
	// ErrInvalidSensitivity reports a sensitivity that is NaN, infinite or
	// negative (or zero where noise is calibrated from it).
	ErrInvalidSensitivity = errors.New("dp: invalid sensitivity")
	// ErrInvalidInput reports data that cannot be noised: NaN or ±Inf
	// values, or mismatched lengths.
	ErrInvalidInput = errors.New("dp: invalid input")
	// ErrOverflow reports an integer result that does not fit in int64.
	ErrOverflow = errors.New("dp: integer overflow")
	// ErrBudgetExhausted reports a request refused by a [Filter] because it
	// would overspend the budget. The error names the request.
	ErrBudgetExhausted = errors.New("dp: privacy budget exhausted")
	// ErrInvalidEncoding reports saved filter state that cannot be decoded.
	ErrInvalidEncoding = errors.New("dp: invalid encoding")
)

// ParamError describes a rejected parameter. It wraps [ErrInvalidParameter]
// and, where one applies, a more specific sentinel such as
// [ErrInvalidEpsilon].
type ParamError struct {
	Param  string  // name of the parameter, e.g. "epsilon"
	Value  float64 // the value that was rejected
	Reason string  // what was expected
	kind   error
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("dp: %s = %v: %s", e.Param, e.Value, e.Reason)
}

// Unwrap returns the sentinels this error matches.
func (e *ParamError) Unwrap() []error {
	if e.kind == nil || e.kind == ErrInvalidParameter {
		return []error{ErrInvalidParameter}
	}
	return []error{e.kind, ErrInvalidParameter}
}

func paramErr(kind error, name string, v float64, reason string) error {
	return &ParamError{Param: name, Value: v, Reason: reason, kind: kind}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// checkEpsilon accepts finite epsilon > 0.
func checkEpsilon(name string, v float64) error {
	if !finite(v) || v <= 0 {
		return paramErr(ErrInvalidEpsilon, name, v, "must be finite and > 0")
	}
	return nil
}

// checkDelta accepts delta in the open interval (0, 1).
func checkDelta(name string, v float64) error {
	if !(v > 0 && v < 1) {
		return paramErr(ErrInvalidDelta, name, v, "must be in the open interval (0, 1)")
	}
	return nil
}

// checkSensitivity accepts finite sensitivity > 0.
func checkSensitivity(name string, v float64) error {
	if !finite(v) || v <= 0 {
		return paramErr(ErrInvalidSensitivity, name, v, "must be finite and > 0")
	}
	return nil
}

// checkPositive accepts a finite value > 0.
func checkPositive(name string, v float64) error {
	if !finite(v) || v <= 0 {
		return paramErr(ErrInvalidParameter, name, v, "must be finite and > 0")
	}
	return nil
}

// checkFinite returns an error naming the first non-finite element of x.
func checkFinite(name string, x []float64) error {
	// v·0 is 0 for finite v and NaN for NaN or ±Inf, so four running sums
	// of v·0 stay 0 exactly when every element is finite: a branch-free
	// pass, then a search for the first culprit only on failure.
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a0 += x[i] * 0
		a1 += x[i+1] * 0
		a2 += x[i+2] * 0
		a3 += x[i+3] * 0
	}
	for ; i < len(x); i++ {
		a0 += x[i] * 0
	}
	if a0+a1+a2+a3 == 0 {
		return nil
	}
	for i, v := range x {
		if v-v != 0 { // NaN or ±Inf
			return fmt.Errorf("%w: %s[%d] = %v is not finite", ErrInvalidInput, name, i, v)
		}
	}
	return nil
}
