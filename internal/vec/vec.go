package vec

import (
	"math"
	"math/rand/v2"
)

// Dot returns the inner product of x and y. It panics if the lengths differ.
func Dot(x, y []float64) float64 {
	if len(x) != len(y) {
		panic(badLength)
	}
	var s float64
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

// Axpy computes dst[i] += alpha * x[i]. It panics if the lengths differ.
func Axpy(dst []float64, alpha float64, x []float64) {
	if len(dst) != len(x) {
		panic(badLength)
	}
	for i, v := range x {
		dst[i] += alpha * v
	}
}

// Scale computes dst[i] *= alpha.
func Scale(dst []float64, alpha float64) {
	for i := range dst {
		dst[i] *= alpha
	}
}

// Norm2 returns the Euclidean norm of x, without undue overflow or underflow.
func Norm2(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// ClipL2 scales dst in place so that its L2 norm is at most bound and returns
// the factor applied (1 when dst was already within the bound).
func ClipL2(dst []float64, bound float64) float64 {
	n := Norm2(dst)
	if n <= bound || n == 0 {
		return 1
	}
	f := bound / n
	Scale(dst, f)
	return f
}

// AddMod32 computes dst[i] = (dst[i] + src[i]) mod 2^bits, for 1 <= bits <= 32.
// It panics if the lengths differ or bits is out of range.
func AddMod32(dst, src []uint32, bits uint) {
	m := mask32(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	for i, v := range src {
		dst[i] = (dst[i] + v) & m
	}
}

// SubMod32 computes dst[i] = (dst[i] - src[i]) mod 2^bits, for 1 <= bits <= 32.
func SubMod32(dst, src []uint32, bits uint) {
	m := mask32(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	for i, v := range src {
		dst[i] = (dst[i] - v) & m
	}
}

// AddMod64 computes dst[i] = (dst[i] + src[i]) mod 2^bits, for 1 <= bits <= 64.
func AddMod64(dst, src []uint64, bits uint) {
	m := mask64(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	for i, v := range src {
		dst[i] = (dst[i] + v) & m
	}
}

// SubMod64 computes dst[i] = (dst[i] - src[i]) mod 2^bits, for 1 <= bits <= 64.
func SubMod64(dst, src []uint64, bits uint) {
	m := mask64(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	for i, v := range src {
		dst[i] = (dst[i] - v) & m
	}
}

// EncodeFixed writes round(src[i]*scale) mod 2^bits into dst, rounding
// stochastically (up with probability equal to the fractional part) with
// randomness from rng, so that the encoding is unbiased. Values are first
// clamped to the representable signed range [-2^(bits-1), 2^(bits-1)-1].
func EncodeFixed(dst []uint64, src []float64, scale float64, bits uint, rng rand.Source) {
	m := mask64(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	hi := math.Ldexp(1, int(bits)-1) - 1
	lo := -math.Ldexp(1, int(bits)-1)
	for i, v := range src {
		x := v * scale
		f := math.Floor(x)
		// 53 random bits give a uniform float64 in [0,1).
		u := float64(rng.Uint64()>>11) * 0x1p-53
		if u < x-f {
			f++
		}
		if f > hi || f != f {
			f = hi
		}
		if f < lo {
			f = lo
		}
		dst[i] = uint64(int64(f)) & m
	}
}

// DecodeFixed is the centred inverse of EncodeFixed: values at or above
// 2^(bits-1) are read as negative, and the result is divided by scale.
func DecodeFixed(dst []float64, src []uint64, scale float64, bits uint) {
	m := mask64(bits)
	if len(dst) != len(src) {
		panic(badLength)
	}
	half := uint64(1) << (bits - 1)
	inv := 1 / scale
	for i, v := range src {
		v &= m
		var s int64
		if v >= half {
			s = int64(v) - int64(m) - 1
		} else {
			s = int64(v)
		}
		dst[i] = float64(s) * inv
	}
}

const badLength = "vec: slice lengths do not match"

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
	if bits == 64 {
		return math.MaxUint64
	}
	return 1<<bits - 1
}
