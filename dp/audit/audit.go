package audit

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/mathext"
)

// ErrInvalid reports an argument out of range; the message names it.
var ErrInvalid = errors.New("audit: invalid argument")

// maxEpsilon caps the searches: e^40 overflows no float64 and no audit
// with fewer than 10^17 trials can show more.
const maxEpsilon = 40

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func checkConfidence(c float64) error {
	if !(c > 0 && c < 1) {
		return invalid("confidence = %v, want in (0, 1)", c)
	}
	return nil
}

func checkDelta(d float64) error {
	if !(d >= 0 && d < 1) {
		return invalid("delta = %v, want in [0, 1)", d)
	}
	return nil
}

// ClopperPearsonUpper returns the one-sided upper confidence limit, at the
// given confidence, of a binomial proportion with k successes in n trials
// (Clopper and Pearson 1934): the (confidence)-quantile of Beta(k+1, n−k),
// and 1 when k = n.
func ClopperPearsonUpper(k, n int, confidence float64) (float64, error) {
	if n < 1 || k < 0 || k > n {
		return 0, invalid("k = %d successes in n = %d trials, want 0 <= k <= n, n >= 1", k, n)
	}
	if err := checkConfidence(confidence); err != nil {
		return 0, err
	}
	if k == n {
		return 1, nil
	}
	return mathext.InvRegIncBeta(float64(k+1), float64(n-k), confidence), nil
}

// Outcome counts the results of a membership test over independent
// trials: FP of Negatives non-members were called members, FN of
// Positives members were called non-members.
type Outcome struct {
	FP, Negatives int
	FN, Positives int
}

// ClopperPearsonEpsilon returns the lower bound on ε, at delta, that the
// outcome o shows with the given confidence (Jagielski et al. 2020, Nasr
// et al. 2021): with FPR and FNR at their Clopper-Pearson upper limits,
// each at confidence 1 − (1 − confidence)/2 so that both hold together,
//
//	ε ≥ max(log((1 − δ − FPR)/FNR), log((1 − δ − FNR)/FPR), 0).
//
// The trials must be independent (one canary per training run, say); the
// many canaries of one run need [OneRunEpsilon].
func ClopperPearsonEpsilon(o Outcome, delta, confidence float64) (float64, error) {
	if err := checkDelta(delta); err != nil {
		return 0, err
	}
	if err := checkConfidence(confidence); err != nil {
		return 0, err
	}
	each := 1 - (1-confidence)/2
	fpr, err := ClopperPearsonUpper(o.FP, o.Negatives, each)
	if err != nil {
		return 0, fmt.Errorf("false positives: %w", err)
	}
	fnr, err := ClopperPearsonUpper(o.FN, o.Positives, each)
	if err != nil {
		return 0, fmt.Errorf("false negatives: %w", err)
	}
	return epsFromRates(fpr, fnr, delta), nil
}

// epsFromRates is max(log((1−δ−fpr)/fnr), log((1−δ−fnr)/fpr), 0), capped
// at maxEpsilon.
func epsFromRates(fpr, fnr, delta float64) float64 {
	side := func(a, b float64) float64 {
		num := 1 - delta - a
		if num <= 0 {
			return 0
		}
		if b <= 0 {
			return maxEpsilon
		}
		return math.Log(num / b)
	}
	return math.Min(maxEpsilon, math.Max(0, math.Max(side(fpr, fnr), side(fnr, fpr))))
}

// binomPMF returns P[Binomial(n, p) = k] for 0 < p < 1.
func binomPMF(k, n int, p float64) float64 {
	lc, _ := math.Lgamma(float64(n + 1))
	la, _ := math.Lgamma(float64(k + 1))
	lb, _ := math.Lgamma(float64(n - k + 1))
	return math.Exp(lc - la - lb + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
}

// OneRunPValue returns the p-value of v or more right guesses out of r
// guesses on m canaries under the hypothesis that training is
// (eps, delta)-DP (Steinke, Nasr and Jagielski 2023, Theorem 5.2 and
// Appendix D):
//
//	p = P[B ≥ v] + 2mδ · max_{1≤i≤v} P[v−i ≤ B < v] / i,  B ~ Binomial(r, e^ε/(1+e^ε)),
//
// capped at 1.
func OneRunPValue(m, r, v int, eps, delta float64) (float64, error) {
	if !(0 <= v && v <= r && r <= m) {
		return 0, invalid("m = %d canaries, r = %d guesses, v = %d right, want 0 <= v <= r <= m", m, r, v)
	}
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return 0, invalid("epsilon = %v, want finite and >= 0", eps)
	}
	if err := checkDelta(delta); err != nil {
		return 0, err
	}
	if v == 0 {
		return 1, nil
	}
	q := 1 / (1 + math.Exp(-eps)) // accuracy of ε-DP randomized response
	var tail float64              // P[B ≥ v], summed from the small end
	for k := r; k >= v; k-- {
		tail += binomPMF(k, r, q)
	}
	p := tail
	if delta > 0 {
		var sum, alpha float64 // sum = P[v−i ≤ B < v]
		for i := 1; i <= v; i++ {
			sum += binomPMF(v-i, r, q)
			alpha = math.Max(alpha, sum/float64(i))
		}
		p += alpha * delta * 2 * float64(m)
	}
	return math.Min(p, 1), nil
}

