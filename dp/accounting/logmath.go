package accounting

import "math"

// logAdd returns log(exp(a) + exp(b)) without overflow.
func logAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	if math.IsInf(a, 1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// logSub returns log(exp(a) - exp(b)) for a >= b; it returns -Inf when a == b.
func logSub(a, b float64) float64 {
	if math.IsInf(b, -1) {
		return a
	}
	if b >= a {
		return math.Inf(-1)
	}
	return a + math.Log1p(-math.Exp(b-a))
}

// logErfc returns log(erfc(x)), accurate also where erfc(x) underflows.
func logErfc(x float64) float64 {
	if x < 10 {
		return math.Log(math.Erfc(x))
	}
	// Asymptotic expansion erfc(x) = exp(-x²)/(x√π) · Σ_k (-1)^k (2k-1)!!/(2x²)^k.
	// At x >= 10 the twelfth term is below 1e-16 of the first.
	y := 1 / (2 * x * x)
	sum, term := 1.0, 1.0
	for k := 1; k <= 12; k++ {
		term *= -float64(2*k-1) * y
		sum += term
	}
	return -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(sum)
}

// logNormCDF returns log Φ(x) for the standard normal CDF Φ.
func logNormCDF(x float64) float64 {
	return math.Log(0.5) + logErfc(-x/math.Sqrt2)
}

// logExpm1 returns log(exp(x) - 1) for x > 0.
func logExpm1(x float64) float64 {
	if x > 50 {
		return x + math.Log1p(-math.Exp(-x))
	}
	return math.Log(math.Expm1(x))
}
