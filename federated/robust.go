package federated

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"

	"github.com/privml/privml/internal/vec"
)

// Robust aggregation.
//
// The aggregators in this file bound the influence of up to f Byzantine
// clients, which may send any update (scaled, sign-flipped, crafted) and
// any weight. They need the individual updates in the clear, so they work
// in plaintext mode only, except [NormBound], which each client can apply
// to its own update before masking. [Median], [TrimmedMean], [Krum] and
// [Bulyan] ignore the clients' weights after checking them (a weight is a
// client's own claim, which a Byzantine client would inflate); [NormBound]
// uses them, capped by [NormBoundConfig.MaxWeight].
//
// Every Aggregate writes into dst, which must not share memory with any
// update, and leaves the updates unmodified.
//
// Their guarantees are for the aggregate of one round against updates far
// from the honest ones. Attacks that stay within the honest clients'
// spread on every coordinate (Baruch, Baruch and Goldberg, "A Little Is
// Enough", NeurIPS 2019) can still bias these rules over many rounds.

// aggColBlock is the number of coordinates gathered at once by
// aggColumns, so that the gather reads each update sequentially.
const aggColBlock = 32

// aggColumns calls fn(j, col) for every coordinate j < d, where col[i] is
// updates[i][j]; fn may reorder col. buf must hold aggColBlock·len(updates)
// values.
func aggColumns(d int, updates [][]float64, buf []float64, fn func(j int, col []float64)) {
	n := len(updates)
	for j0 := 0; j0 < d; j0 += aggColBlock {
		b := min(aggColBlock, d-j0)
		for i, u := range updates {
			for k, x := range u[j0 : j0+b] {
				buf[k*n+i] = x
			}
		}
		for k := range b {
			fn(j0+k, buf[k*n:(k+1)*n])
		}
	}
}

// aggSortedMedian returns the median of the sorted, non-empty slice c.
func aggSortedMedian(c []float64) float64 {
	h := len(c) / 2
	if len(c)%2 == 1 {
		return c[h]
	}
	return c[h-1]/2 + c[h]/2
}

// aggSelectMedian returns the median of the non-empty slice c, which it
// reorders.
func aggSelectMedian(c []float64) float64 {
	h := len(c) / 2
	aggSelectKth(c, h)
	if len(c)%2 == 1 {
		return c[h]
	}
	lower := c[0]
	for _, x := range c[1:h] {
		lower = max(lower, x)
	}
	return lower/2 + c[h]/2
}

