package vec

// The portable float64 kernels: the plain loops that specify the fast
// paths, and the implementation under the purego build tag.

func dotGeneric(x, y []float64) float64 {
	y = y[:len(x)] // bounds check elimination hint
	var s float64
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

func axpyGeneric(dst []float64, alpha float64, x []float64) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += alpha * v
	}
}

func scaleGeneric(dst []float64, alpha float64) {
	for i := range dst {
		dst[i] *= alpha
	}
}

func scaleToGeneric(dst []float64, alpha float64, x []float64) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = alpha * v
	}
}
