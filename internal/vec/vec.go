package vec

import (
	"math"
	"math/rand/v2"
)

// Dot returns the inner product of x and y. It panics if the lengths differ.
//
// The summation order is unspecified (the fast path keeps several partial
// sums), so the result may differ from the sequential sum by rounding:
// |Dot - exact| <= 2n·eps·sum|x[i]·y[i]| for n elements.
func Dot(x, y []float64) float64 {
	if len(x) != len(y) {
		panic(badLength)
	}
	return dot(x, y)
}

// Axpy computes dst[i] += alpha * x[i]. It panics if the lengths differ.
func Axpy(dst []float64, alpha float64, x []float64) {
	if len(dst) != len(x) {
		panic(badLength)
	}
	axpy(dst, alpha, x)
}

// Scale computes dst[i] *= alpha.
func Scale(dst []float64, alpha float64) {
	scale(dst, alpha)
}

// Norm2 returns the Euclidean norm of x without undue overflow or
// underflow: for any finite x its relative error is at most about n·eps
// (as for a plain sum of n squares), even when the squares of the elements
// overflow or underflow. Norm2 is NaN if x
// holds a NaN, and +Inf if x holds an infinity and no NaN. Norm2 of an
// empty slice is 0.
//
// The sum of squares is computed directly (the fast path); only when it
// overflows, underflows or is too small to be accurate is x rescaled by a
// power of two and summed again, as in LAPACK's dnrm2.
func Norm2(x []float64) float64 {
	s := dot(x, x)
	if s >= tinySumSq && s <= math.MaxFloat64 {
		return math.Sqrt(s)
	}
	if s != s { // NaN
		return s
	}
	return norm2Scaled(x)
}

// tinySumSq is the smallest sum of squares taken as accurate. Below it,
// squares that underflowed (each off by at most 2^-1074) could matter;
// above it their total relative error is at most n·2^-174.
const tinySumSq = 0x1p-900

// norm2Scaled computes the norm of x by scaling every element by 2^-e,
// where 2^e bounds the largest magnitude, so no square overflows and the
// largest is close to 1.
func norm2Scaled(x []float64) float64 {
	var amax float64
	for _, v := range x {
		a := math.Abs(v)
		if a != a {
			return a
		}
		amax = max(amax, a)
	}
	if amax == 0 {
		return 0
	}
	if math.IsInf(amax, 1) {
		// Any NaN would have returned above.
		return amax
	}
	_, e := math.Frexp(amax) // amax = f·2^e, 0.5 <= f < 1
	var s float64
	for _, v := range x {
		t := math.Ldexp(v, -e)
		s += t * t
	}
	return math.Ldexp(math.Sqrt(s), e)
}

// ClipL2 scales dst in place so that its L2 norm is at most bound and
// returns the factor applied: 1 when the norm was already within bound,
// bound/Norm2(dst) otherwise. Up to rounding (a few ulps) the clipped norm
// is at most bound.
//
// If dst holds a NaN or an infinity its norm cannot be bounded by scaling:
// ClipL2 then sets every element of dst to 0 and returns 0, so a
// non-finite input never escapes clipping, even with an infinite bound.
// ClipL2 panics if bound is
// negative or NaN.
func ClipL2(dst []float64, bound float64) float64 {
	f := clipFactor(dst, bound)
	if f != 1 {
		scale(dst, f)
		if f == 0 {
			clear(dst) // Inf·0 = NaN; make the result exactly zero
		}
	}
	return f
}

// ClipL2Into writes src clipped to L2 norm at most bound into dst and
// returns the factor applied, exactly as [ClipL2] would on a copy of src;
// src is not modified. It panics if the lengths differ or bound is negative
// or NaN. dst and src may be the same slice.
func ClipL2Into(dst, src []float64, bound float64) float64 {
	if len(dst) != len(src) {
		panic(badLength)
	}
	f := clipFactor(src, bound)
	switch f {
	case 1:
		copy(dst, src)
	case 0:
		clear(dst)
	default:
		scaleTo(dst, f, src)
	}
	return f
}

// clipFactor returns the factor ClipL2 applies to x.
func clipFactor(x []float64, bound float64) float64 {
	if !(bound >= 0) {
		panic(badBound)
	}
	n := Norm2(x)
	switch {
	case n != n || math.IsInf(n, 1):
		return 0
	case n <= bound:
		return 1
	}
	return bound / n
}