// aggSelectKth reorders c (no NaN) so that c[k] is its k-th smallest element
// (0-based) when k < len(c), with c[:k] <= c[k] <= c[k+1:]; for
// k == len(c) it does nothing. It is Hoare's quickselect with a
// median-of-three pivot, falling back to sorting after 2·log2(len(c))
// rounds, so that values chosen by a Byzantine client to defeat the pivot
// cost O(n log n) at worst.
func aggSelectKth(c []float64, k int) {
	if k >= len(c) {
		return
	}
	lo, hi := 0, len(c)-1
	for budget := 2 * bits.Len(uint(len(c))); hi > lo; budget-- {
		if budget == 0 {
			slices.Sort(c[lo : hi+1])
			return
		}
		mid := lo + (hi-lo)/2
		// Order c[lo], c[mid], c[hi]; the pivot is the middle one.
		if c[mid] < c[lo] {
			c[mid], c[lo] = c[lo], c[mid]
		}
		if c[hi] < c[lo] {
			c[hi], c[lo] = c[lo], c[hi]
		}
		if c[hi] < c[mid] {
			c[hi], c[mid] = c[mid], c[hi]
		}
		p := c[mid]
		i, j := lo, hi
		for i <= j {
			for c[i] < p {
				i++
			}
			for c[j] > p {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		// Now c[lo..j] <= p <= c[i..hi], and c[j+1..i-1] == p.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

// aggMean returns the mean of the non-empty slice c of finite values,
// without overflow when the sum of large values would exceed the float64
// range.
func aggMean(c []float64) float64 {
	var s float64
	for _, x := range c {
		s += x
	}
	n := float64(len(c))
	if s-s == 0 { // the sum is finite
		return s / n
	}
	// Sum the scaled values; rounding can still push the result just past
	// the range of c (and so past MaxFloat64), which the exact mean never
	// leaves.
	s = 0
	lo, hi := c[0], c[0]
	for _, x := range c {
		s += x / n
		lo, hi = min(lo, x), max(hi, x)
	}
	return min(max(s, lo), hi)
}

// Median is the coordinate-wise median (Yin, Chen, Ramchandran and
// Bartlett, "Byzantine-Robust Distributed Learning: Towards Optimal
// Statistical Rates", ICML 2018; Flower's FedMedian): dst[j] is the median
// of the clients' j-th coordinates (the mean of the two middle values when
// n is even). With n ≥ 2f+1 clients of which at most f are Byzantine,
// every dst[j] lies between the smallest and the largest honest value of
// coordinate j, whatever the Byzantine clients send. Weights are checked
// and ignored. Median is safe for concurrent use.
type Median struct{ f int }

// NewMedian returns the coordinate-wise median built to tolerate f ≥ 0
// Byzantine clients; Aggregate then requires n ≥ 2f+1 updates.
func NewMedian(f int) (*Median, error) {
	if f < 0 {
		return nil, fmt.Errorf("%w: median: f=%d, want >= 0", ErrStrategyConfig, f)
	}
	return &Median{f: f}, nil
}

// Name returns "median".
func (*Median) Name() string { return "median" }

// Aggregate writes the coordinate-wise median of updates into dst. It
// returns an error wrapping [ErrByzantineBound] if n < 2f+1, and
// [ErrInvalidUpdate] or [ErrInvalidWeight] for bad inputs. The updates are
// not modified.
func (a *Median) Aggregate(dst []float64, updates [][]float64, weights []float64) error {
	if err := aggCheckInputs(a.Name(), dst, updates, weights); err != nil {
		return err
	}
	if err := aggCheckBound(a.Name(), len(updates), a.f, 2, 1); err != nil {
		return err
	}
	buf := make([]float64, aggColBlock*len(updates))
	aggColumns(len(dst), updates, buf, func(j int, col []float64) {
		dst[j] = aggSelectMedian(col)
	})
	return nil
}

// TrimmedMean is the coordinate-wise trimmed mean (Yin et al., ICML 2018;
// Flower's FedTrimmedAvg): for each coordinate it drops the k smallest and
// the k largest client values and averages the rest. With k ≥ f and
// n ≥ 2k+1, every dst[j] lies between the smallest and the largest honest
// value of coordinate j. Weights are checked and ignored. TrimmedMean is
// safe for concurrent use.
type TrimmedMean struct {
	k    int     // values trimmed each side, when beta < 0
	beta float64 // fraction trimmed each side, or -1
}

// NewTrimmedMean returns the trimmed mean that drops f values on each side
// of every coordinate, tolerating f ≥ 0 Byzantine clients; Aggregate then
// requires n ≥ 2f+1 updates.
func NewTrimmedMean(f int) (*TrimmedMean, error) {
	if f < 0 {
		return nil, fmt.Errorf("%w: trimmed-mean: f=%d, want >= 0", ErrStrategyConfig, f)
	}
	return &TrimmedMean{k: f, beta: -1}, nil
}

// NewTrimmedMeanFraction returns the trimmed mean of Yin et al. with trim
// fraction β in [0, 1/2): with n updates it drops k = ⌊β·n⌋ values on each
// side of every coordinate and so tolerates up to k Byzantine clients.
// Flower's FedTrimmedAvg uses β = 0.2.
func NewTrimmedMeanFraction(beta float64) (*TrimmedMean, error) {
	if !(beta >= 0 && beta < 0.5) {
		return nil, fmt.Errorf("%w: trimmed-mean: beta %v, want 0 <= beta < 0.5", ErrStrategyConfig, beta)
	}
	return &TrimmedMean{beta: beta}, nil
}

// Name returns "trimmed-mean".
func (*TrimmedMean) Name() string { return "trimmed-mean" }

// Trim returns the number of values dropped on each side of a coordinate
// when n updates are aggregated.
func (a *TrimmedMean) Trim(n int) int {
	if a.beta < 0 {
		return a.k
	}
	return int(math.Floor(a.beta * float64(n)))
}

// Aggregate writes the coordinate-wise trimmed mean of updates into dst.
// It returns an error wrapping [ErrByzantineBound] if n < 2k+1, and
// [ErrInvalidUpdate] or [ErrInvalidWeight] for bad inputs. The updates are
// not modified.
func (a *TrimmedMean) Aggregate(dst []float64, updates [][]float64, weights []float64) error {
	if err := aggCheckInputs(a.Name(), dst, updates, weights); err != nil {
		return err
	}
	n := len(updates)
	k := a.Trim(n)
	if err := aggCheckBound(a.Name(), n, k, 2, 1); err != nil {
		return err
	}
	buf := make([]float64, aggColBlock*n)
	aggColumns(len(dst), updates, buf, func(j int, col []float64) {
		if k > 0 {
			aggSelectKth(col, k)
			aggSelectKth(col[k:], n-2*k)
		}
		dst[j] = aggMean(col[k : n-k])
	})
	return nil
}

// Krum is Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui and
// Stainer, "Machine Learning with Adversaries: Byzantine Tolerant Gradient
// Descent", NeurIPS 2017). Each update i gets the score
//
//	s(i) = Σ ‖u_i − u_j‖² over the n−f−2 updates j ≠ i closest to u_i,
//
// and Krum returns the update with the lowest score; Multi-Krum returns
// the plain mean of the m updates with the lowest scores. Both need
// n ≥ 2f+3. Ties are broken by the lower client index, so the result is
// deterministic. Scoring costs O(n²·d) time and O(n²) memory. Weights are
// checked and ignored. Krum is safe for concurrent use.
type Krum struct{ f, m int }

// NewKrum returns Krum tolerating f ≥ 0 Byzantine clients.
func NewKrum(f int) (*Krum, error) { return NewMultiKrum(f, 1) }

// NewMultiKrum returns Multi-Krum tolerating f ≥ 0 Byzantine clients and
// averaging the m ≥ 1 best-scored updates; Aggregate requires m ≤ n−f, so
// that the average can be made of honest updates only. m = 1 is Krum.
func NewMultiKrum(f, m int) (*Krum, error) {
	if f < 0 || m < 1 {
		return nil, fmt.Errorf("%w: krum: f=%d, m=%d, want f >= 0 and m >= 1", ErrStrategyConfig, f, m)
	}
	return &Krum{f: f, m: m}, nil
}

// Name returns "krum", or "multi-krum" when m > 1.
func (a *Krum) Name() string {
	if a.m > 1 {
		return "multi-krum"
	}
	return "krum"
}

// Select returns the indices of the m updates Krum selects, best score
// first. It returns an error wrapping [ErrByzantineBound] if n < 2f+3 or
// m > n−f, and [ErrInvalidUpdate] if the updates differ in length or hold
// a non-finite value.
func (a *Krum) Select(updates [][]float64) ([]int, error) {
	var d int
	if len(updates) > 0 {
		d = len(updates[0])
	}
	if err := aggCheckInputs(a.Name(), make([]float64, d), updates, nil); err != nil {
		return nil, err
	}
	return a.selectChecked(updates)
}

func (a *Krum) selectChecked(updates [][]float64) ([]int, error) {
	n := len(updates)
	if err := aggCheckBound(a.Name(), n, a.f, 2, 3); err != nil {
		return nil, err
	}
	if a.m > n-a.f {
		return nil, fmt.Errorf("%w: %s averages m=%d updates, more than n-f=%d for n=%d, f=%d", ErrByzantineBound, a.Name(), a.m, n-a.f, n, a.f)
	}
	dist := aggPairwiseSqDist(updates)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	scores := aggKrumScores(dist, n, all, n-a.f-2)
	order := aggRankByScore(all, scores)
	return order[:a.m], nil
}

// Aggregate writes the Krum (or Multi-Krum) aggregate into dst. Errors are
// as for [Krum.Select], plus [ErrInvalidWeight] for bad weights. The
// updates are not modified.
func (a *Krum) Aggregate(dst []float64, updates [][]float64, weights []float64) error {
	if err := aggCheckInputs(a.Name(), dst, updates, weights); err != nil {
		return err
	}
	sel, err := a.selectChecked(updates)
	if err != nil {
		return err
	}
	clear(dst)
	for _, i := range sel {
		vec.Axpy(dst, 1/float64(len(sel)), updates[i])
	}
	return aggCheckOutput(a.Name(), dst)
}

// aggDistBlock is the number of coordinates aggPairwiseSqDist handles at a
// time: 100 updates × 512 coordinates × 8 bytes = 400 KiB stay in cache
// while all pairs are compared on them.
const aggDistBlock = 512

// aggPairwiseSqDist returns the n×n matrix of squared Euclidean distances
// between the updates, row-major.
func aggPairwiseSqDist(updates [][]float64) []float64 {
	n := len(updates)
	dist := make([]float64, n*n)
	var d int
	if n > 0 {
		d = len(updates[0])
	}
	for j0 := 0; j0 < d; j0 += aggDistBlock {
		j1 := min(j0+aggDistBlock, d)
		for i := range n {
			ui := updates[i][j0:j1]
			for k := i + 1; k < n; k++ {
				dist[i*n+k] += aggSqDist(ui, updates[k][j0:j1])
			}
		}
	}
	for i := range n {
		for k := i + 1; k < n; k++ {
			dist[k*n+i] = dist[i*n+k]
		}
	}
	return dist
}

// aggSqDist returns ‖x − y‖² for slices of equal length, with four partial
// sums so that the loop is not bound by the latency of one addition.
func aggSqDist(x, y []float64) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		d0, d1, d2, d3 := x[j]-y[j], x[j+1]-y[j+1], x[j+2]-y[j+2], x[j+3]-y[j+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; j < len(x); j++ {
		d := x[j] - y[j]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// aggKrumScores returns, for each index in set, the sum of its k smallest
// squared distances to the other members of set (k is clamped to
// [1, len(set)−1]; a set of one scores 0). dist is n×n.
func aggKrumScores(dist []float64, n int, set []int, k int) []float64 {
	scores := make([]float64, len(set))
	aggKrumScoresInto(scores, make([]float64, 0, len(set)), dist, n, set, k)
	return scores
}

// aggKrumScoresInto is aggKrumScores writing into scores (len(set)) with row
// (capacity len(set)) as scratch space.
func aggKrumScoresInto(scores, row, dist []float64, n int, set []int, k int) {
	k = min(max(k, 1), len(set)-1)
	for a, i := range set {
		row = row[:0]
		for _, j := range set {
			if j != i {
				row = append(row, dist[i*n+j])
			}
		}
		aggSelectKth(row, k)
		var s float64
		for _, x := range row[:k] {
			s += x
		}
		scores[a] = s
	}
}

// aggRankByScore returns set ordered by increasing score, ties by index.
func aggRankByScore(set []int, scores []float64) []int {
	pos := make([]int, len(set))
	for a := range pos {
		pos[a] = a
	}
	slices.SortFunc(pos, func(a, b int) int {
		if c := cmp.Compare(scores[a], scores[b]); c != 0 {
			return c
		}
		return cmp.Compare(set[a], set[b])
	})
	out := make([]int, len(set))
	for r, a := range pos {
		out[r] = set[a]
	}
	return out
}

// Bulyan is the aggregation rule of El Mhamdi, Guerraoui and Rouault, "The
// Hidden Vulnerability of Distributed Learning in Byzantium", ICML 2018,
// with Krum as its selection rule:
//
//  1. select θ = n−2f updates by applying Krum repeatedly, each time to
//     the updates not yet selected (scores over the max(1, r−f−2) nearest
//     of the r remaining ones), so that no single outlier decides;
//  2. for each coordinate, average the β = θ−2f selected values closest to
//     their median.
//
// It needs n ≥ 4f+3. Step 1 keeps updates far from the honest cluster
// out; step 2 limits, coordinate by coordinate, how far a selected
// Byzantine update that hides a large deviation in a few coordinates can
// pull the result. Weights are
// checked and ignored. Bulyan is safe for concurrent use.
type Bulyan struct{ f int }

// NewBulyan returns Bulyan tolerating f ≥ 0 Byzantine clients.
func NewBulyan(f int) (*Bulyan, error) {
	if f < 0 {
		return nil, fmt.Errorf("%w: bulyan: f=%d, want >= 0", ErrStrategyConfig, f)
	}
	return &Bulyan{f: f}, nil
}

// Name returns "bulyan".
func (*Bulyan) Name() string { return "bulyan" }

// Aggregate writes the Bulyan aggregate into dst. It returns an error
// wrapping [ErrByzantineBound] if n < 4f+3, and [ErrInvalidUpdate] or
// [ErrInvalidWeight] for bad inputs. The updates are not modified.
func (a *Bulyan) Aggregate(dst []float64, updates [][]float64, weights []float64) error {
	if err := aggCheckInputs(a.Name(), dst, updates, weights); err != nil {
		return err
	}
	n := len(updates)
	if err := aggCheckBound(a.Name(), n, a.f, 4, 3); err != nil {
		return err
	}
	theta := n - 2*a.f
	sel := a.selectIterated(updates, theta)
	chosen := make([][]float64, theta)
	for r, i := range sel {
		chosen[r] = updates[i]
	}
	beta := theta - 2*a.f
	buf := make([]float64, aggColBlock*theta)
	aggColumns(len(dst), chosen, buf, func(j int, col []float64) {
		slices.Sort(col)
		dst[j] = aggMean(aggClosestToMedian(col, beta))
	})
	return nil
}

// selectIterated returns theta indices chosen by repeated Krum.
func (a *Bulyan) selectIterated(updates [][]float64, theta int) []int {
	n := len(updates)
	dist := aggPairwiseSqDist(updates)
	rest := make([]int, n)
	for i := range rest {
		rest[i] = i
	}
	sel := make([]int, 0, theta)
	scores := make([]float64, n)
	row := make([]float64, 0, n)
	for len(sel) < theta {
		aggKrumScoresInto(scores[:len(rest)], row, dist, n, rest, len(rest)-a.f-2)
		best := 0 // lowest score, ties to the lower client index (rest is ascending)
		for r := 1; r < len(rest); r++ {
			if scores[r] < scores[best] {
				best = r
			}
		}
		sel = append(sel, rest[best])
		rest = slices.Delete(rest, best, best+1)
	}
	return sel
}

// aggClosestToMedian returns the contiguous window of the sorted slice c
// holding the beta values closest to its median.
func aggClosestToMedian(c []float64, beta int) []float64 {
	med := aggSortedMedian(c)
	lo := sort.SearchFloat64s(c, med)
	hi := lo
	for hi-lo < beta {
		switch {
		case lo == 0:
			hi++
		case hi == len(c):
			lo--
		case med-c[lo-1] <= c[hi]-med:
			lo--
		default:
			hi++
		}
	}
	return c[lo:hi]
}

// NormBoundConfig configures [NormBound].
type NormBoundConfig struct {
	// Bound is the largest L2 norm an update keeps; longer updates are
	// scaled down to it. Required: finite and > 0. Pick it near the norm
	// of typical honest updates (for example a quantile of past rounds'
	// norms), so that honest updates are rarely clipped.
	Bound float64
	// MaxWeight caps each client's weight before averaging, so that a
	// client cannot buy influence by claiming many examples. Zero means no
	// cap; otherwise finite and > 0.
	MaxWeight float64
}

// NormBound is norm bounding (Sun, Kairouz, Suresh and McMahan, "Can You
// Really Backdoor Federated Learning?", 2019): each update is clipped to
// L2 norm at most Bound, then the clipped updates are averaged with the
// clients' weights (capped at MaxWeight when set). It has no condition on
// n and f: it does not exclude anyone but bounds everyone. If Byzantine
// clients hold a share ρ of the (capped) total weight, the aggregate is
// within ρ·(Bound + ‖μ‖) of μ, the weighted mean of the honest clipped
// updates; a sign-flipped update that is already within the bound is not
// weakened at all. Unlike the other robust aggregators it composes with
// secure aggregation, since each client can clip its own update before
// masking (the weight cap then has to hold on the client side as well).
// NormBound is safe for concurrent use.
type NormBound struct{ c NormBoundConfig }

// NewNormBound checks c and returns the norm-bounding aggregator.
func NewNormBound(c NormBoundConfig) (*NormBound, error) {
	if !(c.Bound > 0) || math.IsInf(c.Bound, 1) {
		return nil, fmt.Errorf("%w: norm-bound: bound %v, want finite and > 0", ErrStrategyConfig, c.Bound)
	}
	if !(c.MaxWeight >= 0) || math.IsInf(c.MaxWeight, 1) {
		return nil, fmt.Errorf("%w: norm-bound: max weight %v, want finite and >= 0", ErrStrategyConfig, c.MaxWeight)
	}
	return &NormBound{c: c}, nil
}

// Name returns "norm-bound".
func (*NormBound) Name() string { return "norm-bound" }

// Aggregate writes the weighted mean of the clipped updates into dst. It
// returns an error wrapping [ErrInvalidUpdate] or [ErrInvalidWeight] for
// bad inputs (including weights whose capped sum is zero). The updates are
// not modified.
func (a *NormBound) Aggregate(dst []float64, updates [][]float64, weights []float64) error {
	if err := aggCheckInputs(a.Name(), dst, updates, weights); err != nil {
		return err
	}
	w := make([]float64, len(updates))
	var total float64
	for i := range updates {
		w[i] = aggWeight(weights, i)
		if a.c.MaxWeight > 0 {
			w[i] = min(w[i], a.c.MaxWeight)
		}
		total += w[i]
	}
	if total == 0 || math.IsInf(total, 1) {
		return fmt.Errorf("%w: %s: the weights sum to %v", ErrInvalidWeight, a.Name(), total)
	}
	clear(dst)
	for i, u := range updates {
		if w[i] == 0 {
			continue
		}
		f := 1.0
		if nrm := vec.Norm2(u); nrm > a.c.Bound {
			f = a.c.Bound / nrm
		}
		vec.Axpy(dst, w[i]/total*f, u)
	}
	return aggCheckOutput(a.Name(), dst)
}

// Compile-time checks that the aggregators satisfy the interface.
var (
	_ Aggregator = WeightedMean{}
	_ Aggregator = (*Median)(nil)
	_ Aggregator = (*TrimmedMean)(nil)
	_ Aggregator = (*Krum)(nil)
	_ Aggregator = (*Bulyan)(nil)
	_ Aggregator = (*NormBound)(nil)
)
