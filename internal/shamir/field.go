package shamir

import "math/bits"

// P is the field modulus, the Mersenne prime 2^61 - 1.
const P uint64 = 1<<61 - 1

// The field functions below take canonical operands (in [0, P)) and return
// canonical results. They run in constant time: no branch or memory access
// depends on the operand values.

// add returns a + b mod P.
func add(a, b uint64) uint64 {
	s := a + b // < 2^62, no overflow
	return reduceOnce(s)
}

// sub returns a - b mod P.
func sub(a, b uint64) uint64 {
	d := a - b
	// If a < b the subtraction wrapped; add P back, selected by the sign bit.
	return d + (P & -(d >> 63))
}

// mul returns a * b mod P. Since 2^61 = 1 mod P, the 122-bit product
// hi*2^64 + lo = (hi<<3 | lo>>61)*2^61 + (lo & P) folds to the sum of its
// two 61-bit halves, which is below 2P.
func mul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return reduceOnce((lo & P) + (hi<<3 | lo>>61))
}

// mulAddLazy returns a value congruent to r*x + a mod P for r < 2^63,
// x < 2^32 and a < P, itself below 2^63 (only partially reduced): the
// product is below 2^95, so it folds to (lo & P) + (hi<<3 | lo>>61) <
// 2^61 + 2^34, and adding a keeps the sum below 2^62 + 2^34.
func mulAddLazy(r, x, a uint64) uint64 {
	hi, lo := bits.Mul64(r, x)
	return (lo & P) + (hi<<3 | lo>>61) + a
}

// reduceFull maps any r < 2^63 to r mod P: folding gives (r & P) +
// (r >> 61) < 2^61 + 4 < 2P.
func reduceFull(r uint64) uint64 {
	return reduceOnce((r & P) + (r >> 61))
}

// reduceOnce maps s in [0, 2P) to s mod P.
func reduceOnce(s uint64) uint64 {
	d := s - P
	return d + (P & -(d >> 63))
}

// inv returns a^-1 mod P for a != 0 by Fermat's little theorem,
// a^(P-2) = a^-1, with a fixed square-and-multiply chain over the public
// exponent. inv(0) = 0.
func inv(a uint64) uint64 {
	// P-2 = 2^61 - 3 = 0b1...1101 (61 bits: 59 ones, a zero, a one).
	const e = P - 2
	r := uint64(1)
	for i := 60; i >= 0; i-- {
		r = mul(r, r)
		if e>>uint(i)&1 == 1 {
			r = mul(r, a)
		}
	}
	return r
}
