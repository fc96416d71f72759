package dp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reachable reports whether (kind, limit, spent, n) is a state that a
// constructor followed by n calls to Spend can produce. It rebuilds the
// state through the public API: the constructor that makes limit, then the
// spending in one request (n = 1) or two halves (n >= 2; the other requests
// cost zero), and compares.
func reachable(kind Accounting, limit, spent Cost, n uint64) error {
	var f *Filter
	var err error
	switch {
	case math.IsInf(limit.Epsilon, 1) || math.IsInf(limit.Rho, 1):
		f, err = NewOdometer(kind)
	case kind == PureDP:
		f, err = NewPureFilter(limit.Epsilon)
	case kind == ApproxDP:
		f, err = NewApproxFilter(limit.Epsilon, limit.Delta)
	case kind == ZCDP:
		f, err = NewZCDPFilter(limit.Rho)
	default:
		return fmt.Errorf("accounting %d", kind)
	}
	if err != nil {
		return fmt.Errorf("no constructor makes the budget %+v: %w", limit, err)
	}
	if f.Limit() != limit {
		return fmt.Errorf("constructor makes %+v, not %+v", f.Limit(), limit)
	}
	zero := Cost{}
	switch {
	case n == 0 && spent != zero:
		return fmt.Errorf("spent %+v in no requests", spent)
	case n == 1:
		if err := f.Spend("all", spent); err != nil {
			return err
		}
	case n >= 2:
		half := Cost{spent.Epsilon / 2, spent.Delta / 2, spent.Rho / 2}
		rest := Cost{spent.Epsilon - half.Epsilon, spent.Delta - half.Delta, spent.Rho - half.Rho}
		if err := f.Spend("half", half); err != nil {
			return err
		}
		if err := f.Spend("rest", rest); err != nil {
			return err
		}
	}
	if got, _ := f.Spent(); got != spent {
		return fmt.Errorf("spending rebuilt as %+v, not %+v", got, spent)
	}
	return nil
}

// savedFilters are saved states of every kind, fresh and partly spent.
func savedFilters(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	add := func(name string, f *Filter, err error, costs ...Cost) {
		require.NoError(t, err)
		for i, c := range costs {
			require.NoError(t, f.Spend(fmt.Sprint(i), c))
		}
		b, err := f.MarshalBinary()
		require.NoError(t, err)
		out[name] = b
	}
	f, err := NewPureFilter(1)
	add("pure", f, err, Cost{Epsilon: 0.25})
	f, err = NewPureFilter(3)
	add("pure fresh", f, err)
	f, err = NewApproxFilter(1, 1e-5)
	add("approx", f, err, Cost{Epsilon: 0.5, Delta: 1e-6}, Cost{Epsilon: 0.1})
	f, err = NewApproxFilter(8, 0.5)
	add("approx fresh", f, err)
	f, err = NewZCDPFilter(0.5)
	add("zcdp", f, err, Cost{Rho: 0.125})
	f, err = NewOdometer(PureDP)
	add("pure odometer", f, err, Cost{Epsilon: 2})
	f, err = NewOdometer(ApproxDP)
	add("approx odometer", f, err, Cost{Epsilon: 2, Delta: 0.5}, Cost{Epsilon: 1, Delta: 0.5})
	f, err = NewOdometer(ZCDP)
	add("zcdp odometer", f, err, Cost{Rho: 3})
	return out
}

func decodedState(f *Filter) (Accounting, Cost, Cost, uint64) {
	s, n := f.Spent()
	return f.Accounting(), f.Limit(), s, n
}

