package dp

import (
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
)

// This file implements the exact samplers of the discrete Gaussian and the
// discrete Laplace distribution on the integers, for a real parameter that
// is a float64 (σ for the Gaussian, b for the Laplace), with probabilities
//
//	Gaussian: P(x) ∝ exp(-x²/(2σ²)),  Laplace: P(x) ∝ exp(-|x|/b),  x ∈ ℤ.
//
// # Method
//
// Rejection sampling from a proposal whose probabilities are integers, so
// that the proposal can be sampled exactly from random bits (Devroye 1986,
// ch. II.3, with the acceptance test made exact as in Canonne, Kamath and
// Steinke 2020, "CKS20"). Write f(x) = exp(-γ(x)) for x ≥ 0.
//
//   - Body: [0, x0) with x0 = 16·t (t a power of two near the scale) is cut
//     into at most 512 steps of a power-of-two width w. Step k gets an
//     integer height H_k ≥ S·f(k·w), a certified upper bound on the target
//     scaled by a constant S (a float64).
//   - Tail: x ≥ x0 gets the proposal T·2^-(v-16) on the block [v·t, (v+1)·t),
//     which dominates S·f because f(v·t)·2^v is non-increasing for v ≥ 16.
//   - The heights of all steps, the tail mass and a "reject" remainder are
//     integers summing to 2^25, laid out in a Walker–Vose alias table of 1024
//     columns, so 25 random bits pick a step with exactly the right
//     probability.
//   - Within a step the offset is uniform on w (a power of two) and the
//     sign is one bit; x = 0 with a negative sign is rejected so that 0 is
//     not counted twice (as in the discrete Laplace sampler of CKS20), or,
//     with unit steps, the zero step has half weight and keeps both signs.
//   - The candidate x is accepted when V·H_k < S·exp(-γ(x)) for a fresh
//     uniform V (six bits of the first word and a 32-bit half word, or the
//     rest of a second word for steps wider than 2^32). For the discrete
//     Laplace most trials are accepted from V's first six bits alone
//     (quickBits). Otherwise the test is decided in float64 with a
//     certified error margin: first against the cubic bracket 1-y+y²/2-y³/6 ≤ exp(-y) ≤
//     1-y+y²/2 of the in-step factor, then, in the rare case the bracket is
//     too wide, with a degree-12 polynomial; the case still undecided (about
//     2^-29) is settled exactly by exactLess, which refines V and exp(-γ)
//     in big-integer arithmetic.
//
// The output is exactly distributed; nothing is truncated. Every trial in
// the body does the same work whatever x is: one read of a uniformly
// random alias column with a branch-free choice of item, one 64-bit word
// (column, sign, threshold, six bits of V and offset) and one 32-bit half
// word (two whole words when the step is wider than 2^32), and the cubic
// bracket of exp(-y), y = γ(x) - γ(k·w) < 1/2, the factor exp(-γ(k·w)) of
// the step being precomputed in pInv; for the discrete Laplace, 92-97% of
// trials are accepted before the half word by one integer comparison
// with a threshold that is the same for every step within nine scales of
// zero (quickBits), so their cost does not depend on the value either.
// The bracket leaves a trial open with probability at most y³/6 (below
// 2^-14 for the Laplace on the float64 grid, where y < 1/16); those trials
// also evaluate expNegStep. The number of trials is independent of
// the accepted value, as in any rejection sampler. Only the tail
// (probability about 10^-14 for the Gaussian, 10^-7 for the Laplace) and
// the exact path do more work.

type noiseKind uint8

const (
	kindGauss noiseKind = iota
	kindLaplace
)

