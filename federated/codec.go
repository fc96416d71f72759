package federated

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Codec is the fixed-point encoding of float updates for secure
// aggregation: an update is clipped to the L2 bound Clip, multiplied by
// Scale and stochastically rounded to integers, so that every coordinate
// lies in [-MaxAbs, MaxAbs] and the sum of the n clients' vectors cannot
// wrap around in Z_{2^B} (the headroom check of [secagg.NewParams]: n ×
// MaxAbs < 2^(B-1)). The server decodes the unmasked sum by dividing by
// Scale. Stochastic rounding is unbiased, so the decoded sum is the sum of
// the clipped updates plus zero-mean rounding error of variance at most
// 1/(4·Scale²) per coordinate and client.
type Codec struct {
	Clip   float64 // L2 bound
	Scale  float64 // integers per unit
	MaxAbs int64   // bound on every encoded coordinate
}

// NewCodec returns the codec for n clients summing in Z_{2^bits}: MaxAbs
// is the largest bound the headroom check accepts, floor((2^(bits-1)-1)/n),
// and Scale = (MaxAbs-1)/clip, so that a clipped coordinate (at most clip
// in absolute value) rounds to at most MaxAbs.
func NewCodec(clip float64, bits uint, n int) (*Codec, error) {
	if !(clip > 0) || math.IsInf(clip, 0) {
		return nil, fmt.Errorf("%w: clipping bound %v, want a finite value > 0", ErrConfig, clip)
	}
	m, err := headroomBound(bits, n)
	if err != nil {
		return nil, err
	}
	if m < 2 {
		return nil, fmt.Errorf("%w: %d clients leave no room in %d bits", ErrConfig, n, bits)
	}
	return &Codec{Clip: clip, Scale: float64(m-1) / clip, MaxAbs: m}, nil
}

// maxAbs is the per-client bound of the headroom check of secagg.NewParams.
func headroomBound(bits uint, n int) (int64, error) {
	if bits < 8 || bits > 62 || n < 1 {
		return 0, fmt.Errorf("%w: %d bits for %d clients, want 8 to 62 bits", ErrConfig, bits, n)
	}
	return int64(((uint64(1) << (bits - 1)) - 1) / uint64(n)), nil
}

// Encode clips x to the L2 bound (scaling it down if its norm exceeds
// Clip), scales it and rounds it stochastically into dst, drawing from r.
// It reports whether x was clipped. dst and x have the same length.
func (c *Codec) Encode(dst []int64, x []float64, r *rand.Rand) (clipped bool, err error) {
	if len(dst) != len(x) {
		return false, fmt.Errorf("%w: encoding %d values into %d", ErrConfig, len(x), len(dst))
	}
	f, clipped, err := l2ClipFactor(x, c.Clip)
	if err != nil {
		return false, err
	}
	s := f * c.Scale
	for i, v := range x {
		dst[i] = min(max(stochasticRound(v*s, r), -c.MaxAbs), c.MaxAbs)
	}
	return clipped, nil
}

// Decode writes sum/Scale into dst.
func (c *Codec) Decode(dst []float64, sum []int64) {
	inv := 1 / c.Scale
	for i, v := range sum {
		dst[i] = float64(v) * inv
	}
}

// l2ClipFactor returns the factor min(1, bound/||x||) and whether it is
// below 1; it fails on a non-finite value. The norm is computed on x
// divided by its largest magnitude, so that finite coordinates near the
// float64 limit are clipped rather than overflowing the sum of squares.
func l2ClipFactor(x []float64, bound float64) (float64, bool, error) {
	top := 0.0
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false, fmt.Errorf("%w: coordinate %d is %v", ErrClient, i, v)
		}
		top = max(top, math.Abs(v))
	}
	if top == 0 {
		return 1, false, nil
	}
	n2 := 0.0
	for _, v := range x {
		v /= top
		n2 += v * v
	}
	if top*math.Sqrt(n2) <= bound { // the product may be +Inf
		return 1, false, nil
	}
	return bound / top / math.Sqrt(n2), true, nil
}

// stochasticRound rounds v to floor(v) or floor(v)+1 with probabilities
// that make the result unbiased.
func stochasticRound(v float64, r *rand.Rand) int64 {
	f := math.Floor(v)
	if r.Float64() < v-f {
		f++
	}
	return int64(f)
}
