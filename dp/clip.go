package dp

import (
	"fmt"
	"math"

	"github.com/privml/privml/internal/vec"
)

func checkBound(name string, v float64) error {
	if !finite(v) || v <= 0 {
		return paramErr(ErrInvalidParameter, name, v, "must be finite and > 0")
	}
	return nil
}

// ClipL2 scales x in place so that its L2 norm is at most bound and returns
// the factor applied: min(1, bound/‖x‖₂). A vector holding NaN or ±Inf is
// an error and is left unchanged.
func ClipL2(x []float64, bound float64) (float64, error) {
	if err := checkBound("bound", bound); err != nil {
		return 0, err
	}
	if err := checkFinite("x", x); err != nil {
		return 0, err
	}
	return clipFactor(x, bound, true), nil
}

// clipFactor returns the factor applied by L2 clipping, scaling x when scale
// is set. The factor is min(1, bound/‖x‖₂) shrunk by the relative error
// bound (len(x)+6)·2^-53 of the float64 norm and scaling, so that the
// exact norm of the clipped vector (and of f·x in exact arithmetic) never
// exceeds bound; the shrinkage is about 1e-10 for a million elements.
func clipFactor(x []float64, bound float64, scale bool) float64 {
	n := vec.Norm2(x)
	if math.IsInf(n, 1) { // squares overflowed: rescale first
		var m float64
		for _, v := range x {
			m = max(m, math.Abs(v))
		}
		n = m * scaledNorm(x, 1/m)
	}
	slack := float64(len(x)+6) * 0x1p-53
	if n*(1+slack) <= bound {
		return 1
	}
	f := bound / n * (1 - slack)
	if scale {
		vec.Scale(x, f)
	}
	return f
}

func scaledNorm(x []float64, s float64) float64 {
	var acc float64
	for _, v := range x {
		acc += (v * s) * (v * s)
	}
	return math.Sqrt(acc)
}

// ClipLInf scales x in place so that its largest absolute element is at
// most bound and returns the factor applied, min(1, bound/‖x‖∞). (Scaling
// keeps the direction of x; clamping each element separately would not.)
func ClipLInf(x []float64, bound float64) (float64, error) {
	if err := checkBound("bound", bound); err != nil {
		return 0, err
	}
	if err := checkFinite("x", x); err != nil {
		return 0, err
	}
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	if m <= bound {
		return 1, nil
	}
	f := bound / m
	for f*m > bound {
		f = math.Nextafter(f, 0)
	}
	vec.Scale(x, f)
	return f, nil
}

// ClipBatchL2 adds each example of batch, scaled to L2 norm at most bound,
// to sum, and writes the factor applied to example i in factors[i]. The
// examples themselves are not modified. sum then has L2 sensitivity bound
// with respect to adding or removing one example. It allocates nothing.
//
// Every row and sum must have the same length and factors must have
// len(batch) elements, otherwise an error wrapping [ErrInvalidInput] is
// returned; a row holding NaN or ±Inf is also an error naming the row. On
// error sum may be partly updated.
func ClipBatchL2(sum []float64, batch [][]float64, bound float64, factors []float64) error {
	if err := checkBound("bound", bound); err != nil {
		return err
	}
	if len(factors) != len(batch) {
		return fmt.Errorf("%w: len(factors) = %d, want len(batch) = %d", ErrInvalidInput, len(factors), len(batch))
	}
	for i, g := range batch {
		if len(g) != len(sum) {
			return fmt.Errorf("%w: len(batch[%d]) = %d, want len(sum) = %d", ErrInvalidInput, i, len(g), len(sum))
		}
		if err := checkFiniteRow(i, g); err != nil {
			return err
		}
		f := clipFactor(g, bound, false)
		factors[i] = f
		vec.Axpy(sum, f, g)
	}
	return nil
}

// ClipBatchL2Layers is ClipBatchL2 with a separate bound per layer: each
// example is the concatenation of layers of the given sizes, layer l of every
// example is clipped to bounds[l], and factors[i*len(sizes)+l] receives the
// factor for layer l of example i. The clipped sum has L2 sensitivity
// sqrt(Σ_l bounds[l]²) ([LayerSensitivity]). It allocates nothing.
func ClipBatchL2Layers(sum []float64, batch [][]float64, sizes []int, bounds []float64, factors []float64) error {
	if len(sizes) != len(bounds) {
		return fmt.Errorf("%w: len(sizes) = %d, len(bounds) = %d", ErrInvalidInput, len(sizes), len(bounds))
	}
	total := 0
	for l, n := range sizes {
		if n < 0 {
			return fmt.Errorf("%w: sizes[%d] = %d is negative", ErrInvalidInput, l, n)
		}
		if b := bounds[l]; !finite(b) || b <= 0 {
			return checkBound(fmt.Sprintf("bounds[%d]", l), b)
		}
		total += n
	}
	if total != len(sum) {
		return fmt.Errorf("%w: layer sizes add up to %d, want len(sum) = %d", ErrInvalidInput, total, len(sum))
	}
	if len(factors) != len(batch)*len(sizes) {
		return fmt.Errorf("%w: len(factors) = %d, want %d", ErrInvalidInput, len(factors), len(batch)*len(sizes))
	}
	for i, g := range batch {
		if len(g) != len(sum) {
			return fmt.Errorf("%w: len(batch[%d]) = %d, want len(sum) = %d", ErrInvalidInput, i, len(g), len(sum))
		}
		if err := checkFiniteRow(i, g); err != nil {
			return err
		}
		off := 0
		for l, n := range sizes {
			seg := g[off : off+n]
			f := clipFactor(seg, bounds[l], false)
			factors[i*len(sizes)+l] = f
			vec.Axpy(sum[off:off+n], f, seg)
			off += n
		}
	}
	return nil
}

// LayerSensitivity returns sqrt(Σ bounds[l]²), the L2 sensitivity of a sum
// clipped per layer by [ClipBatchL2Layers].
func LayerSensitivity(bounds []float64) float64 {
	var s float64
	for _, b := range bounds {
		s += b * b
	}
	return roundUp(math.Sqrt(s))
}

// checkFiniteRow is checkFinite for row i of a batch, formatting only on
// error so that the loop does not allocate.
func checkFiniteRow(i int, x []float64) error {
	for j, v := range x {
		if v-v != 0 {
			return fmt.Errorf("%w: batch[%d][%d] = %v is not finite", ErrInvalidInput, i, j, v)
		}
	}
	return nil
}