const (
	colBits    = 10
	nCols      = 1 << colBits
	signBit    = 1 << colBits // bit 10 of the first word: the sign
	thrShift   = colBits + 1  // bits 11-25 of the first word: the threshold
	thrWidth   = 15
	colCap     = uint64(1) << thrWidth // the threshold is uniform on [0, 2^15)
	thrBits    = thrWidth + 1          // bits of a packed threshold (≤ colCap)
	quickPos   = thrShift + thrWidth   // bits 26-31: the quick uniform
	offShift   = 32                    // bits 32-63 of the first word: the offset
	tailBlocks = 16                    // x0 = 16·t
	stepsLog   = 5                     // at most 32 steps per block of width t
	fastMargin = 0x1p-30               // relative margin of the float64 acceptance test
	maxParam   = 0x1p50                // largest σ or b accepted in lattice units
	minParam   = 0x1p-20               // smallest σ or b accepted in lattice units
	expFastMax = 700.0                 // float64 path valid for γ up to here
	totalMass  = 1 << 25               // nCols · colCap
)

// table is an immutable, precomputed sampler for one (kind, param) pair.
// It is safe for concurrent use.
type table struct {
	kind  noiseKind
	param float64 // σ or b, exactly as used

	c1, c2 float64 // γ(x) ≈ (x·c2 + c1)·x in float64
	wBits  uint    // log2 of the step width w
	tBits  uint    // log2 of the tail block width t
	wMask  uint64
	nBody  int

	exactOnly bool    // tests only: skip the float64 decision
	zeroHalf  bool    // unit steps: item 0 has half weight and keeps both signs
	wide      bool    // wBits > 32: the offset takes bits of a second word
	accBits   uint    // random bits of the acceptance uniform
	accShift  uint    // accBits - min(accBits, 53)
	cell      float64 // 2^-min(accBits, 53)

	// Alias table, one entry per column. Every draw reads one uniformly
	// random column, and the choice between its two items is branch-free,
	// so neither the cache nor the branch predictor sees which step won.
	cols [nCols]column

	pInv  []float64 // S·exp(-γ(k·w))/H_k
	h     []uint64  // H_k
	tailT uint64    // T
	scale float64   // S

	// Exact γ(x) = x^p · 2^numShift / den, p = 2 (Gaussian) or 1 (Laplace).
	numShift uint
	den      *big.Int
}

// column is one alias-table column: item self with probability thr/2^21,
// otherwise item alias, packed in one word as
//
//	thr | self<<22 | alias<<32 | qSelf<<42 | qAlt<<53,
//
// with pInv of both items alongside (24 bytes; the whole table is 24 KiB
// and stays in the L1 cache). qSelf and qAlt are the items' quick
// thresholds (see quickBits).
type column struct {
	meta        uint64
	pSelf, pAlt float64 // pInv of self and alias (0 for non-body items)
}

func packColumn(thr uint64, self, alias int, q []uint64) uint64 {
	return thr | uint64(self)<<thrBits | uint64(alias)<<(thrBits+colBits) |
		q[self]<<qShift | q[alias]<<(qShift+quickBits)
}

// quickBits is the width of a quick threshold Q_k. The first word of a
// trial carries the first six bits of its acceptance uniform V; for the
// discrete Laplace on steps of at most 2^32, a trial of step k whose six
// bits are below Q_k is accepted at once, without drawing the rest of V,
// because Q_k/2^6 is at most the smallest acceptance probability in the
// step, that of its last value, S·exp(-γ((k+1)·w - 1))/H_k (with the
// 2^-30 margin). That probability is the same for every step up to the
// rounding of H_k (the Laplace is memoryless), about exp(-w/b) ≥
// exp(-1/16). All steps get one 64th less than step 0's threshold, or
// their own if lower, which happens only where H_k is small, beyond nine
// scales from zero (probability e^-9): so 92-97% of trials are decided by
// one integer comparison and one random word, with the same chance
// whatever the value drawn; the rest draw 32 more bits of V and go
// through the bracket. Gaussian and wide tables have Q_k = 0.
const (
	quickBits = 6
	qShift    = thrBits + 2*colBits
)

func (c column) self() int  { return int(c.meta>>thrBits) & (nCols - 1) }
func (c column) alias() int { return int(c.meta>>(thrBits+colBits)) & (nCols - 1) }

