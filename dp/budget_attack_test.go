package dp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFilterSpendBadCosts: NaN, ±Inf, negative, subnormal-negative and
// foreign-field costs are refused and spend nothing; negative zero is a
// zero cost that leaves the spending canonical (+0), so the saved state
// still decodes.
func TestFilterSpendBadCosts(t *testing.T) {
	negz := math.Copysign(0, -1)
	for _, kind := range []Accounting{PureDP, ApproxDP, ZCDP} {
		f, err := NewOdometer(kind)
		require.NoError(t, err)
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1, -math.SmallestNonzeroFloat64} {
			for _, c := range []Cost{{Epsilon: v}, {Delta: v}, {Rho: v}} {
				require.ErrorIs(t, f.Spend("bad", c), ErrInvalidParameter, "%s %+v", kind, c)
			}
		}
		zero := Cost{Epsilon: negz, Delta: negz, Rho: negz}
		require.NoError(t, f.Spend("negative zero", zero), kind)
		spent, n := f.Spent()
		require.Equal(t, uint64(1), n)
		require.False(t, math.Signbit(spent.Epsilon) || math.Signbit(spent.Delta) || math.Signbit(spent.Rho), kind)
		b, err := f.MarshalBinary()
		require.NoError(t, err)
		var g Filter
		require.NoError(t, g.UnmarshalBinary(b), "%s: a state Spend made must decode", kind)
	}
}

// TestFilterRequestCountOverflow: a decoded state with the largest request
// count refuses the next request instead of wrapping the count to zero
// (which would leave a spent filter whose saved state no longer decodes).
func TestFilterRequestCountOverflow(t *testing.T) {
	f, err := NewPureFilter(1)
	require.NoError(t, err)
	require.NoError(t, f.Spend("a", Cost{Epsilon: 0.5}))
	b, err := f.MarshalBinary()
	require.NoError(t, err)
	binary.LittleEndian.PutUint64(b[54:], math.MaxUint64)
	var g Filter
	require.NoError(t, g.UnmarshalBinary(b))
	require.ErrorIs(t, g.Spend("b", Cost{Epsilon: 0.1}), ErrBudgetExhausted)
	spent, n := g.Spent()
	assert.Equal(t, uint64(math.MaxUint64), n)
	assert.Equal(t, 0.5, spent.Epsilon)
	out, err := g.MarshalBinary()
	require.NoError(t, err)
	var h Filter
	require.NoError(t, h.UnmarshalBinary(out), "the filter's own state must decode")
}

// TestFilterConcurrentSpend (run with -race): 8 goroutines race 400
// requests of ε = 1/256 each against ε = 1 (exact in binary): exactly 256
// are admitted, the total never exceeds the budget, and saving while
// spending sees consistent states.
func TestFilterConcurrentSpend(t *testing.T) {
	f, err := NewApproxFilter(1, 1e-5)
	require.NoError(t, err)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if f.Spend("r", Cost{Epsilon: 1.0 / 256, Delta: 1e-8}) == nil {
					ok.Add(1)
				}
				if g == 0 {
					b, err := f.MarshalBinary()
					assert.NoError(t, err)
					var h Filter
					assert.NoError(t, h.UnmarshalBinary(b))
				}
			}
		}()
	}
	wg.Wait()
	spent, n := f.Spent()
	assert.Equal(t, int64(256), ok.Load())
	assert.Equal(t, uint64(256), n)
	assert.Equal(t, 1.0, spent.Epsilon)
}

// TestFilterMACKeyEdges: the shortest accepted key works, a key one byte
// shorter is refused, long keys (beyond the hash block, which HMAC hashes)
// work, keys differing in one bit do not verify each other's tags, and the
// MAC covers kind and version (restamping either, even with a valid plain
// encoding, fails).
func TestFilterMACKeyEdges(t *testing.T) {
	f, err := NewZCDPFilter(0.5)
	require.NoError(t, err)
	for _, n := range []int{MinFilterMACKeyLen, 32, 64, 65, 1000} {
		key := bytes.Repeat([]byte{0xa5}, n)
		b, err := f.MarshalBinaryMAC(key)
		require.NoError(t, err, n)
		var g Filter
		require.NoError(t, g.UnmarshalBinaryMAC(b, key), n)
		k2 := bytes.Clone(key)
		k2[n-1] ^= 1
		require.ErrorIs(t, g.UnmarshalBinaryMAC(b, k2), ErrInvalidEncoding, n)
		require.ErrorIs(t, g.UnmarshalBinaryMAC(b, key[:n-1]), map[bool]error{true: ErrInvalidParameter, false: ErrInvalidEncoding}[n-1 < MinFilterMACKeyLen], n)
	}
	_, err = f.MarshalBinaryMAC(make([]byte, MinFilterMACKeyLen-1))
	require.ErrorIs(t, err, ErrInvalidParameter)

	// Kind confusion: a pure filter with ε = 0.5 relabelled zCDP is not a
	// valid state, but a tag over a valid plain state of another kind must
	// not verify for this one.
	p, err := NewPureFilter(0.5)
	require.NoError(t, err)
	pb, err := p.MarshalBinaryMAC(testMACKey)
	require.NoError(t, err)
	zb, err := f.MarshalBinaryMAC(testMACKey)
	require.NoError(t, err)
	mixed := append(bytes.Clone(zb[:filterLen]), pb[filterLen:]...)
	var g Filter
	require.ErrorIs(t, g.UnmarshalBinaryMAC(mixed, testMACKey), ErrInvalidEncoding)
	// Version confusion: the tag binds the version byte.
	vb := bytes.Clone(zb)
	vb[4] = 2
	require.ErrorIs(t, g.UnmarshalBinaryMAC(vb, testMACKey), ErrInvalidEncoding)
	// Domain separation: the tag is not the plain HMAC of the state, so a
	// system that HMACs caller-chosen bytes under a reused key does not
	// hand out filter tags.
	h := hmac.New(sha256.New, testMACKey)
	h.Write(zb[:filterLen])
	forged := append(bytes.Clone(zb[:filterLen]), h.Sum(nil)...)
	require.ErrorIs(t, g.UnmarshalBinaryMAC(forged, testMACKey), ErrInvalidEncoding)
}

