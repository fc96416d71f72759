package dp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
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
// names the request, its cost and the remaining budget; so does a request
// past the 2^64-1st, whose count would not fit. An invalid cost is an error
// wrapping [ErrInvalidParameter].
func (f *Filter) Spend(request string, c Cost) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The cost is checked under the lock: UnmarshalBinary may change the
	// accounting concurrently.
	if err := checkCost(f.kind, c); err != nil {
		return fmt.Errorf("dp: cannot spend for request %q: %w", request, err)
	}
	next := Cost{f.spent.Epsilon + c.Epsilon, f.spent.Delta + c.Delta, f.spent.Rho + c.Rho}
	if f.n == math.MaxUint64 {
		return fmt.Errorf("%w: request %q would overflow the request count", ErrBudgetExhausted, request)
	}
	if !finite(next.Epsilon) || !finite(next.Rho) {
		return fmt.Errorf("%w: request %q costs %s and the total would overflow float64", ErrBudgetExhausted, request, f.format(c))
	}
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
func (f *Filter) Accounting() Accounting {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kind
}

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
//
// With a MAC ([Filter.MarshalBinaryMAC]) the 32-byte HMAC-SHA256 of
// filterMACLabel followed by those 62 bytes is appended (94 bytes).
const (
	filterMagic    = "PMLF"
	filterVersion  = 1
	filterLen      = 4 + 1 + 1 + 6*8 + 8
	filterMACLen   = filterLen + sha256.Size
	filterMACLabel = "privml dp.Filter state v1\x00"
	// MinFilterMACKeyLen is the shortest key [Filter.MarshalBinaryMAC] and
	// [Filter.UnmarshalBinaryMAC] accept, in bytes.
	MinFilterMACKeyLen = 16
)

// MarshalBinary saves the filter's accounting, budget and spending. The
// encoding is not authenticated: whoever can write it can raise the budget
// to any value a constructor accepts. Use [Filter.MarshalBinaryMAC] when the
// storage is not trusted.
func (f *Filter) MarshalBinary() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := make([]byte, 0, filterMACLen)
	b = append(b, filterMagic...)
	b = append(b, filterVersion, byte(f.kind))
	for _, v := range []float64{f.limit.Epsilon, f.limit.Delta, f.limit.Rho, f.spent.Epsilon, f.spent.Delta, f.spent.Rho} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	b = binary.LittleEndian.AppendUint64(b, f.n)
	return b, nil
}

// MarshalBinaryMAC is [Filter.MarshalBinary] followed by an HMAC-SHA256 tag
// under key (at least [MinFilterMACKeyLen] bytes, kept apart from the saved
// state), so that [Filter.UnmarshalBinaryMAC] detects any change to the
// state. The MAC cannot detect rollback or substitution: an older state
// saved under the same key verifies too, and so does the state of another
// filter saved under the same key (a larger budget, say). A caller that
// must exclude substitution uses one key per filter (derived, for instance,
// as HMAC(master key, filter name)); one that must exclude rollback keeps
// the request count ([Filter.Spent]) or a version number where the
// attacker cannot write, or changes the key with every save.
func (f *Filter) MarshalBinaryMAC(key []byte) ([]byte, error) {
	if err := checkMACKey(key); err != nil {
		return nil, err
	}
	b, _ := f.MarshalBinary()
	return append(b, filterMAC(key, b)...), nil
}

// UnmarshalBinaryMAC checks the tag appended by [Filter.MarshalBinaryMAC]
// under key, in constant time, before it decodes anything, and then
// restores the state as [Filter.UnmarshalBinary] does. A tag that does not
// match (tampered state, or another key) is an error wrapping
// [ErrInvalidEncoding], and f is left unchanged.
func (f *Filter) UnmarshalBinaryMAC(data, key []byte) error {
	if err := checkMACKey(key); err != nil {
		return err
	}
	if len(data) != filterMACLen {
		return fmt.Errorf("%w: authenticated filter state is %d bytes, want %d", ErrInvalidEncoding, len(data), filterMACLen)
	}
	state, tag := data[:filterLen], data[filterLen:]
	if !hmac.Equal(tag, filterMAC(key, state)) {
		return fmt.Errorf("%w: filter state does not match its MAC (modified, or saved under another key)", ErrInvalidEncoding)
	}
	return f.UnmarshalBinary(state)
}