// OneRunEpsilon returns the largest ε (to within 1e-6) at which v right
// guesses out of r on m canaries have a p-value below 1 − confidence
// under (ε, delta)-DP ([OneRunPValue]): with that confidence, training is
// not (ε', delta)-DP for any ε' below it. It is 0 when even ε = 0 cannot
// be rejected.
func OneRunEpsilon(m, r, v int, delta, confidence float64) (float64, error) {
	if err := checkConfidence(confidence); err != nil {
		return 0, err
	}
	alpha := 1 - confidence
	p0, err := OneRunPValue(m, r, v, 0, delta)
	if err != nil {
		return 0, err
	}
	if p0 >= alpha {
		return 0, nil
	}
	lo, hi := 0.0, 1.0 // p(lo) < alpha; grow hi until p(hi) >= alpha
	for {
		p, _ := OneRunPValue(m, r, v, hi, delta)
		if p >= alpha {
			break
		}
		if hi >= maxEpsilon {
			return maxEpsilon, nil
		}
		lo, hi = hi, math.Min(2*hi, maxEpsilon)
	}
	for hi-lo > 1e-6 {
		mid := (lo + hi) / 2
		if p, _ := OneRunPValue(m, r, v, mid, delta); p < alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

func checkScores(members, nonMembers []float64) error {
	if len(members) == 0 || len(nonMembers) == 0 {
		return invalid("%d member and %d non-member scores, want at least one of each", len(members), len(nonMembers))
	}
	for i, s := range members {
		if math.IsNaN(s) {
			return invalid("member score %d is NaN", i)
		}
	}
	for i, s := range nonMembers {
		if math.IsNaN(s) {
			return invalid("non-member score %d is NaN", i)
		}
	}
	return nil
}

// AUC returns the area under the ROC curve of the scores: the chance that
// a random member scores above a random non-member, ties counting one
// half (the Mann-Whitney statistic).
func AUC(members, nonMembers []float64) (float64, error) {
	if err := checkScores(members, nonMembers); err != nil {
		return 0, err
	}
	neg := slices.Sorted(slices.Values(nonMembers))
	var s float64
	for _, x := range members {
		below := sort.SearchFloat64s(neg, x) // non-members < x
		upto := sort.Search(len(neg), func(i int) bool { return neg[i] > x })
		s += float64(below) + float64(upto-below)/2
	}
	return s / float64(len(members)*len(nonMembers)), nil
}

// TPRAtFPR returns the largest true-positive rate of a threshold rule
// "member iff score > t" whose false-positive rate on the non-members is
// at most fpr. With n non-members, an fpr below 1/n allows no false
// positive at all.
func TPRAtFPR(members, nonMembers []float64, fpr float64) (float64, error) {
	if err := checkScores(members, nonMembers); err != nil {
		return 0, err
	}
	if !(fpr >= 0 && fpr <= 1) {
		return 0, invalid("fpr = %v, want in [0, 1]", fpr)
	}
	neg := slices.Sorted(slices.Values(nonMembers))
	allowed := int(math.Floor(fpr * float64(len(neg)) * (1 + 1e-12)))
	// The threshold is the (allowed+1)-th largest non-member score: at
	// most `allowed` non-members lie strictly above it.
	t := neg[len(neg)-1-min(allowed, len(neg)-1)]
	if allowed >= len(neg) {
		t = math.Inf(-1)
	}
	var tp int
	for _, x := range members {
		if x > t {
			tp++
		}
	}
	return float64(tp) / float64(len(members)), nil
}

// Guesses returns the one-run audit of scores against the truth in
// (member or not, one per canary): the kPos highest scores are guessed
// "in", the kNeg lowest "out", the others abstained on. It returns the
// number of guesses r = kPos + kNeg and of right guesses v. Ties at the
// boundaries are broken by index, so the guesses do not depend on in.
func Guesses(scores []float64, in []bool, kPos, kNeg int) (r, v int, err error) {
	if len(scores) != len(in) {
		return 0, 0, invalid("%d scores for %d canaries", len(scores), len(in))
	}
	if kPos < 0 || kNeg < 0 || kPos+kNeg > len(scores) {
		return 0, 0, invalid("kPos = %d, kNeg = %d for %d canaries, want >= 0 and kPos+kNeg <= canaries", kPos, kNeg, len(scores))
	}
	for i, s := range scores {
		if math.IsNaN(s) {
			return 0, 0, invalid("score %d is NaN", i)
		}
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	for _, i := range order[:kPos] {
		if in[i] {
			v++
		}
	}
	for _, i := range order[len(order)-kNeg:] {
		if !in[i] {
			v++
		}
	}
	return kPos + kNeg, v, nil
}
