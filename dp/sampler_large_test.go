package dp

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// binnedChiSquare compares noise values (already divided by the scale)
// with a continuous CDF on bins of width 0.25 over [-4, 4] plus two tail
// bins. At the lattice parameters used here (≥ 2^36 grid steps per scale)
// the discrete and continuous bin probabilities differ by less than 1e-9,
// far below what these sample sizes can detect.
func binnedChiSquare(t *testing.T, name string, z []float64, cdf func(float64) float64) {
	t.Helper()
	edges := []float64{math.Inf(-1)}
	for e := -4.0; e <= 4.0; e += 0.25 {
		edges = append(edges, e)
	}
	edges = append(edges, math.Inf(1))
	counts := make([]int, len(edges)-1)
	for _, v := range z {
		lo, hi := 0, len(edges)-1
		for hi-lo > 1 { // edges[lo] ≤ v < edges[hi]
			mid := (lo + hi) / 2
			if v < edges[mid] {
				hi = mid
			} else {
				lo = mid
			}
		}
		counts[lo]++
	}
	n := float64(len(z))
	var stat float64
	df := -1
	for i, c := range counts {
		e := (cdf(edges[i+1]) - cdf(edges[i])) * n
		if e < 10 {
			continue
		}
		stat += (float64(c) - e) * (float64(c) - e) / e
		df++
	}
	crit := distuv.ChiSquared{K: float64(df)}.Quantile(1 - alpha)
	if stat > crit {
		t.Errorf("%s: binned chi-square %.1f > %.1f (df %d)", name, stat, crit, df)
	}
}

func normalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
func laplaceCDF(x float64) float64 {
	if x < 0 {
		return 0.5 * math.Exp(x)
	}
	return 1 - 0.5*math.Exp(-x)
}

// TestGridBinnedChiSquare tests the float64 grid samplers and the integer
// samplers at large parameters (which use a third random word per trial)
// against the continuous distribution they approximate to 1e-9.
func TestGridBinnedChiSquare(t *testing.T) {
	const n = 200_000
	s := NewSampler(WithSeedForTesting(80))
	x := make([]float64, n)
	z := make([]float64, n)
	if err := s.AddGaussian(x, 2.5); err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		z[i] = v / 2.5
	}
	binnedChiSquare(t, "AddGaussian", z, normalCDF)
	if err := s.AddLaplace(clear0(x), 0.7); err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		z[i] = v / 0.7
	}
	binnedChiSquare(t, "AddLaplace", z, laplaceCDF)
	xi := make([]int64, n)
	for _, p := range []float64{0x1p45 * 1.37, 0x1p50} {
		clear(xi)
		if err := s.AddDiscreteGaussian(xi, p); err != nil {
			t.Fatal(err)
		}
		for i, v := range xi {
			z[i] = float64(v) / p
		}
		binnedChiSquare(t, "DiscreteGaussian large sigma", z, normalCDF)
		clear(xi)
		if err := s.AddDiscreteLaplace(xi, p); err != nil {
			t.Fatal(err)
		}
		for i, v := range xi {
			z[i] = float64(v) / p
		}
		binnedChiSquare(t, "DiscreteLaplace large scale", z, laplaceCDF)
	}
}

func clear0(x []float64) []float64 { clear(x); return x }

// TestExactPathLargeParam runs the big-integer path alone at a parameter
// where γ has a large rational form (σ = 1.37·2^40).
func TestExactPathLargeParam(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: exact path only")
	}
	for _, kind := range []noiseKind{kindGauss, kindLaplace} {
		tb := newTable(kind, 0x1p40*1.37)
		tb.exactOnly = true
		r := rand.NewChaCha8([32]byte{9})
		z := make([]float64, 4000)
		for i := range z {
			z[i] = float64(tb.sample(&stream{r: r})) / tb.param
		}
		cdf := normalCDF
		if kind == kindLaplace {
			cdf = laplaceCDF
		}
		binnedChiSquare(t, "exact path", z, cdf)
	}
}
