package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var fixedBits = []uint{1, 2, 8, 16, 31, 32, 33, 53, 62, 63, 64}

// TestFixedRoundTrip checks |DecodeFixed(EncodeFixed(x)) - x| < 1/scale
// over the representable range of each width, ends included.
func TestFixedRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, bits := range fixedBits {
		for _, scale := range []float64{1, 3, 1 << 16, 1e6} {
			t.Run(fmt.Sprintf("bits=%d/scale=%g", bits, scale), func(t *testing.T) {
				// Values x with x*scale in [-2^(bits-1), 2^(bits-1)-1], kept
				// below 2^52 in magnitude so x*scale is exact enough.
				lim := math.Min(math.Ldexp(1, int(bits)-1), 0x1p52)
				lo, hi := -lim, lim-1
				x := []float64{lo / scale, hi / scale, 0, -0.5 / scale}
				for range 500 {
					x = append(x, (lo+r.Float64()*(hi-lo))/scale)
				}
				enc := make([]uint64, len(x))
				EncodeFixed(enc, x, scale, bits, rand.NewPCG(8, 8))
				dec := make([]float64, len(x))
				DecodeFixed(dec, enc, scale, bits)
				m := mask64(bits)
				for i := range x {
					if enc[i]&^m != 0 {
						t.Fatalf("x=%v: encoding %#x has bits above %d", x[i], enc[i], bits)
					}
					if d := math.Abs(dec[i] - x[i]); !(d < 1/scale) {
						t.Fatalf("x=%v: decoded %v, error %v >= 1/scale", x[i], dec[i], d)
					}
				}
			})
		}
	}
}

// TestFixedExact checks values with no fractional part, which must encode
// exactly whatever the randomness, and the two's complement layout.
func TestFixedExact(t *testing.T) {
	cases := []struct {
		x     float64
		scale float64
		bits  uint
		want  uint64
	}{
		{0, 1, 1, 0},
		{-1, 1, 1, 1},
		{-1, 1, 8, 0xff},
		{127, 1, 8, 0x7f},
		{-128, 1, 8, 0x80},
		{1.5, 2, 8, 3},
		{-1.5, 2, 8, 0xfd},
		{-1, 1, 33, 1<<33 - 1},
		{1 << 31, 1, 33, 1 << 31},
		{-(1 << 32), 1, 33, 1 << 32},
		{-1, 1, 64, math.MaxUint64},
		{-0x1p62, 1, 64, 0xc000000000000000},
		{0x1p62, 1, 64, 0x4000000000000000},
		{-0x1p63, 1, 64, 0x8000000000000000}, // the most negative int64
		{0.25, 0x1p52, 64, 1 << 50},
	}
	for _, c := range cases {
		for seed := range uint64(4) {
			dst := []uint64{12345}
			EncodeFixed(dst, []float64{c.x}, c.scale, c.bits, rand.NewPCG(seed, 9))
			if dst[0] != c.want {
				t.Errorf("EncodeFixed(%v, scale %v, bits %d) = %#x, want %#x", c.x, c.scale, c.bits, dst[0], c.want)
			}
			back := []float64{0}
			DecodeFixed(back, dst, c.scale, c.bits)
			if back[0] != c.x {
				t.Errorf("DecodeFixed(%#x, scale %v, bits %d) = %v, want %v", dst[0], c.scale, c.bits, back[0], c.x)
			}
		}
	}
}

// TestFixedClamp checks clamping at both ends of the signed range and the
// encoding of NaN and infinities, including bits = 64, where 2^63 - 1 is
// not a float64 (it rounds to 2^63, which does not fit an int64).
func TestFixedClamp(t *testing.T) {
	for _, bits := range fixedBits {
		m := mask64(bits)
		maxv := m >> 1   // 2^(bits-1) - 1
		minv := maxv + 1 // -2^(bits-1) in two's complement
		lim := math.Ldexp(1, int(bits)-1)
		cases := []struct {
			x    float64
			want uint64
		}{
			{math.Inf(1), maxv},
			{math.Inf(-1), minv},
			{math.MaxFloat64, maxv},
			{-math.MaxFloat64, minv},
			{lim, maxv},        // one above the largest value (or, at 64 bits, what 2^63-1 rounds to)
			{-lim, minv},       // exactly the smallest value
			{-lim * 1.5, minv}, // below
			{lim * 4, maxv},    // above
			{math.NaN(), 0},    // documented: NaN encodes as 0
			{float64(math.MaxInt64), maxv & m},
		}
		for _, c := range cases {
			dst := []uint64{12345}
			EncodeFixed(dst, []float64{c.x}, 1, bits, rand.NewPCG(1, 1))
			if dst[0] != c.want {
				t.Errorf("bits=%d: EncodeFixed(%v) = %#x, want %#x", bits, c.x, dst[0], c.want)
			}
		}
		// The largest value rounds up into the clamp or stays: either
		// way it decodes to at most 2^(bits-1) - 1.
		if bits <= 53 {
			dst := make([]uint64, 100)
			src := make([]float64, 100)
			for i := range src {
				src[i] = lim - 0.5
			}
			EncodeFixed(dst, src, 1, bits, rand.NewPCG(2, 2))
			for _, v := range dst {
				if v != maxv {
					t.Fatalf("bits=%d: EncodeFixed(2^(bits-1) - 0.5) = %#x, want %#x", bits, v, maxv)
				}
			}
		}
	}
	// DecodeFixed ignores the bits above the width.
	out := make([]float64, 2)
	DecodeFixed(out, []uint64{0x1ff, 0xabc0000000000001}, 1, 8)
	if out[0] != -1 || out[1] != 1 {
		t.Errorf("DecodeFixed with high bits set = %v, want [-1 1]", out)
	}
}

