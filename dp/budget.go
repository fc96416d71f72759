package dp

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
)

// Accounting names the privacy notion a [Filter] tracks.
type Accounting uint8

const (
	// PureDP sums epsilons (basic composition of ε-DP).
	PureDP Accounting = iota + 1
	// ApproxDP sums epsilons and deltas (basic composition of (ε,δ)-DP).
	ApproxDP
	// ZCDP sums rhos (composition of ρ-zCDP).
	ZCDP
)

func (a Accounting) String() string {
	switch a {
	case PureDP:
		return "pure DP"
	case ApproxDP:
		return "approximate DP"
	case ZCDP:
		return "zCDP"
	}
	return fmt.Sprintf("Accounting(%d)", uint8(a))
}

// Cost is the privacy cost of one release, or a budget. Only the fields of
// the filter's [Accounting] may be non-zero: Epsilon for PureDP, Epsilon
// and Delta for ApproxDP, Rho for ZCDP.
type Cost struct {
	Epsilon float64
	Delta   float64
	Rho     float64
}

// budgetSlack is the relative excess tolerated when comparing the running
// total with the limit, so that decimal costs that add up to the limit in
// exact arithmetic (ten requests of 0.1 against 1.0) are not refused because
// of float64 rounding. It allows overspending by at most limit·1e-12.
const budgetSlack = 1e-12

// Filter is a privacy filter: it admits a sequence of releases, chosen
// adaptively, while their total cost stays within a fixed budget, and
// refuses the first request that would exceed it. With an infinite budget
// ([NewOdometer]) it is a privacy odometer that only records the total.
//
// Composition is basic (additive): valid for adaptively chosen costs for
// pure and approximate DP (Rogers, Roth, Ullman and Vadhan 2016, privacy
// filters) and for zCDP (Whitehouse, Ramdas, Rogers and Wu 2023, fully
// adaptive composition). Convert tighter accounting (RDP, PLD) into one of
// these notions before spending.
//
// A Filter is safe for concurrent use; a refused request spends nothing.
// Its state can be saved with MarshalBinary and restored with
// UnmarshalBinary, so a long-lived service keeps its budget across
// restarts. The zero value is not usable; use a constructor.
type Filter struct {
	mu    sync.Mutex
	kind  Accounting
	limit Cost
	spent Cost
	n     uint64 // number of admitted requests
}

// NewPureFilter returns a filter with a budget of epsilon (ε-DP).
func NewPureFilter(epsilon float64) (*Filter, error) {
	if err := checkEpsilon("epsilon", epsilon); err != nil {
		return nil, err
	}
	return &Filter{kind: PureDP, limit: Cost{Epsilon: epsilon}}, nil
}

// NewApproxFilter returns a filter with a budget of (epsilon, delta).
func NewApproxFilter(epsilon, delta float64) (*Filter, error) {
	if err := checkEpsilon("epsilon", epsilon); err != nil {
		return nil, err
	}
	if err := checkDelta("delta", delta); err != nil {
		return nil, err
	}
	return &Filter{kind: ApproxDP, limit: Cost{Epsilon: epsilon, Delta: delta}}, nil
}

// NewZCDPFilter returns a filter with a budget of rho (ρ-zCDP).
func NewZCDPFilter(rho float64) (*Filter, error) {
	if err := checkPositive("rho", rho); err != nil {
		return nil, err
	}
	return &Filter{kind: ZCDP, limit: Cost{Rho: rho}}, nil
}

// NewOdometer returns a filter with an unlimited budget that records the
// total cost of everything spent under the given accounting.
func NewOdometer(kind Accounting) (*Filter, error) {
	inf := math.Inf(1)
	switch kind {
	case PureDP:
		return &Filter{kind: kind, limit: Cost{Epsilon: inf}}, nil
	case ApproxDP:
		return &Filter{kind: kind, limit: Cost{Epsilon: inf, Delta: 1}}, nil
	case ZCDP:
		return &Filter{kind: kind, limit: Cost{Rho: inf}}, nil
	}
	return nil, paramErr(ErrInvalidParameter, "kind", float64(kind), "must be PureDP, ApproxDP or ZCDP")
}

// checkCost validates c for accounting kind.
func checkCost(kind Accounting, c Cost) error {
	for _, f := range []struct {
		name string
		v    float64
		used bool
	}{
		{"epsilon", c.Epsilon, kind != ZCDP},
		{"delta", c.Delta, kind == ApproxDP},
		{"rho", c.Rho, kind == ZCDP},
	} {
		if !finite(f.v) || f.v < 0 {
			return paramErr(ErrInvalidParameter, f.name, f.v, "cost must be finite and >= 0")
		}
		if !f.used && f.v != 0 {
			return paramErr(ErrInvalidParameter, f.name, f.v, "must be 0 under "+kind.String()+" accounting")
		}
	}
	if c.Delta >= 1 {
		return paramErr(ErrInvalidDelta, "delta", c.Delta, "cost must be < 1")
	}
	return nil
}

func within(spent, limit float64) bool {
	return spent <= limit || spent <= limit*(1+budgetSlack)
}