func checkMACKey(key []byte) error {
	if len(key) < MinFilterMACKeyLen {
		return fmt.Errorf("%w: filter MAC key is %d bytes, want at least %d", ErrInvalidParameter, len(key), MinFilterMACKeyLen)
	}
	return nil
}

func filterMAC(key, state []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(filterMACLabel))
	m.Write(state)
	return m.Sum(nil)
}

// UnmarshalBinary restores a filter saved by MarshalBinary, replacing the
// state of f. It accepts exactly the states that a constructor followed by
// calls to Spend can produce: the budget must be one a constructor accepts
// (an infinite one only as [NewOdometer] makes it), the spending finite,
// non-negative, within the budget and zero for fields foreign to the
// accounting, zero after zero requests, and below one in δ per request.
// Anything else, and data that is truncated or of another version, is
// rejected with an error wrapping [ErrInvalidEncoding], and f is left
// unchanged. A valid state can still be replaced by another valid one with
// a larger budget: only [Filter.UnmarshalBinaryMAC] detects that.
func (f *Filter) UnmarshalBinary(data []byte) error {
	if len(data) == filterMACLen && string(data[:4]) == filterMagic {
		return fmt.Errorf("%w: filter state carries a MAC; restore it with UnmarshalBinaryMAC", ErrInvalidEncoding)
	}
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
	names := [6]string{"budget epsilon", "budget delta", "budget rho", "spent epsilon", "spent delta", "spent rho"}
	var v [6]float64
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[6+8*i:]))
		// Negative zero is refused too, so that the encoding is canonical.
		if math.IsNaN(v[i]) || math.Signbit(v[i]) {
			return fmt.Errorf("%w: filter state %s is %v", ErrInvalidEncoding, names[i], v[i])
		}
	}
	limit := Cost{v[0], v[1], v[2]}
	spent := Cost{v[3], v[4], v[5]}
	n := binary.LittleEndian.Uint64(data[54:])
	if err := checkLimit(kind, limit); err != nil {
		return fmt.Errorf("%w: filter state budget: %v", ErrInvalidEncoding, err)
	}
	if err := checkSpent(kind, limit, spent, n); err != nil {
		return fmt.Errorf("%w: filter state spending: %v", ErrInvalidEncoding, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kind, f.limit, f.spent, f.n = kind, limit, spent, n
	return nil
}

// checkLimit accepts exactly the budgets the constructors make: it calls
// them and compares.
func checkLimit(kind Accounting, l Cost) error {
	var g *Filter
	var err error
	switch {
	case math.IsInf(l.Epsilon, 1) || math.IsInf(l.Rho, 1):
		g, err = NewOdometer(kind)
	case kind == PureDP:
		g, err = NewPureFilter(l.Epsilon)
	case kind == ApproxDP:
		g, err = NewApproxFilter(l.Epsilon, l.Delta)
	default:
		g, err = NewZCDPFilter(l.Rho)
	}
	if err != nil {
		if pe, ok := errors.AsType[*ParamError](err); ok {
			return fmt.Errorf("%s = %v: %s", pe.Param, pe.Value, pe.Reason)
		}
		return err
	}
	if g.limit != l {
		return fmt.Errorf("%s budget %s is not one a constructor makes", kind, g.format(l))
	}
	return nil
}

// checkSpent accepts the spending that Spend can accumulate from zero in n
// requests against limit.
func checkSpent(kind Accounting, limit, spent Cost, n uint64) error {
	for _, f := range []struct {
		name string
		v, l float64
		used bool
	}{
		{"epsilon", spent.Epsilon, limit.Epsilon, kind != ZCDP},
		{"delta", spent.Delta, limit.Delta, kind == ApproxDP},
		{"rho", spent.Rho, limit.Rho, kind == ZCDP},
	} {
		switch {
		case !finite(f.v):
			return fmt.Errorf("%s %v is not finite", f.name, f.v)
		case !f.used && f.v != 0:
			return fmt.Errorf("%s %v under %s accounting", f.name, f.v, kind)
		case !within(f.v, f.l):
			return fmt.Errorf("%s %v exceeds the budget %v", f.name, f.v, f.l)
		case n == 0 && f.v != 0:
			return fmt.Errorf("%s %v after no requests", f.name, f.v)
		}
	}
	// Each request costs δ < 1.
	if n < 2 && spent.Delta >= float64(n) && spent.Delta != 0 {
		return fmt.Errorf("delta %v in %d request(s), each below 1", spent.Delta, n)
	}
	return nil
}