// TestFilterBitFlips: every single-bit flip of a saved filter of every kind
// either is refused or decodes to a state reachable through a constructor
// and Spend; none yields a budget no constructor call makes (an infinite
// (ε, δ) budget with δ < 1, say) or spending no Spend sequence leaves.
func TestFilterBitFlips(t *testing.T) {
	for name, b := range savedFilters(t) {
		accepted := 0
		for bit := range len(b) * 8 {
			c := bytes.Clone(b)
			c[bit/8] ^= 1 << (bit % 8)
			var g Filter
			if err := g.UnmarshalBinary(c); err != nil {
				require.ErrorIs(t, err, ErrInvalidEncoding, "%s bit %d", name, bit)
				continue
			}
			accepted++
			kind, limit, spent, n := decodedState(&g)
			assert.NoError(t, reachable(kind, limit, spent, n), "%s bit %d: decoded an unreachable state", name, bit)
		}
		t.Logf("%s: %d of %d flips decode to a reachable state", name, accepted, len(b)*8)
	}
}

// TestFilterInfiniteApproxBudgetRefused is the bypass: an (ε, δ) budget with
// ε = +Inf and δ < 1 is made by no constructor, so its saved form is refused
// and no request can be spent from it. Other states no constructor and
// Spend sequence makes are refused too.
func TestFilterInfiniteApproxBudgetRefused(t *testing.T) {
	f, err := NewApproxFilter(1, 1e-5)
	require.NoError(t, err)
	b, err := f.MarshalBinary()
	require.NoError(t, err)
	binary.LittleEndian.PutUint64(b[6:], math.Float64bits(math.Inf(1)))
	var g Filter
	require.ErrorIs(t, g.UnmarshalBinary(b), ErrInvalidEncoding)
	assert.Error(t, g.Spend("x", Cost{Epsilon: 1000}), "an unusable zero filter must not admit spending")

	for _, c := range []struct {
		name         string
		kind         Accounting
		limit, spent Cost
		n            uint64
	}{
		{"approx delta 1 finite epsilon", ApproxDP, Cost{Epsilon: 1, Delta: 1}, Cost{}, 0},
		{"pure with rho", PureDP, Cost{Epsilon: 1, Rho: 1}, Cost{}, 0},
		{"zcdp with epsilon +Inf", ZCDP, Cost{Epsilon: math.Inf(1), Rho: 1}, Cost{}, 0},
		{"spent +Inf on odometer", PureDP, Cost{Epsilon: math.Inf(1)}, Cost{Epsilon: math.Inf(1)}, 1},
		{"spent without requests", PureDP, Cost{Epsilon: 1}, Cost{Epsilon: 0.5}, 0},
		{"delta 1 in one request", ApproxDP, Cost{Epsilon: math.Inf(1), Delta: 1}, Cost{Epsilon: 1, Delta: 1}, 1},
		{"negative zero", PureDP, Cost{Epsilon: 1, Delta: math.Copysign(0, -1)}, Cost{}, 0},
		{"spent beyond budget", ZCDP, Cost{Rho: 1}, Cost{Rho: 1.5}, 3},
		{"NaN", ZCDP, Cost{Rho: math.NaN()}, Cost{}, 0},
	} {
		raw := &Filter{kind: c.kind, limit: c.limit, spent: c.spent, n: c.n}
		b, err := raw.MarshalBinary()
		require.NoError(t, err)
		require.ErrorIs(t, g.UnmarshalBinary(b), ErrInvalidEncoding, c.name)
		if c.name != "negative zero" { // equal to 0 in value, refused for a canonical encoding
			assert.Error(t, reachable(c.kind, c.limit, c.spent, c.n), "oracle must agree: %s", c.name)
		}
	}
}

// TestFilterOdometerOverflow: an odometer refuses a request whose total
// would overflow to +Inf (no saved state could hold it).
func TestFilterOdometerOverflow(t *testing.T) {
	f, err := NewOdometer(PureDP)
	require.NoError(t, err)
	require.NoError(t, f.Spend("a", Cost{Epsilon: math.MaxFloat64}))
	require.ErrorIs(t, f.Spend("b", Cost{Epsilon: math.MaxFloat64}), ErrBudgetExhausted)
	b, err := f.MarshalBinary()
	require.NoError(t, err)
	var g Filter
	require.NoError(t, g.UnmarshalBinary(b))
}

var testMACKey = []byte("0123456789abcdef0123456789abcdef")