// TestFilterMACSubstitutionIsALimit documents, as the doc comment says, what
// the MAC does not stop: a state saved by another filter under the same key
// (here with a larger budget) verifies. Per-filter keys stop it.
func TestFilterMACSubstitutionIsALimit(t *testing.T) {
	small, _ := NewPureFilter(1)
	large, _ := NewPureFilter(100)
	lb, err := large.MarshalBinaryMAC(testMACKey)
	require.NoError(t, err)
	var restored Filter
	require.NoError(t, restored.UnmarshalBinaryMAC(lb, testMACKey), "substitution under one key is not detected (documented)")
	assert.Equal(t, 100.0, restored.Limit().Epsilon)
	_ = small

	// With a key per filter, the substitution is refused.
	keySmall := append(bytes.Clone(testMACKey), "filter small"...)
	keyLarge := append(bytes.Clone(testMACKey), "filter large"...)
	lb, err = large.MarshalBinaryMAC(keyLarge)
	require.NoError(t, err)
	require.ErrorIs(t, restored.UnmarshalBinaryMAC(lb, keySmall), ErrInvalidEncoding)
}

// TestFilterSubnormalAndHugeBudgets: budgets at the edges of float64 that a
// constructor accepts round-trip; spending the whole of a subnormal budget
// is admitted and one more ulp is not; a decoded state never has more
// remaining budget than its limit.
func TestFilterSubnormalAndHugeBudgets(t *testing.T) {
	tiny := math.SmallestNonzeroFloat64
	f, err := NewPureFilter(tiny)
	require.NoError(t, err)
	require.NoError(t, f.Spend("all", Cost{Epsilon: tiny}))
	require.ErrorIs(t, f.Spend("more", Cost{Epsilon: tiny}), ErrBudgetExhausted)
	huge, err := NewZCDPFilter(math.MaxFloat64)
	require.NoError(t, err)
	require.NoError(t, huge.Spend("a", Cost{Rho: math.MaxFloat64}))
	require.Error(t, huge.Spend("b", Cost{Rho: math.MaxFloat64}))
	for _, g := range []*Filter{f, huge} {
		b, _ := g.MarshalBinary()
		var h Filter
		require.NoError(t, h.UnmarshalBinary(b))
		r, l := h.Remaining(), h.Limit()
		assert.LessOrEqual(t, r.Epsilon, l.Epsilon)
		assert.LessOrEqual(t, r.Rho, l.Rho)
	}
}

// TestFilterRestoreWhileSpending (run with -race): restoring a saved state
// of another accounting into a filter that other goroutines are spending
// from is free of data races, and a cost checked under one accounting is
// never admitted under the other with a foreign field.
func TestFilterRestoreWhileSpending(t *testing.T) {
	pure, _ := NewPureFilter(1)
	zcdp, _ := NewZCDPFilter(1)
	pb, _ := pure.MarshalBinary()
	zb, _ := zcdp.MarshalBinary()
	f, _ := NewPureFilter(1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 200 {
			_ = f.Spend("e", Cost{Epsilon: 1e-3})
			_ = f.Spend("r", Cost{Rho: 1e-3})
			_ = f.Accounting()
			if i%50 == 0 {
				_, _ = f.MarshalBinary()
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 200 {
			b := pb
			if i%2 == 1 {
				b = zb
			}
			assert.NoError(t, f.UnmarshalBinary(b))
		}
	}()
	wg.Wait()
	b, err := f.MarshalBinary()
	require.NoError(t, err)
	var g Filter
	require.NoError(t, g.UnmarshalBinary(b), "a state reached by Spend and restores must decode")
}