// Spend admits a release named request (for the error message and logs)
// of cost c if the total stays within the budget, and records it. Otherwise
// it spends nothing and returns an error wrapping [ErrBudgetExhausted] that
// names the request, its cost and the remaining budget. An invalid cost is
// an error wrapping [ErrInvalidParameter].
func (f *Filter) Spend(request string, c Cost) error {
	if err := checkCost(f.kind, c); err != nil {
		return fmt.Errorf("dp: cannot spend for request %q: %w", request, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	next := Cost{f.spent.Epsilon + c.Epsilon, f.spent.Delta + c.Delta, f.spent.Rho + c.Rho}
	if !within(next.Epsilon, f.limit.Epsilon) || !within(next.Delta, f.limit.Delta) || !within(next.Rho, f.limit.Rho) {
		return fmt.Errorf("%w: request %q costs %s but only %s remains of %s",
			ErrBudgetExhausted, request, f.format(c), f.format(f.remainingLocked()), f.format(f.limit))
	}
	f.spent = next
	f.n++
	return nil
}

func (f *Filter) format(c Cost) string {
	switch f.kind {
	case PureDP:
		return fmt.Sprintf("epsilon %g", c.Epsilon)
	case ApproxDP:
		return fmt.Sprintf("(epsilon %g, delta %g)", c.Epsilon, c.Delta)
	}
	return fmt.Sprintf("rho %g", c.Rho)
}

// Accounting returns the privacy notion tracked by f.
func (f *Filter) Accounting() Accounting { return f.kind }

// Limit returns the budget.
func (f *Filter) Limit() Cost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limit
}

// Spent returns the total cost admitted so far and the number of requests.
func (f *Filter) Spent() (Cost, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spent, f.n
}

// Remaining returns the budget left (never negative).
func (f *Filter) Remaining() Cost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.remainingLocked()
}

func (f *Filter) remainingLocked() Cost {
	return Cost{
		Epsilon: max(0, f.limit.Epsilon-f.spent.Epsilon),
		Delta:   max(0, f.limit.Delta-f.spent.Delta),
		Rho:     max(0, f.limit.Rho-f.spent.Rho),
	}
}

// Encoding of a saved filter, version 1, 62 bytes, little endian:
//
//	magic "PMLF" | version uint8 = 1 | accounting uint8 |
//	limit ε, δ, ρ float64 | spent ε, δ, ρ float64 | requests uint64
const (
	filterMagic   = "PMLF"
	filterVersion = 1
	filterLen     = 4 + 1 + 1 + 6*8 + 8
)

// MarshalBinary saves the filter's accounting, budget and spending.
func (f *Filter) MarshalBinary() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := make([]byte, 0, filterLen)
	b = append(b, filterMagic...)
	b = append(b, filterVersion, byte(f.kind))
	for _, v := range []float64{f.limit.Epsilon, f.limit.Delta, f.limit.Rho, f.spent.Epsilon, f.spent.Delta, f.spent.Rho} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	b = binary.LittleEndian.AppendUint64(b, f.n)
	return b, nil
}

// UnmarshalBinary restores a filter saved by MarshalBinary, replacing the
// state of f. Data that is truncated, of another version, or describes an
// impossible state (negative or NaN values, spending beyond the budget,
// fields foreign to the accounting) is rejected with an error wrapping
// [ErrInvalidEncoding], and f is left unchanged.
func (f *Filter) UnmarshalBinary(data []byte) error {
	if len(data) != filterLen {
		return fmt.Errorf("%w: filter state is %d bytes, want %d", ErrInvalidEncoding, len(data), filterLen)
	}
	if string(data[:4]) != filterMagic {
		return fmt.Errorf("%w: filter state has bad magic %q", ErrInvalidEncoding, data[:4])
	}
	if data[4] != filterVersion {
		return fmt.Errorf("%w: filter state version %d, want %d", ErrInvalidEncoding, data[4], filterVersion)
	}
	kind := Accounting(data[5])
	if kind < PureDP || kind > ZCDP {
		return fmt.Errorf("%w: unknown accounting %d", ErrInvalidEncoding, data[5])
	}
	var v [6]float64
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[6+8*i:]))
		if math.IsNaN(v[i]) || v[i] < 0 {
			return fmt.Errorf("%w: field %d is %v", ErrInvalidEncoding, i, v[i])
		}
	}
	limit := Cost{v[0], v[1], v[2]}
	spent := Cost{v[3], v[4], v[5]}
	n := binary.LittleEndian.Uint64(data[54:])
	if err := checkLimit(kind, limit); err != nil {
		return fmt.Errorf("%w: budget: %v", ErrInvalidEncoding, err)
	}
	if err := checkCost(kind, spent); err != nil && !(kind == ApproxDP && spent.Delta >= 1 && within(spent.Delta, limit.Delta)) {
		return fmt.Errorf("%w: spent: %v", ErrInvalidEncoding, err)
	}
	if !within(spent.Epsilon, limit.Epsilon) || !within(spent.Delta, limit.Delta) || !within(spent.Rho, limit.Rho) {
		return fmt.Errorf("%w: spending exceeds the budget", ErrInvalidEncoding)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kind, f.limit, f.spent, f.n = kind, limit, spent, n
	return nil
}

// checkLimit validates a budget as the constructors would (infinite
// budgets are odometers).
func checkLimit(kind Accounting, l Cost) error {
	pos := func(v float64) bool { return v > 0 && !math.IsNaN(v) }
	switch kind {
	case PureDP:
		if !pos(l.Epsilon) || l.Delta != 0 || l.Rho != 0 {
			return fmt.Errorf("invalid pure DP budget %+v", l)
		}
	case ApproxDP:
		if !pos(l.Epsilon) || !(l.Delta > 0 && l.Delta <= 1) || l.Rho != 0 || (l.Delta == 1 && !math.IsInf(l.Epsilon, 1)) {
			return fmt.Errorf("invalid approximate DP budget %+v", l)
		}
	case ZCDP:
		if !pos(l.Rho) || l.Epsilon != 0 || l.Delta != 0 {
			return fmt.Errorf("invalid zCDP budget %+v", l)
		}
	}
	return nil
}