// newTable builds the sampler for a parameter in [minParam, maxParam].
func newTable(kind noiseKind, param float64) *table {
	t := &table{kind: kind, param: param}
	j := math.Ilogb(param)
	switch kind {
	case kindGauss:
		// t ≤ σ < 2t, so x0 = 16t ≥ 8σ and f(vt)2^v decreases for v ≥ 16.
		t.c2 = 1 / (2 * param * param)
	case kindLaplace:
		// t ≥ b, so exp(-t/b) ≤ 1/2 and the tail proposal dominates.
		if math.Ldexp(1, j) < param {
			j++
		}
		t.c1 = 1 / param
	}
	if j < 0 {
		j = 0
	}
	t.tBits = uint(j)
	t.wBits = 0
	if j > stepsLog {
		t.wBits = uint(j - stepsLog)
	}
	t.wMask = 1<<t.wBits - 1
	// Up to 2^32-wide steps the offset fits in the first word and the
	// acceptance uniform is six bits of it and a 32-bit half word; the
	// float64 test then leaves about 2^-38 of trials undecided. Wider steps (integer
	// parameters above 2^37) take the offset's high bits and the
	// acceptance uniform from a second word, leaving it 96 - wBits ≥ 51
	// bits.
	t.accBits = quickBits + 32
	if t.wBits > 32 {
		t.wide, t.accBits = true, 96-t.wBits
	}
	cb := min(t.accBits, 53)
	t.accShift = t.accBits - cb
	t.cell = math.Ldexp(1, -int(cb))
	x0 := int64(tailBlocks) << t.tBits
	t.nBody = int(x0 >> t.wBits)

	// Exact rational form of γ.
	frac, e := math.Frexp(param)
	m := new(big.Int).SetUint64(uint64(math.Ldexp(frac, 53)))
	e -= 53 // param = m·2^e
	t.den = new(big.Int)
	switch kind {
	case kindGauss: // γ = x²/(2 m² 2^{2e})
		t.den.Mul(m, m)
		t.den.Lsh(t.den, 1)
		if e >= 0 {
			t.den.Lsh(t.den, uint(2*e))
		} else {
			t.numShift = uint(-2 * e)
		}
	case kindLaplace: // γ = x/(m 2^e)
		t.den.Set(m)
		if e >= 0 {
			t.den.Lsh(t.den, uint(e))
		} else {
			t.numShift = uint(-e)
		}
	}

	// Step heights: f at each step start, then scale so that the integer
	// heights nearly fill the table.
	fk := make([]float64, t.nBody)
	var sum float64
	for k := range fk {
		fk[k] = math.Exp(-t.gamma(int64(k) << t.wBits))
		sum += fk[k]
	}
	tailUnits := float64(int64(2) << (t.tBits - t.wBits)) // 2t/w
	fx0 := math.Exp(-t.gamma(x0))
	// With unit steps, x = 0 gets half the proposal weight and both signs,
	// instead of full weight and a rejected negative sign (which wastes
	// P(0)/2 of all trials at small parameters).
	t.zeroHalf = t.wBits == 0
	if t.zeroHalf {
		fk[0] /= 2
		sum -= fk[0]
	}
	t.scale = float64(totalMass) * (1 - 0x1p-7) / (sum + tailUnits*fx0)
	up := func(v float64) uint64 { return uint64(math.Ceil(t.scale*v*(1+fastMargin))) + 1 }
	w := make([]uint64, nCols)
	var tot uint64
	t.h = make([]uint64, t.nBody)
	t.pInv = make([]float64, t.nBody)
	for k := range fk {
		t.h[k] = up(fk[k])
		// exp(-γ(x)) = exp(-γ(k·w))·exp(-δ) for x = k·w + u, so that the
		// acceptance test needs only exp(-δ), δ = γ(x) - γ(k·w) < 1/2
		// (see bodyProb). γ(k·w) ≤ expFastMax = 700 has absolute error
		// below 700·2^-52 < 2^-42 and math.Exp errs below one ulp, so pInv
		// is within a relative 2^-41.9 of the truth.
		t.pInv[k] = 0
		if g := t.gamma(int64(k) << t.wBits); g <= expFastMax {
			t.pInv[k] = t.scaleOf(k) / float64(t.h[k]) * math.Exp(-g)
		}
		w[k] = t.h[k]
		tot += w[k]
	}
	t.tailT = up(fx0)
	w[t.nBody] = t.tailT * uint64(2) << (t.tBits - t.wBits)
	tot += w[t.nBody]
	if tot >= totalMass {
		panic("dp: internal error: proposal table overfull")
	}
	rest := uint64(totalMass) - tot
	nRej := uint64(nCols - t.nBody - 1)
	for i := t.nBody + 1; i < nCols; i++ {
		w[i] = rest / nRej
	}
	w[nCols-1] += rest % nRej
	t.buildAlias(w)
	return t
}