// TestFixedUnbiased checks that stochastic rounding is unbiased: for a
// value x·scale with fractional part p, the fraction of N = 200000
// encodings rounded up must be p within 5 standard deviations
// sqrt(p(1-p)/N). With a fixed seed the test is deterministic; over random
// seeds each check would fail with probability about 5.7e-7 (two-sided
// normal tail at 5 sigma), so about 4e-6 for the seven values below.
func TestFixedUnbiased(t *testing.T) {
	const n = 200000
	for i, c := range []struct{ x, scale float64 }{
		{0.3, 1}, {-2.7, 1}, {0.001, 1}, {1234.875, 1}, {-0.5, 1}, {0.999, 1}, {3e-5, 1e4},
	} {
		x, scale := c.x, c.scale
		src := make([]float64, n)
		for j := range src {
			src[j] = x
		}
		enc := make([]uint64, n)
		EncodeFixed(enc, src, scale, 32, rand.NewPCG(uint64(i)+100, 42))
		dec := make([]float64, n)
		DecodeFixed(dec, enc, 1, 32)
		lo := math.Floor(x * scale)
		p := x*scale - lo
		up := 0
		for _, d := range dec {
			switch d {
			case lo + 1:
				up++
			case lo:
			default:
				t.Fatalf("x=%v: encoded to %v, want %v or %v", x, d, lo, lo+1)
			}
		}
		frac := float64(up) / n
		sd := math.Sqrt(p * (1 - p) / n)
		if math.Abs(frac-p) > 5*sd {
			t.Errorf("x=%v scale=%v: rounded up %.5f of the time, want %.5f ± %.5f", x, scale, frac, p, 5*sd)
		}
	}
}

func TestFixedNilSource(t *testing.T) {
	x := []float64{0.5, -0.5, 2.25}
	enc := make([]uint64, 3)
	EncodeFixed(enc, x, 1, 16, nil)
	dec := make([]float64, 3)
	DecodeFixed(dec, enc, 1, 16)
	for i := range x {
		if dec[i] != math.Floor(x[i]) && dec[i] != math.Ceil(x[i]) {
			t.Errorf("EncodeFixed(%v, nil source) decoded to %v", x[i], dec[i])
		}
	}
}

func TestFixedMisuse(t *testing.T) {
	d, s := make([]uint64, 2), make([]float64, 2)
	src := rand.NewPCG(1, 1)
	mustPanic(t, "EncodeFixed bits=0", "vec: bits out of range [1,64]", func() { EncodeFixed(d, s, 1, 0, src) })
	mustPanic(t, "EncodeFixed bits=65", "vec: bits out of range [1,64]", func() { EncodeFixed(d, s, 1, 65, src) })
	mustPanic(t, "DecodeFixed bits=65", "vec: bits out of range [1,64]", func() { DecodeFixed(s, d, 1, 65) })
	mustPanic(t, "EncodeFixed length", badLength, func() { EncodeFixed(d[:1], s, 1, 8, src) })
	mustPanic(t, "DecodeFixed length", badLength, func() { DecodeFixed(s[:1], d, 1, 8) })
	for _, sc := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		mustPanic(t, fmt.Sprintf("EncodeFixed scale %v", sc), badScale, func() { EncodeFixed(d, s, sc, 8, src) })
		mustPanic(t, fmt.Sprintf("DecodeFixed scale %v", sc), badScale, func() { DecodeFixed(s, d, sc, 8) })
	}
}

// wrapped hides the concrete type of a source, so that EncodeFixed takes
// its generic interface loop.
type wrapped struct{ s rand.Source }

func (w wrapped) Uint64() uint64 { return w.s.Uint64() }

// TestFixedSourcePaths checks that the loops specialised for *rand.PCG and
// *rand.ChaCha8 give exactly the results of the generic loop on the same
// stream, and that empty slices are fine.
func TestFixedSourcePaths(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	x := make([]float64, 1000)
	for i := range x {
		x[i] = r.NormFloat64() * 100
	}
	x[3], x[4], x[5] = math.NaN(), math.Inf(1), math.Inf(-1)
	for _, bits := range []uint{8, 32, 64} {
		a, b := make([]uint64, len(x)), make([]uint64, len(x))
		EncodeFixed(a, x, 1000, bits, rand.NewPCG(5, 5))
		EncodeFixed(b, x, 1000, bits, wrapped{rand.NewPCG(5, 5)})
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("bits=%d: *rand.PCG loop differs from the generic loop", bits)
		}
		var seed [32]byte
		seed[0] = 1
		EncodeFixed(a, x, 1000, bits, rand.NewChaCha8(seed))
		EncodeFixed(b, x, 1000, bits, wrapped{rand.NewChaCha8(seed)})
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("bits=%d: *rand.ChaCha8 loop differs from the generic loop", bits)
		}
	}
	EncodeFixed(nil, nil, 1, 8, nil)
	EncodeFixed([]uint64{}, []float64{}, 1, 64, rand.NewPCG(1, 1))
	DecodeFixed(nil, nil, 1, 8)
}
