package dp

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
)

// ErrHalted is returned by [AboveThreshold.Next] after the sparse vector
// has answered "above" once: its budget is spent.
var ErrHalted = errors.New("dp: sparse vector technique has halted")

// Selection mechanisms work on a lattice: utilities are rounded to a grid g
// (the power of two 2^(⌊log2 Δ⌋-20), at most 2^-20·Δ), which adds one grid
// step to the sensitivity, and every probability is then an exact function
// of integers and float64 constants, sampled exactly (Ilvento 2020 shows
// why sampling exp(ε·u) on floating-point utilities is not safe).
// Utilities and queries must stay below 2^62 grid steps (about 4·10^12·Δ)
// in magnitude.

const selectionGridShift = 20

// selectionGrid returns the grid g for utilities of the given sensitivity
// and the sensitivity Δ' charged for it, rounded up to a multiple of g.
func selectionGrid(sensitivity float64) (g, charged float64) {
	g = math.Ldexp(1, math.Ilogb(sensitivity)-selectionGridShift)
	charged = (math.Ceil(sensitivity/g) + 1) * g
	return g, charged
}

// checkSelection validates the arguments shared by the selection
// mechanisms and returns the utilities rounded to the grid as integers,
// relative to the largest one (so all are ≤ 0).
func checkSelection(utilities []float64, epsilon, sensitivity float64, dst []int64) (g, charged float64, err error) {
	if len(utilities) == 0 {
		return 0, 0, fmt.Errorf("%w: no candidates", ErrInvalidInput)
	}
	if err := checkEpsilon("epsilon", epsilon); err != nil {
		return 0, 0, err
	}
	if err := checkSensitivity("sensitivity", sensitivity); err != nil {
		return 0, 0, err
	}
	if err := checkFinite("utilities", utilities); err != nil {
		return 0, 0, err
	}
	g, charged = selectionGrid(sensitivity)
	// k_i = round(u_i/g) exactly (u_i/g is exact: g is a power of two);
	// d_i = max_j k_j - k_i in exact int64 arithmetic.
	top := int64(math.MinInt64)
	for i, u := range utilities {
		k := math.RoundToEven(u / g)
		if math.Abs(k) >= 1<<62 {
			return 0, 0, paramErr(ErrInvalidParameter, fmt.Sprintf("utilities[%d]", i), u, "too large relative to the sensitivity (limit 2^62 grid steps)")
		}
		dst[i] = int64(k)
		top = max(top, dst[i])
	}
	for i := range dst {
		dst[i] = top - dst[i]
	}
	return g, charged, nil
}

// bernoulliExpNeg returns true with probability exp(-γ), γ = c·m for a
// float64 c ≥ 0 and an integer m ≥ 0, exactly.
func bernoulliExpNeg(r *rand.ChaCha8, c float64, m int64) bool {
	gf := c * float64(m)
	p := expNegFast(gf)
	u := r.Uint64()
	a := float64(u>>11) * 0x1p-53
	switch {
	case a+0x1p-53 < p*(1-fastMargin):
		return true
	case a > p*(1+fastMargin) && gf <= expFastMax:
		return false
	case gf > expFastMax && a > 0:
		return false // exp(-γ) < 2^-1000 < a
	}
	// γ = c·m exactly: c = cm·2^ce.
	frac, e := math.Frexp(c)
	num := new(big.Int).SetUint64(uint64(math.Ldexp(frac, 53)))
	num.Mul(num, big.NewInt(m))
	den := big.NewInt(1)
	if e -= 53; e >= 0 {
		num.Lsh(num, uint(e))
	} else {
		den.Lsh(den, uint(-e))
	}
	return exactLess(r, u, 64, 1, 1, num, den)
}

// expCoefficient returns c = ε·g/(2Δ') rounded down (or ε·g/Δ' when
// monotone), so that exp(-c·m) never concentrates more than the privacy
// analysis allows.
func expCoefficient(epsilon, g, charged float64, monotone bool) float64 {
	c := epsilon * g / charged
	if !monotone {
		c /= 2
	}
	return math.Nextafter(math.Nextafter(c, 0), 0)
}

// Exponential returns the index of one candidate chosen by the exponential
// mechanism (McSherry and Talwar 2007): index i with probability
// proportional to exp(ε·u_i/(2Δ)), or exp(ε·u_i/Δ) when monotone is true
// (utilities that all move in the same direction between neighbouring
// data sets). It is epsilon-DP for utilities of sensitivity Δ: the rounding
// of utilities to the grid is paid for by calibrating to Δ' ≥ Δ + g, a
// multiple of g.
//
// Sampling is exact: a uniform candidate is accepted with probability
// exp(-ε·(u_max - u_i)/(2Δ)), decided exactly. The expected number of trials
// is n/Σ_i exp(-ε(u_max-u_i)/(2Δ)) ≤ n; it depends on the utilities, not on
// the chosen index. It allocates one []int64 of len(utilities).
func (s *Sampler) Exponential(utilities []float64, epsilon, sensitivity float64, monotone bool) (int, error) {
	d := make([]int64, len(utilities))
	g, charged, err := checkSelection(utilities, epsilon, sensitivity, d)
	if err != nil {
		return 0, err
	}
	c := expCoefficient(epsilon, g, charged, monotone)
	r := s.src.get()
	defer s.src.put(r)
	n := uint64(len(d))
	for {
		i := uniformBelow(r, n)
		if bernoulliExpNeg(r, c, d[i]) {
			return int(i), nil
		}
	}
}

