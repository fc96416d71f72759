package dp

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// chiSquareCounts tests observed counts against probabilities p at the
// file's alpha = 1e-6.
func chiSquareCounts(t *testing.T, name string, counts []int, p []float64) {
	t.Helper()
	n := 0
	for _, c := range counts {
		n += c
	}
	var stat float64
	for i, c := range counts {
		e := p[i] * float64(n)
		stat += (float64(c) - e) * (float64(c) - e) / e
	}
	crit := distuv.ChiSquared{K: float64(len(p) - 1)}.Quantile(1 - alpha)
	if stat > crit {
		t.Errorf("%s: chi-square %.1f > %.1f; counts %v, p %v", name, stat, crit, counts, p)
	}
}

func TestExponentialMechanismDistribution(t *testing.T) {
	s := NewSampler(WithSeedForTesting(50))
	u := []float64{0, 1, 2.5, 3, -4}
	const eps, sens = 1.2, 1.0
	p := make([]float64, len(u))
	var z float64
	for i, v := range u {
		p[i] = math.Exp(eps * v / (2 * sens))
		z += p[i]
	}
	for i := range p {
		p[i] /= z
	}
	counts := make([]int, len(u))
	for range 60_000 {
		i, err := s.Exponential(u, eps, sens, false)
		if err != nil {
			t.Fatal(err)
		}
		counts[i]++
	}
	chiSquareCounts(t, "exponential", counts, p)
}

// pfProbabilities enumerates all permutations to get the exact output
// distribution of permute-and-flip (McKenna and Sheldon 2020, Alg. 1).
func pfProbabilities(q []float64) []float64 {
	n := len(q)
	p := make([]float64, n)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	count := 0
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			count++
			stay := 1.0
			for _, i := range perm {
				p[i] += stay * q[i]
				stay *= 1 - q[i]
			}
			return
		}
		for j := k; j < n; j++ {
			perm[k], perm[j] = perm[j], perm[k]
			rec(k + 1)
			perm[k], perm[j] = perm[j], perm[k]
		}
	}
	rec(0)
	for i := range p {
		p[i] /= float64(count)
	}
	return p
}

func TestPermuteAndFlipDistribution(t *testing.T) {
	s := NewSampler(WithSeedForTesting(51))
	u := []float64{0, 1, 2.5, 3}
	const eps, sens = 1.0, 1.0
	q := make([]float64, len(u))
	for i, v := range u {
		q[i] = math.Exp(eps * (v - 3) / (2 * sens))
	}
	p := pfProbabilities(q)
	counts := make([]int, len(u))
	for range 60_000 {
		i, err := s.PermuteAndFlip(u, eps, sens, false)
		if err != nil {
			t.Fatal(err)
		}
		counts[i]++
	}
	chiSquareCounts(t, "permute-and-flip", counts, p)
}

func TestTopK(t *testing.T) {
	s := NewSampler(WithSeedForTesting(52))
	u := []float64{0, 100, 0, 90, 0, 95}
	dst := make([]int, 3)
	if err := s.TopK(dst, u, 10, 1, false); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, i := range dst {
		seen[i] = true
	}
	// With gaps of 90 at epsilon 10 the chance of another answer is e^-440.
	if !seen[1] || !seen[3] || !seen[5] {
		t.Errorf("top-3 of %v = %v, want {1, 3, 5}", u, dst)
	}
	if err := s.TopK(make([]int, 7), u, 1, 1, false); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("k > n: %v", err)
	}
}

func TestAboveThreshold(t *testing.T) {
	a, err := NewAboveThreshold(100, 1, 1, WithSeedForTesting(53))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		// Noise scale 4: 1000 below the threshold is e^-225 unlikely to pass.
		if above, err := a.Next(-900); err != nil || above {
			t.Fatalf("query %d far below reported above (%v)", i, err)
		}
	}
	if above, err := a.Next(1e4); err != nil || !above {
		t.Fatalf("query far above reported below (%v)", err)
	}
	if _, err := a.Next(0); !errors.Is(err, ErrHalted) {
		t.Errorf("after halting: %v", err)
	}
	// Rate check: a query equal to the threshold is above with probability
	// P(ν ≥ ρ) for ν ~ DLap(4), ρ ~ DLap(2): estimate it by simulation of the
	// same discrete laws and compare.
	const n = 4000
	hits := 0
	for i := range n {
		a, _ := NewAboveThreshold(0, 1, 1, WithSeedForTesting(uint64(1000+i)))
		if ok, _ := a.Next(0); ok {
			hits++
		}
	}
	// P(ν - ρ ≥ 0) = 1/2 + P(ν = ρ)/2 ≈ 1/2 on this fine grid; sd 0.0079.
	if f := float64(hits) / n; math.Abs(f-0.5) > 5.3*math.Sqrt(0.25/n) {
		t.Errorf("query at the threshold passed %.3f of the time, want about 0.5", f)
	}
}

func TestSelectionValidation(t *testing.T) {
	s := NewSampler()
	if _, err := s.Exponential(nil, 1, 1, false); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("no candidates: %v", err)
	}
	if _, err := s.Exponential([]float64{1, math.NaN()}, 1, 1, false); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NaN utility: %v", err)
	}
	if _, err := s.PermuteAndFlip([]float64{1}, -1, 1, false); !errors.Is(err, ErrInvalidEpsilon) {
		t.Errorf("negative epsilon: %v", err)
	}
	if _, err := NewAboveThreshold(0, 1, 0); !errors.Is(err, ErrInvalidSensitivity) {
		t.Errorf("zero sensitivity: %v", err)
	}
	// Utilities beyond 2^62 grid steps are refused, naming the utility.
	_, err := s.Exponential([]float64{-1e308, 1e308}, 1, 1e-300, false)
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Param != "utilities[0]" {
		t.Errorf("extreme utilities: %v", err)
	}
	// Large counts (1e12 with sensitivity 1) work and pick the maximiser.
	i, err := s.Exponential([]float64{1e12, 1e12 - 200, 3}, 1, 1, false)
	if err != nil || i != 0 {
		t.Errorf("large utilities: %d, %v", i, err)
	}
	a, err := NewAboveThreshold(1e12, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if above, err := a.Next(1e12 + 1000); err != nil || !above {
		t.Errorf("large query: %v %v", above, err)
	}
}

// FuzzSelection checks that no utilities or parameters make the selection
// mechanisms panic or return an index out of range.
func FuzzSelection(f *testing.F) {
	f.Add(1.0, 2.0, -3.0, 1.0, 1.0, 0.5)
	f.Add(1e308, -1e308, 0.0, 1e-300, 1e300, 1e-9)
	f.Add(math.NaN(), 0.0, 0.0, math.Inf(1), 1.0, 1.0)
	f.Fuzz(func(t *testing.T, a, b, c, eps, sens, thr float64) {
		s := NewSampler(WithSeedForTesting(1))
		u := []float64{a, b, c}
		if i, err := s.Exponential(u, eps, sens, false); err == nil && (i < 0 || i > 2) {
			t.Fatalf("Exponential returned %d", i)
		}
		if i, err := s.PermuteAndFlip(u, eps, sens, true); err == nil && (i < 0 || i > 2) {
			t.Fatalf("PermuteAndFlip returned %d", i)
		}
		_ = s.TopK(make([]int, 2), u, eps, sens, false)
		if at, err := NewAboveThreshold(thr, eps, sens, WithSeedForTesting(2)); err == nil {
			for _, q := range u {
				if _, err := at.Next(q); errors.Is(err, ErrHalted) {
					break
				}
			}
		}
	})
}