// TestFilterMAC: the authenticated encoding round-trips, and every single
// bit flip of it, truncation, extension, another key, the plain decoder and
// a too-short key are refused, with no key material in the errors.
func TestFilterMAC(t *testing.T) {
	f, err := NewApproxFilter(1, 1e-5)
	require.NoError(t, err)
	require.NoError(t, f.Spend("a", Cost{Epsilon: 0.5, Delta: 1e-6}))
	b, err := f.MarshalBinaryMAC(testMACKey)
	require.NoError(t, err)
	require.Len(t, b, filterMACLen)

	var g Filter
	require.NoError(t, g.UnmarshalBinaryMAC(b, testMACKey))
	k1, l1, s1, n1 := decodedState(f)
	k2, l2, s2, n2 := decodedState(&g)
	require.Equal(t, []any{k1, l1, s1, n1}, []any{k2, l2, s2, n2})

	for bit := range len(b) * 8 {
		c := bytes.Clone(b)
		c[bit/8] ^= 1 << (bit % 8)
		var h Filter
		err := h.UnmarshalBinaryMAC(c, testMACKey)
		require.ErrorIs(t, err, ErrInvalidEncoding, "bit %d accepted", bit)
		require.Zero(t, h.Accounting(), "bit %d: state changed on error", bit)
	}
	// A tag made under another key does not verify.
	other := bytes.Repeat([]byte{7}, 32)
	forged, err := f.MarshalBinaryMAC(other)
	require.NoError(t, err)
	err = g.UnmarshalBinaryMAC(forged, testMACKey)
	require.ErrorIs(t, err, ErrInvalidEncoding)
	assert.Contains(t, err.Error(), "MAC")
	assert.NotContains(t, err.Error(), string(testMACKey))

	require.ErrorIs(t, g.UnmarshalBinaryMAC(b[:len(b)-1], testMACKey), ErrInvalidEncoding)
	require.ErrorIs(t, g.UnmarshalBinaryMAC(append(bytes.Clone(b), 0), testMACKey), ErrInvalidEncoding)
	plain, _ := f.MarshalBinary()
	require.ErrorIs(t, g.UnmarshalBinaryMAC(plain, testMACKey), ErrInvalidEncoding)
	err = g.UnmarshalBinary(b)
	require.ErrorIs(t, err, ErrInvalidEncoding)
	assert.Contains(t, err.Error(), "UnmarshalBinaryMAC")

	_, err = f.MarshalBinaryMAC(testMACKey[:MinFilterMACKeyLen-1])
	require.ErrorIs(t, err, ErrInvalidParameter)
	require.ErrorIs(t, g.UnmarshalBinaryMAC(b, nil), ErrInvalidParameter)
}

// FuzzFilterDecodeReachable: whatever the bytes, a decoded filter is a state
// reachable through a constructor and Spend ("never more budget than a
// valid constructor call encodes"), re-encodes to the same bytes, and with
// the MAC decoder nothing but the genuine tag is accepted.
func FuzzFilterDecodeReachable(f *testing.F) {
	for _, b := range savedFilters(f) {
		f.Add(b)
	}
	good, _ := NewZCDPFilter(1)
	gb, _ := good.MarshalBinaryMAC(testMACKey)
	f.Add(gb)
	f.Add([]byte("PMLF\x01\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var g Filter
		if err := g.UnmarshalBinary(data); err == nil {
			kind, limit, spent, n := decodedState(&g)
			if err := reachable(kind, limit, spent, n); err != nil {
				t.Fatalf("decoded unreachable state: %v", err)
			}
			out, _ := g.MarshalBinary()
			if !bytes.Equal(out, data) {
				t.Fatalf("round trip changed the bytes")
			}
		}
		var h Filter
		if err := h.UnmarshalBinaryMAC(data, testMACKey); err == nil && !bytes.Equal(data[filterLen:], filterMAC(testMACKey, data[:filterLen])) {
			t.Fatalf("accepted a wrong tag")
		}
	})
}