// PermuteAndFlip returns the index of one candidate chosen by the
// permute-and-flip mechanism (McKenna and Sheldon 2020): candidates are
// visited in a uniformly random order and candidate i is taken with
// probability exp(ε·(u_i - u_max)/(2Δ)) (ε/Δ when monotone). It is
// epsilon-DP, never worse than the exponential mechanism in expected
// utility, and equal to report-noisy-max with exponential noise (Ding,
// Kifer et al. 2021). Sampling is exact on the lattice, as for
// [Sampler.Exponential].
func (s *Sampler) PermuteAndFlip(utilities []float64, epsilon, sensitivity float64, monotone bool) (int, error) {
	d := make([]int64, len(utilities))
	g, charged, err := checkSelection(utilities, epsilon, sensitivity, d)
	if err != nil {
		return 0, err
	}
	c := expCoefficient(epsilon, g, charged, monotone)
	perm := make([]int, len(d))
	for i := range perm {
		perm[i] = i
	}
	r := s.src.get()
	defer s.src.put(r)
	for k := range perm { // lazy Fisher–Yates
		j := k + int(uniformBelow(r, uint64(len(perm)-k)))
		perm[k], perm[j] = perm[j], perm[k]
		if i := perm[k]; bernoulliExpNeg(r, c, d[i]) {
			return i, nil
		}
	}
	// The best candidate has d = 0 and is always taken when visited.
	return 0, errors.New("dp: internal error: permute-and-flip took no candidate")
}

// TopK returns k distinct indices chosen by peeling: k rounds of the
// exponential mechanism, each on the candidates not yet chosen, with
// epsilon per round. The total cost is k·epsilon (pure DP, basic
// composition); Durfee and Rogers (2019) show the result has the same
// distribution as one-shot top-k with Gumbel noise, with tighter (ε,δ)
// bounds available from their analysis. dst must have length k.
func (s *Sampler) TopK(dst []int, utilities []float64, epsilon, sensitivity float64, monotone bool) error {
	k := len(dst)
	if k == 0 || k > len(utilities) {
		return fmt.Errorf("%w: k = %d with %d candidates", ErrInvalidInput, k, len(utilities))
	}
	left := make([]int, len(utilities))
	for i := range left {
		left[i] = i
	}
	sub := make([]float64, 0, len(utilities))
	for j := range k {
		sub = sub[:0]
		for _, i := range left {
			sub = append(sub, utilities[i])
		}
		pick, err := s.Exponential(sub, epsilon, sensitivity, monotone)
		if err != nil {
			return err
		}
		dst[j] = left[pick]
		left = append(left[:pick], left[pick+1:]...)
	}
	return nil
}

// AboveThreshold is the sparse vector technique (Dwork and Roth 2014,
// Algorithm 1): it answers a stream of queries of sensitivity Δ with
// "below" until the first query whose noisy value exceeds a noisy
// threshold, answers "above" for it, and halts. The whole run is
// epsilon-DP whatever the number of "below" answers.
//
// Queries and threshold are rounded to a grid of at most 2^-20·Δ, and the noises
// are discrete Laplace on that grid with scales 2Δ'/ε (threshold) and
// 4Δ'/ε (each query), Δ' being Δ rounded up to the grid plus one grid
// step; on the lattice the shifting argument of the proof holds exactly.
// Not safe for concurrent use.
type AboveThreshold struct {
	s      *Sampler
	g      float64
	bq     float64 // query noise scale, grid units
	thr    int64   // noisy threshold, grid units
	halted bool
}

// NewAboveThreshold starts a sparse vector run.
func NewAboveThreshold(threshold, epsilon, sensitivity float64, opts ...Option) (*AboveThreshold, error) {
	if !finite(threshold) {
		return nil, paramErr(ErrInvalidParameter, "threshold", threshold, "must be finite")
	}
	if err := checkEpsilon("epsilon", epsilon); err != nil {
		return nil, err
	}
	if err := checkSensitivity("sensitivity", sensitivity); err != nil {
		return nil, err
	}
	g, charged := selectionGrid(sensitivity)
	units := charged / g
	a := &AboveThreshold{s: NewSampler(opts...), g: g, bq: roundUp(4 * units / epsilon)}
	bt := roundUp(2 * units / epsilon)
	if err := checkIntParam("threshold noise scale (grid units)", bt); err != nil {
		return nil, err
	}
	if err := checkIntParam("query noise scale (grid units)", a.bq); err != nil {
		return nil, err
	}
	t := math.RoundToEven(threshold / g)
	if math.Abs(t) > 1<<60 {
		return nil, paramErr(ErrInvalidParameter, "threshold", threshold, "too large relative to the sensitivity")
	}
	z, err := a.s.DiscreteLaplace(bt)
	if err != nil {
		return nil, err
	}
	a.thr = int64(t) + z
	return a, nil
}

// Next answers one query: true means above the threshold, after which the
// run has halted and further calls return [ErrHalted].
func (a *AboveThreshold) Next(query float64) (bool, error) {
	if a.halted {
		return false, ErrHalted
	}
	if !finite(query) {
		return false, paramErr(ErrInvalidParameter, "query", query, "must be finite")
	}
	q := math.RoundToEven(query / a.g)
	if math.Abs(q) > 1<<60 {
		return false, paramErr(ErrInvalidParameter, "query", query, "too large relative to the sensitivity")
	}
	z, err := a.s.DiscreteLaplace(a.bq)
	if err != nil {
		return false, err
	}
	if int64(q)+z >= a.thr {
		a.halted = true
		return true, nil
	}
	return false, nil
}
