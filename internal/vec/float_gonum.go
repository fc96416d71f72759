//go:build !purego

package vec

import (
	"gonum.org/v1/gonum/floats"
)

// The float64 kernels use gonum's assembly-backed implementations
// (gonum.org/v1/gonum/internal/asm/f64 on amd64), measured 2-4 times faster
// than the plain loops of float_generic.go here; see BenchmarkDot and
// friends with and without the purego tag.

func dot(x, y []float64) float64                     { return floats.Dot(x, y) }
func axpy(dst []float64, alpha float64, x []float64) { floats.AddScaled(dst, alpha, x) }
func scale(dst []float64, alpha float64)             { floats.Scale(alpha, dst) }
func scaleTo(dst []float64, alpha float64, x []float64) {
	floats.ScaleTo(dst, alpha, x)
}
