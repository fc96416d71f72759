package federated

import (
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzCodecEncode: whatever the update and the bound, Encode either fails
// with an error or returns coordinates within ±MaxAbs, and the decoded
// vector's norm is at most Clip plus the rounding error.
func FuzzCodecEncode(f *testing.F) {
	f.Add(1.0, 2.0, -3.0, 1.0, uint8(16), uint16(10))
	f.Add(1e300, -1e300, 0.0, 1e-3, uint8(8), uint16(2))
	f.Add(math.Inf(1), 0.0, 0.0, 5.0, uint8(62), uint16(1000))
	f.Fuzz(func(t *testing.T, a, b, c, clip float64, bits uint8, n uint16) {
		codec, err := NewCodec(clip, uint(bits), int(n))
		if err != nil {
			return
		}
		x := []float64{a, b, c}
		dst := make([]int64, 3)
		if _, err := codec.Encode(dst, x, rand.New(rand.NewPCG(1, 2))); err != nil {
			return
		}
		n2 := 0.0
		for _, v := range dst {
			if v > codec.MaxAbs || v < -codec.MaxAbs {
				t.Fatalf("coordinate %d outside ±%d", v, codec.MaxAbs)
			}
			n2 += float64(v) * float64(v)
		}
		if got, lim := math.Sqrt(n2)/codec.Scale, codec.Clip+math.Sqrt(3)/codec.Scale; got > lim*(1+1e-9) {
			t.Fatalf("decoded norm %v above %v", got, lim)
		}
	})
}