// buildAlias lays out integer weights summing to nCols·colCap in a
// Walker–Vose alias table, in exact integer arithmetic.
func (t *table) buildAlias(w []uint64) {
	q := t.quickThresholds()
	small := make([]int, 0, nCols)
	large := make([]int, 0, nCols)
	for i, v := range w {
		if v < colCap {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		t.cols[s] = column{meta: packColumn(w[s], s, l, q)}
		w[l] -= colCap - w[s]
		if w[l] < colCap {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		if w[i] != colCap {
			panic("dp: internal error: alias table does not balance")
		}
		t.cols[i] = column{meta: packColumn(colCap, i, i, q)}
	}
	for i := range t.cols {
		c := &t.cols[i]
		if c.self() < t.nBody {
			c.pSelf = t.pInv[c.self()]
		}
		if c.alias() < t.nBody {
			c.pAlt = t.pInv[c.alias()]
		}
	}
}

// quickThresholds returns Q_k for every alias item (see quickBits).
func (t *table) quickThresholds() []uint64 {
	q := make([]uint64, nCols)
	if t.kind != kindLaplace || t.wide {
		return q
	}
	for k := range t.nBody {
		g := t.gamma(int64(k+1)<<t.wBits - 1)
		if g > expFastMax {
			continue
		}
		// math.Exp errs below one ulp and γ by a relative 2^-50; the
		// margin 2^-30 covers both, and the floor rounds down.
		pMin := t.scaleOf(k) / float64(t.h[k]) * math.Exp(-g) * (1 - fastMargin)
		q[k] = min(uint64(math.Floor(pMin*(1<<quickBits))), 1<<quickBits-1)
	}
	// One 64th below the first step's threshold for all steps that allow
	// it, so that the rounding of H_k cannot change the chance of the quick
	// path between steps except far out in the tail, where H_k is small.
	if qc := q[0]; qc > 0 {
		for k := range t.nBody {
			q[k] = min(q[k], qc-1)
		}
	}
	return q
}

// scaleOf returns the target scale of body item k: S, or S/2 for the
// half-weight zero item. Both are exact float64 values.
func (t *table) scaleOf(k int) float64 {
	if k == 0 && t.zeroHalf {
		return t.scale / 2
	}
	return t.scale
}

// gamma returns γ(x) in float64, with relative error below 2^-50.
func (t *table) gamma(x int64) float64 {
	xf := float64(x)
	return (xf*t.c2 + t.c1) * xf
}

// gammaExact returns γ(x) = num/den exactly.
func (t *table) gammaExact(x int64) (num, den *big.Int) {
	num = new(big.Int).SetInt64(x)
	if t.kind == kindGauss {
		num.Mul(num, num)
	}
	num.Lsh(num, t.numShift)
	return num, t.den
}

// stream is a source of random words for sample; spare holds the unused
// high half of a word whose low half was an acceptance uniform.
type stream struct {
	r     *rand.ChaCha8
	spare uint64
	has   bool
}

// sample returns one exact draw.
func (t *table) sample(s *stream) int64 {
	var z [1]int64
	t.fill(z[:], s)
	return z[0]
}

// fill sets every element of out to an independent exact draw. Each trial
// reads one 64-bit word and, for a body candidate not accepted by the
// quick threshold, a 32-bit half word: 1.5 words on average for the
// Gaussian, about 1.05 for the Laplace. Vector callers fill a buffer at a
// time, so the trial loop runs without a call per sample.
func (t *table) fill(out []int64, s *stream) {
	for i := 0; i < len(out); {
		// Word 1: column (bits 0-9), sign (bit 10), threshold (bits 11-25),
		// the first six bits of the acceptance uniform (26-31), offset in
		// the step (bits 32-63, the low wBits of them used).
		w1 := s.r.Uint64()
		c := &t.cols[w1&(nCols-1)]
		// lt = 1 if the threshold is below thr, else 0, without a branch
		// (both are below 2^63).
		meta := c.meta
		lt := ((w1>>thrShift)&(colCap-1) - meta&(1<<thrBits-1)) >> 63
		m := -lt
		self, alias := (meta>>thrBits)&(nCols-1), (meta>>(thrBits+colBits))&(nCols-1)
		it := alias ^ ((self ^ alias) & m)
		qs, qa := (meta>>qShift)&(1<<quickBits-1), (meta>>(qShift+quickBits))&(1<<quickBits-1)
		quick := qa ^ ((qs ^ qa) & m)
		pa, ps := math.Float64bits(c.pAlt), math.Float64bits(c.pSelf)
		pi := math.Float64frombits(pa ^ ((ps ^ pa) & m))
		neg := w1&signBit != 0
		if int(it) >= t.nBody {
			if int(it) == t.nBody {
				if x, ok := t.tail(s.r, neg); ok {
					out[i] = x
					i++
				}
			}
			continue // reject item
		}
		var x int64
		var acc uint64
		var ok, sure bool
		if !t.wide {
			x = int64(it)<<t.wBits | int64(w1>>offShift&t.wMask)
			// The first six bits of V are in the first word: enough to
			// accept most Laplace trials (quickBits).
			q6 := (w1 >> quickPos) & (1<<quickBits - 1)
			ok = q6 < quick && !t.exactOnly
			sure = ok
			if !ok {
				// The next 32 bits of V: a half word, the other half kept
				// for the next trial that needs one.
				var h uint64
				if s.has {
					h, s.has = s.spare, false
				} else {
					w := s.r.Uint64()
					h, s.spare, s.has = w&(1<<32-1), w>>32, true
				}
				acc = q6<<32 | h
			}
		} else {
			w2 := s.r.Uint64()
			hb := t.wBits - 32
			x = int64(it)<<t.wBits | int64(w2&(1<<hb-1))<<32 | int64(w1>>offShift)
			acc = w2 >> hb
		}
		if !sure {
			u := x & int64(t.wMask)
			y := float64(u) * (float64(2*x-u)*t.c2 + t.c1)
			a := float64(int64(acc>>t.accShift)) * t.cell
			if ok, sure = t.bracket(pi, y, a); !sure {
				ok = t.decide(s.r, pi, acc, x, int(it))
			}
		}
		if !ok || (x == 0 && neg && !t.zeroHalf) {
			continue
		}
		if neg {
			x = -x
		}
		out[i] = x
		i++
	}
}

// bracket decides most body acceptance tests V < pi·exp(-y), where
// y = γ(x) - γ(k·w) (see bodyProb) and a = V rounded down to a multiple of
// cell (V < a + cell), from the bracket
// 1 - y + y²/2 - y³/6 ≤ exp(-y) ≤ 1 - y + y²/2 (y ≥ 0, alternating Taylor
// series), whose width y³/6 is tiny for the typical y. It returns
// (accept, true) when the bracket settles the test with the certified
// margin, and (false, false) otherwise.
func (t *table) bracket(pi, y, a float64) (ok, sure bool) {
	y3 := y * y * y * (1.0 / 6)
	lo := pi * ((1 - y) + (y*y*0.5 - y3))
	if a+t.cell < lo*(1-fastMargin) {
		return !t.exactOnly, !t.exactOnly
	}
	return false, a > (lo+pi*y3)*(1+fastMargin) && !t.exactOnly
}

// decide settles a body acceptance test that the cubic bracket left open:
// with the degree-12 exp in float64 when its error bound allows, otherwise
// exactly.
func (t *table) decide(r *rand.ChaCha8, pi float64, acc uint64, x int64, it int) bool {
	if ok, sure := t.decideFloat(pi, acc, x); sure {
		return ok
	}
	num, den := t.gammaExact(x)
	return exactLess(r, acc, t.accBits, t.h[it], t.scaleOf(it), num, den)
}

// decideFloat is the float64 test V < pi·exp(-y) with the degree-12 exp
// (relative error below 2^-41 in all, against the margin 2^-30).
func (t *table) decideFloat(pi float64, acc uint64, x int64) (ok, sure bool) {
	if t.exactOnly {
		return false, false
	}
	p := t.bodyProb(pi, x)
	a := float64(int64(acc>>t.accShift)) * t.cell
	switch {
	case a+t.cell < p*(1-fastMargin):
		return true, true
	case a > p*(1+fastMargin):
		return false, true
	}
	return false, false
}

// tail proposes x ≥ x0 with probability ∝ 2^-(v-16) on block v and accepts
// it with probability S·f(x)·2^(v-16)/T.
func (t *table) tail(r *rand.ChaCha8, neg bool) (int64, bool) {
	g := 0
	for {
		v := r.Uint64()
		if v != 0 {
			g += bits.TrailingZeros64(v)
			break
		}
		g += 64
	}
	w2 := r.Uint64()
	blk := int64(tailBlocks + g)
	if g > 900 || blk > math.MaxInt64>>(t.tBits+1) {
		// Probability below 2^-900: the target mass there underflows
		// every float format; treated as a rejection.
		return 0, false
	}
	x := blk<<t.tBits | int64(w2&(1<<t.tBits-1))
	s := math.Ldexp(t.scale, g)
	u := r.Uint64()
	var ok bool
	gm := t.gamma(x)
	if gm <= expFastMax {
		p := s / float64(t.tailT) * expNegFast(gm)
		a := float64(int64(u>>11)) * 0x1p-53
		switch {
		case a+0x1p-53 < p*(1-fastMargin) && !t.exactOnly:
			ok = true
		case a > p*(1+fastMargin) && !t.exactOnly:
			ok = false
		default:
			num, den := t.gammaExact(x)
			ok = exactLess(r, u, 64, t.tailT, s, num, den)
		}
	} else {
		num, den := t.gammaExact(x)
		ok = exactLess(r, u, 64, t.tailT, s, num, den)
	}
	if !ok {
		return 0, false
	}
	if neg {
		return -x, true
	}
	return x, true
}

// bodyProb returns, within a relative 2^-41, the acceptance probability
// S·exp(-γ(x))/H_k of the body candidate x = k·w + u ≥ 0, given
// pi = pInv[k] = S·exp(-γ(k·w))/H_k: pi·exp(-δ) with
//
//	δ = γ(x) - γ(k·w) = u·((2x-u)·c2 + c1),
//
// which is below 1/2 in the body (w = t/32 and t ≤ σ for the Gaussian,
// t < 2b for the Laplace; δ = 0 for unit steps), and is computed with a
// relative error of a few 2^-53.
func (t *table) bodyProb(pi float64, x int64) float64 {
	u := x & int64(t.wMask)
	return pi * expNegStep(float64(u)*(float64(2*x-u)*t.c2+t.c1))
}
