package dp

import (
	"math"
	"math/big"
	"math/rand/v2"
)

// This file holds the exact (slow) path of every acceptance test in the
// package: deciding whether a uniform real V in [0, 1), whose binary digits
// are drawn lazily, satisfies V·h < s·exp(-γ) for an integer h > 0, a dyadic
// s > 0 (a float64) and a rational γ = num/den ≥ 0. The fast path in
// sampler.go decides the same comparison in float64 arithmetic whenever the
// float error bound allows it; only comparisons too close to call (about one
// in 2^29) reach this code. Because both paths compare the same V with the
// same real number, the outcome is exactly Bernoulli(min(1, s·exp(-γ)/h)):
// no approximation of exp enters the output distribution.

// expNegInterval returns integers lo ≤ hi with lo/2^w ≤ exp(-num/den) ≤
// hi/2^w, for num ≥ 0 and den > 0. It evaluates the Taylor polynomial of
// exp(-y), y = γ/2^k ≤ 1/2, exactly as a fraction of big integers (Horner
// form, no gcd), bounds the remainder by the first omitted term, and then
// squares k times, rounding the lower bound down and the upper bound up.
func expNegInterval(num, den *big.Int, w uint) (lo, hi *big.Int) {
	k := 0
	if num.Sign() > 0 {
		k = max(0, num.BitLen()-den.BitLen()+2) // num/(den·2^k) ≤ 1/2
	}
	wp := w + uint(k) + 32 // each squaring at most doubles the relative error
	yd := new(big.Int).Lsh(den, uint(k))
	// Degree K with remainder y^(K+1)/(K+1)! ≤ 2^-(K+1)/(K+1)! < 2^-(wp+2).
	K := 1
	for lg := 1.0; lg <= float64(wp)+2; {
		K++
		lg += 1 + math.Log2(float64(K))
	}
	// Horner: P_K = 1, P_i = 1 - y/(i+1)·P_{i+1}, P_0 = Σ_{j≤K} (-y)^j/j!.
	n := big.NewInt(1)
	d := big.NewInt(1)
	t1 := new(big.Int)
	t2 := new(big.Int)
	for i := K - 1; i >= 0; i-- {
		t1.Mul(yd, d)
		t1.Mul(t1, big.NewInt(int64(i+1))) // (i+1)·yd·D
		t2.Mul(num, n)                     // ynum·N
		n.Sub(t1, t2)
		d.Set(t1)
	}
	// floor(N·2^wp / D), then widen by the remainder (< 1 unit) and the
	// floor (< 1 unit).
	q := new(big.Int).Lsh(n, wp)
	q.Quo(q, d)
	lo = new(big.Int).Sub(q, big.NewInt(1))
	hi = new(big.Int).Add(q, big.NewInt(2))
	if lo.Sign() < 0 {
		lo.SetInt64(0)
	}
	scale := new(big.Int).Lsh(big.NewInt(1), wp)
	mask := new(big.Int).Sub(scale, big.NewInt(1))
	rem := new(big.Int)
	for range k {
		lo.Mul(lo, lo)
		lo.Rsh(lo, wp) // floor for non-negative values
		hi.Mul(hi, hi)
		rem.And(hi, mask)
		hi.Rsh(hi, wp)
		if rem.Sign() != 0 {
			hi.Add(hi, big.NewInt(1))
		}
	}
	shift := wp - w
	lo.Rsh(lo, shift)
	mask.Sub(new(big.Int).Lsh(big.NewInt(1), shift), big.NewInt(1))
	rem.And(hi, mask)
	hi.Rsh(hi, shift)
	if rem.Sign() != 0 {
		hi.Add(hi, big.NewInt(1))
	}
	return lo, hi
}

// maxExactRounds bounds the lazy refinement. Each round draws 64 more bits
// of V and doubles the precision of exp, so reaching the bound has
// probability below 2^-(64·maxExactRounds); it exists only so that a bug
// cannot loop forever.
const maxExactRounds = 24

// exactLess reports whether V·h < s·exp(-num/den), where V = (u + V')/2^ub,
// u < 2^ub holds the first ub bits of V, and V' is uniform on [0, 1), drawn
// lazily from r.
func exactLess(r *rand.ChaCha8, u uint64, ub uint, h uint64, s float64, num, den *big.Int) bool {
	// s = sm · 2^se exactly, sm a 53-bit integer.
	frac, exp := math.Frexp(s)
	sm := new(big.Int).SetUint64(uint64(math.Ldexp(frac, 53)))
	se := exp - 53

	v := new(big.Int).SetUint64(u) // V ∈ [v/2^vb, (v+1)/2^vb)
	vb := ub
	hb := new(big.Int).SetUint64(h)
	w := uint(96)
	lhs := new(big.Int)
	rhs := new(big.Int)
	one := big.NewInt(1)
	for range maxExactRounds {
		lo, hi := expNegInterval(num, den, w)
		// Compare V·h with s·E using integers: multiply both sides by
		// 2^vb · 2^w · 2^max(0,-se).
		lsh := uint(0)
		rshS := uint(0)
		if se < 0 {
			lsh = uint(-se)
		} else {
			rshS = uint(se)
		}
		// Upper end of V·h versus lower end of s·E: accept.
		lhs.Add(v, one)
		lhs.Mul(lhs, hb)
		lhs.Lsh(lhs, w+lsh)
		rhs.Mul(sm, lo)
		rhs.Lsh(rhs, vb+rshS)
		if lhs.Cmp(rhs) <= 0 {
			return true
		}
		// Lower end of V·h versus upper end of s·E: reject.
		lhs.Mul(v, hb)
		lhs.Lsh(lhs, w+lsh)
		rhs.Mul(sm, hi)
		rhs.Lsh(rhs, vb+rshS)
		if lhs.Cmp(rhs) >= 0 {
			return false
		}
		v.Lsh(v, 64)
		v.Or(v, new(big.Int).SetUint64(r.Uint64()))
		vb += 64
		w += 128
	}
	return false
}
