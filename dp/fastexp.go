package dp

import "math"

// expNegFast returns exp(-g) for 0 ≤ g ≤ expFastMax with relative error
// below 2^-40, and 0 for larger g. It is the float64 half of the acceptance
// test, where a relative error up to fastMargin = 2^-30 is tolerated, so the
// bound holds with a wide safety factor.
//
// Error budget: g = n·(ln2/256) + r with n = round(g·256/ln2) ≤ 2^18 (to
// nearest, ties to even) and |r| ≤ ln2/512 + 2^-40 (the float64 constant
// ln2/256 is off by at most 2^-61, times n ≤ 2^18 gives 2^-43); exp(-r) by
// its degree-5 Taylor polynomial has remainder below r^6/720 < 2^-66;
// 2^(-j/256) comes from a table built with math.Exp2 (error below one ulp);
// and about ten roundings of 2^-53 each. The total is below 2^-40.
func expNegFast(g float64) float64 {
	if !(g >= 0 && g <= expFastMax) {
		return 0
	}
	// n = round(g·256/ln2) by the 1.5·2^52 shifter: the sum has unit ulp,
	// so its low mantissa bits hold n (< 2^19) and subtracting the shifter
	// gives n exactly as a float64, with no int↔float conversions.
	const shifter = 0x1.8p52
	kf := g*(256/math.Ln2) + shifter
	ni := int(uint32(math.Float64bits(kf)))
	r := g - (kf-shifter)*(math.Ln2/256)
	// exp(-r) = 1 - r + r²/2 - r³/6 + r⁴/24 - r⁵/120, in Estrin's form to
	// shorten the dependency chain.
	r2 := r * r
	p := (1 - r) + r2*((1.0/2-r*(1.0/6))+r2*(1.0/24-r*(1.0/120)))
	scale := math.Float64frombits(uint64(1023-(ni>>8)) << 52)
	return p * exp2Table[ni&255] * scale
}

// exp2Table[j] = 2^(-j/256).
var exp2Table = func() (t [256]float64) {
	for j := range t {
		t[j] = math.Exp2(-float64(j) / 256)
	}
	return t
}()

// expNegStep returns exp(-y) for 0 ≤ y ≤ 1/2 with relative error below
// 2^-44: the degree-12 Taylor polynomial (remainder below y^13/13! <
// 2^-45.6) in Estrin's form, with about fifteen roundings of 2^-53. It has
// no table, so its memory accesses do not depend on y.
func expNegStep(y float64) float64 {
	y2 := y * y
	y4 := y2 * y2
	y8 := y4 * y4
	q0 := (1 - y) + y2*(1.0/2-y*(1.0/6))
	q1 := (1.0/24 - y*(1.0/120)) + y2*(1.0/720-y*(1.0/5040))
	q2 := (1.0/40320 - y*(1.0/362880)) + y2*(1.0/3628800-y*(1.0/39916800))
	return (q0 + y4*q1) + y8*(q2+y4*(1.0/479001600))
}
