package dp

import "math"

// expNegFast returns exp(-g) for 0 ≤ g ≤ expFastMax with relative error
// below 2^-40, and 0 for larger g. It is the float64 half of the acceptance
// test, where a relative error up to fastMargin = 2^-30 is tolerated, so the
// bound holds with a wide safety factor.
//
// Error budget: g = n·(ln2/256) + r with n = round(g·256/ln2) ≤ 2^18 and
// |r| ≤ ln2/512 + 2^-40 (the float64 constant ln2/256 is off by at most
// 2^-61, times n ≤ 2^18 gives 2^-43); exp(-r) by its degree-5 Taylor
// polynomial has remainder below r^6/720 < 2^-66; 2^(-j/256) comes from a
// table built with math.Exp2 (error below one ulp); and about ten roundings
// of 2^-53 each. The total is below 2^-40.
func expNegFast(g float64) float64 {
	if !(g >= 0 && g <= expFastMax) {
		return 0
	}
	ni := int(g*(256/math.Ln2) + 0.5) // g ≥ 0: truncation rounds to nearest
	r := g - float64(ni)*(math.Ln2/256)
	// exp(-r) = 1 - r + r²/2 - r³/6 + r⁴/24 - r⁵/120
	p := 1 - r*(1-r*(1.0/2-r*(1.0/6-r*(1.0/24-r*(1.0/120)))))
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