// AddMod32 computes dst[i] = (dst[i] + src[i]) mod 2^bits, for
// 1 <= bits <= 32. It panics if the lengths differ or bits is out of range.
// dst and src must be the same slice or not overlap. On amd64 and arm64
// src need not be 4-byte aligned (a view of a message's bytes): every
// kernel loads it with unaligned loads (MOVOU, VMOVDQU, plain Go loads),
// which callers rely on.
func AddMod32(dst, src []uint32, bits uint) {
	m := mask32(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	addMod32(dst, src, m)
}

// SubMod32 computes dst[i] = (dst[i] - src[i]) mod 2^bits, for
// 1 <= bits <= 32. It panics if the lengths differ or bits is out of range.
// dst and src must be the same slice or not overlap.
func SubMod32(dst, src []uint32, bits uint) {
	m := mask32(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	subMod32(dst, src, m)
}

// AddMod64 computes dst[i] = (dst[i] + src[i]) mod 2^bits, for
// 1 <= bits <= 64. It panics if the lengths differ or bits is out of range.
// dst and src must be the same slice or not overlap.
func AddMod64(dst, src []uint64, bits uint) {
	m := mask64(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	addMod64(dst, src, m)
}

// SubMod64 computes dst[i] = (dst[i] - src[i]) mod 2^bits, for
// 1 <= bits <= 64. It panics if the lengths differ or bits is out of range.
// dst and src must be the same slice or not overlap.
func SubMod64(dst, src []uint64, bits uint) {
	m := mask64(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	subMod64(dst, src, m)
}

// EncodeFixed writes round(src[i]*scale) mod 2^bits into dst, in two's
// complement, for 1 <= bits <= 64.
//
// Rounding is stochastic: x = src[i]*scale is rounded up with probability
// equal to its fractional part x - floor(x) (resolved to 2^-53) and down
// otherwise, so the encoding is unbiased: E[decoded] = x for x in range.
// One rng.Uint64 is drawn per element. A nil rng uses the runtime's
// ChaCha8 generator (math/rand/v2's top-level functions): unpredictable,
// not reproducible; pass a seeded source for reproducible tests.
//
// The rounded value is clamped to the signed range [-2^(bits-1),
// 2^(bits-1)-1]: +Inf and values above the range encode as 2^(bits-1)-1,
// -Inf and values below as -2^(bits-1). NaN encodes as 0.
//
// EncodeFixed panics if the lengths differ, bits is out of range, or scale
// is not positive and finite.
func EncodeFixed(dst []uint64, src []float64, scale float64, bits uint, rng rand.Source) {
	m := mask64(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	if !(scale > 0 && scale <= math.MaxFloat64) {
		panic(badScale)
	}
	// Both ends are powers of two, exact in float64 even for bits = 64
	// (2^63 - 1 is not, and would round up to 2^63).
	lim := math.Ldexp(1, int(bits)-1)
	hi := int64(m >> 1) // 2^(bits-1) - 1
	dst = dst[:len(src)]
	// The common sources get loops with a concrete type, so that their
	// Uint64 is called directly (and inlined where the compiler can).
	switch r := rng.(type) {
	case nil:
		for i, v := range src {
			dst[i] = uint64(roundFixed(v*scale, rand.Uint64(), lim, hi)) & m
		}
	case *rand.PCG:
		for i, v := range src {
			dst[i] = uint64(roundFixed(v*scale, r.Uint64(), lim, hi)) & m
		}
	case *rand.ChaCha8:
		for i, v := range src {
			dst[i] = uint64(roundFixed(v*scale, r.Uint64(), lim, hi)) & m
		}
	default:
		for i, v := range src {
			dst[i] = uint64(roundFixed(v*scale, r.Uint64(), lim, hi)) & m
		}
	}
}

// roundFixed rounds x stochastically with the random word u and clamps
// the result to [-lim, hi], where lim = 2^(bits-1) and hi = lim - 1. NaN
// gives 0.
//
// With r = u>>11 uniform in [0, 2^53) and p = x - floor(x) (exact), x
// rounds up when r < p·2^53, that is when r < ceil(p·2^53), with
// probability ceil(p·2^53)/2^53: p resolved to 2^-53. The comparison is
// done without a branch, by the sign of r - ceil(p·2^53), because its
// outcome is random and a branch on it would be mispredicted half the time.
func roundFixed(x float64, u uint64, lim float64, hi int64) int64 {
	f := math.Floor(x)
	c := int64(math.Ceil((x - f) * 0x1p53)) // in [0, 2^53]; garbage for NaN/Inf x, where f decides
	f += float64(uint64(int64(u>>11)-c) >> 63)
	switch {
	case f >= lim:
		return hi
	case f < -lim:
		return -hi - 1
	case f == f:
		return int64(f)
	}
	return 0 // NaN
}

// DecodeFixed is the centred inverse of EncodeFixed: the low bits bits of
// src[i] are read as a two's complement integer (values at or above
// 2^(bits-1) are negative) and divided by scale. Bits above the low bits
// bits are ignored. For x within the representable range,
// |DecodeFixed(EncodeFixed(x)) - x| < 1/scale.
//
// DecodeFixed panics if the lengths differ, bits is out of range, or scale
// is not positive and finite.
func DecodeFixed(dst []float64, src []uint64, scale float64, bits uint) {
	mask64(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	if !(scale > 0 && scale <= math.MaxFloat64) {
		panic(badScale)
	}
	sh := 64 - bits
	inv := 1 / scale
	src = src[:len(dst)]
	for i := range dst {
		// Shift the sign bit of the bits-bit value to bit 63, then
		// shift back arithmetically to sign-extend.
		dst[i] = float64(int64(src[i]<<sh)>>sh) * inv
	}
}

const (
	badLength = "vec: slice lengths do not match"
	badBound  = "vec: bound is negative or NaN"
	badScale  = "vec: scale is not positive and finite"
)

func mask32(bits uint) uint32 {
	if bits < 1 || bits > 32 {
		panic("vec: bits out of range [1,32]")
	}
	return uint32(1<<bits - 1)
}

func mask64(bits uint) uint64 {
	if bits < 1 || bits > 64 {
		panic("vec: bits out of range [1,64]")
	}
	return math.MaxUint64 >> (64 - bits)
}
