//go:build purego

package vec

func dot(x, y []float64) float64                        { return dotGeneric(x, y) }
func axpy(dst []float64, alpha float64, x []float64)    { axpyGeneric(dst, alpha, x) }
func scale(dst []float64, alpha float64)                { scaleGeneric(dst, alpha) }
func scaleTo(dst []float64, alpha float64, x []float64) { scaleToGeneric(dst, alpha, x) }
