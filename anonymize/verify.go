package anonymize

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Report holds what [Verify] measured on an output table. Figures refer to
// the output rows; suppressed rows are the input rows missing from it.
type Report struct {
	RowsIn     int
	RowsOut    int
	Suppressed int
	Classes    int
	// KMin is the size of the smallest equivalence class.
	KMin int
	// LDistinct is the fewest distinct sensitive values in a class,
	// LEntropy the smallest exp(entropy) of a class (the entropy l), and
	// RecursiveC the largest r1/(r_l+...+r_m) of a class for the l of the
	// spec (recursive (c,l)-diversity holds iff it is below c). They are
	// zero when no sensitive column is given.
	LDistinct  int
	LEntropy   float64
	RecursiveC float64
	// TMax is the largest earth mover's distance of a class to the input
	// distribution of the sensitive column (only with a t-closeness model).
	TMax float64
	// NCP is the normalized certainty penalty in percent (see the package
	// documentation); suppressed cells count 1.
	NCP float64
	// Discernibility is Σ|E|² over classes plus |suppressed|·RowsIn.
	Discernibility float64
	// CAvg is (RowsOut / Classes) / k.
	CAvg float64
	// NonUniformEntropy is Σ over cells of log2(|rows whose value the
	// output covers| / |rows with the input value|), in bits.
	NonUniformEntropy float64
	// ProsecutorMax and ProsecutorAvg are the largest and the average
	// re-identification probability 1/|E| of a record; SampleUniques is
	// the fraction of output rows alone in their class.
	ProsecutorMax, ProsecutorAvg, SampleUniques float64
}

// Verify checks an anonymized output against its input and spec using the
// output alone for every privacy figure: it groups the output rows by
// their quasi-identifier values, recomputes the class sizes, l (each
// kind), t and the metrics, and it checks that every output row is an
// input row, in order, with only its quasi-identifiers generalized to a
// value that covers the original (so no row was lost beyond the
// suppression limit, altered, or invented). It returns the report and,
// when the output does not meet spec, an error wrapping [ErrVerify] that
// names every violation, among them a column left unchanged that is
// functionally dependent on a QI (see [DependentColumns]; wraps
// [ErrDependent] too) unless spec.KeepDependent is set.
//
// A nil in or out is an error wrapping [ErrInput].
func Verify(in, out *Table, spec Spec) (*Report, error) {
	c, err := compile(in, spec, false)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("%w: nil output table", ErrInput)
	}
	d := len(c.qcol)
	rep := &Report{RowsIn: in.Rows(), RowsOut: out.Rows()}
	// Columns: the output must hold the input columns minus identifiers.
	ids := map[string]bool{}
	for _, s := range spec.Identifiers {
		ids[s] = true
	}
	var want []string
	for _, col := range in.cols {
		if !ids[col.Name] {
			want = append(want, col.Name)
		}
	}
	if got := out.Names(); !slices.Equal(got, want) {
		return nil, fmt.Errorf("%w: output columns %v, want %v", ErrVerify, got, want)
	}
	isQI := make([]int, len(in.cols))
	for j := range isQI {
		isQI[j] = -1
	}
	for q, j := range c.qcol {
		isQI[j] = q
	}
	// Per plain column: output code → input code (-1 if absent).
	var plains []plain
	for _, col := range in.cols {
		if ids[col.Name] || isQI[in.Index(col.Name)] >= 0 {
			continue
		}
		oc := out.cols[out.Index(col.Name)]
		m := make([]int32, len(oc.Dict))
		for k, s := range oc.Dict {
			if ic, ok := col.Lookup(s); ok {
				m[k] = ic
			} else {
				m[k] = -1
			}
		}
		plains = append(plains, plain{col, oc, m})
	}
	// Per QI: decode every output label once.
	gens := make([]*genCol, d)
	for q, j := range c.qcol {
		oc := out.cols[out.Index(in.cols[j].Name)]
		g, err := c.decodeLabels(q, in.cols[j], oc)
		if err != nil {
			return nil, err
		}
		gens[q] = g
	}
	// Row conservation by greedy in-order matching.
	match := make([]int32, out.Rows()) // output row → input row
	i := 0
	for o := 0; o < out.Rows(); o++ {
		for ; i < in.Rows(); i++ {
			if rowMatches(i, o, plains, gens, c) {
				break
			}
		}
		if i == in.Rows() {
			return rep, fmt.Errorf("%w: output row %d is not a generalization of any remaining input row (altered, reordered or invented)", ErrVerify, o+1)
		}
		match[o] = int32(i)
		i++
	}
	rep.Suppressed = in.Rows() - out.Rows()
	// Classes from the output QI codes.
	cls := make([]int32, out.Rows())
	keys := map[string]int32{}
	kb := make([]byte, 4*d)
	var sizes []int
	var first []int
	for o := range cls {
		for q := range gens {
			v := gens[q].out.Codes[o]
			kb[4*q], kb[4*q+1], kb[4*q+2], kb[4*q+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
		id, ok := keys[string(kb)]
		if !ok {
			id = int32(len(sizes))
			keys[string(kb)] = id
			sizes = append(sizes, 0)
			first = append(first, o)
		}
		sizes[id]++
		cls[o] = id
	}
	rep.Classes = len(sizes)
	var problems []error
	if rep.Classes > 0 {
		rep.KMin = math.MaxInt
		worst := 0
		for id, s := range sizes {
			if s < rep.KMin {
				rep.KMin, worst = s, id
			}
		}
		if rep.KMin < spec.K {
			problems = append(problems, fmt.Errorf("the class of output row %d has %d rows, below k = %d", first[worst]+1, rep.KMin, spec.K))
		}
	}
	limit := int(math.Floor(spec.Suppression*float64(in.Rows()) + eps))
	if rep.Suppressed > limit {
		problems = append(problems, fmt.Errorf("%d rows suppressed, above the limit of %d (%v of %d)", rep.Suppressed, limit, spec.Suppression, in.Rows()))
	}
	// Sensitive figures.
	if c.scol >= 0 && rep.Classes > 0 {
		m := c.nsens
		hist := make([]int32, rep.Classes*m)
		for o, id := range cls {
			hist[int(id)*m+int(c.sens[match[o]])]++
		}
		rep.LDistinct = math.MaxInt
		rep.LEntropy = math.Inf(1)
		l := 1
		if spec.L != nil {
			l = int(spec.L.L)
		}
		fbuf := make([]float64, m+1)
		worstL, worstT := -1, -1
		for id, s := range sizes {
			h := hist[id*m : (id+1)*m]
			if dd := distinct(h); dd < rep.LDistinct {
				rep.LDistinct = dd
			}
			rep.LEntropy = math.Min(rep.LEntropy, math.Exp(entropy(s, h)))
			if spec.L != nil && spec.L.Kind == RecursiveCL {
				rep.RecursiveC = math.Max(rep.RecursiveC, recursiveC(h, l, fbuf))
			}
			if spec.L != nil && worstL < 0 && !c.model.lOK(s, h, fbuf) {
				worstL = id
			}
			if spec.T != nil {
				e := c.model.emd(s, h, fbuf)
				if e > rep.TMax {
					rep.TMax = e
				}
				if worstT < 0 && e > spec.T.T+eps {
					worstT = id
				}
			}
		}
		if worstL >= 0 {
			problems = append(problems, fmt.Errorf("the class of output row %d is not %s", first[worstL]+1, describeL(spec.L)))
		}
		if worstT >= 0 {
			problems = append(problems, fmt.Errorf("the class of output row %d is farther than t = %v from the table (t achieved %.4f)", first[worstT]+1, spec.T.T, rep.TMax))
		}
	}
	// Metrics.
	n := float64(in.Rows())
	ncp, nue := 0.0, 0.0
	for q, g := range gens {
		inCodes := in.cols[c.qcol[q]].Codes
		for o, oc := range g.out.Codes {
			ncp += g.width[oc]
			nue += math.Log2(float64(g.coveredRows[oc]) / float64(g.freq[inCodes[match[o]]]))
		}
	}
	// Suppressed rows: every cell fully generalized.
	if rep.Suppressed > 0 {
		inRow := make([]bool, in.Rows())
		for _, i := range match {
			inRow[i] = true
		}
		for i, ok := range inRow {
			if ok {
				continue
			}
			for q, g := range gens {
				ncp++
				nue += math.Log2(n / float64(g.freq[in.cols[c.qcol[q]].Codes[i]]))
			}
		}
	}
	rep.NCP = 100 * ncp / (n * float64(d))
	rep.NonUniformEntropy = nue
	for _, s := range sizes {
		rep.Discernibility += float64(s) * float64(s)
	}
	rep.Discernibility += float64(rep.Suppressed) * n
	if rep.Classes > 0 {
		rep.CAvg = float64(rep.RowsOut) / float64(rep.Classes) / float64(spec.K)
		rep.ProsecutorMax = 1 / float64(rep.KMin)
		rep.ProsecutorAvg = float64(rep.Classes) / float64(rep.RowsOut)
		u := 0
		for _, s := range sizes {
			if s == 1 {
				u++
			}
		}
		rep.SampleUniques = float64(u) / float64(rep.RowsOut)
	}
	if !spec.KeepDependent {
		deps, err := DependentColumns(in, spec)
		if err != nil {
			return nil, err
		}
		if len(deps) > 0 {
			problems = append(problems, &problem{
				msg: "columns left unchanged reveal a quasi-identifier: " + describeDependences(deps),
				err: ErrDependent})
		}
	}
	if len(problems) > 0 {
		return rep, fmt.Errorf("%w: %w", ErrVerify, errors.Join(problems...))
	}
	return rep, nil
}

// problem is one violation found by Verify: its message goes without the
// package prefix (the ErrVerify wrapper carries it) while errors.Is still
// finds the sentinel it wraps.
type problem struct {
	msg string
	err error
}

func (p *problem) Error() string { return p.msg }
func (p *problem) Unwrap() error { return p.err }

func describeL(l *LDiversity) string {
	switch l.Kind {
	case DistinctL:
		return fmt.Sprintf("distinct %v-diverse", l.L)
	case EntropyL:
		return fmt.Sprintf("entropy %v-diverse", l.L)
	default:
		return fmt.Sprintf("recursive (%v,%v)-diverse", l.C, l.L)
	}
}

// genCol is a decoded generalized QI column of an output table.
type genCol struct {
	out         *Column
	lo, hi      []float64 // Numeric: range of each output code
	rlo, rhi    []int32   // Ordinal: rank range of each output code
	cover       map[uint64]bool
	width       []float64 // NCP of each output code
	coveredRows []int     // input rows covered by each output code
	freq        []int     // input rows with each input code
	inCodes     []int32   // input codes of the QI column
}

// decodeLabels parses every distinct label of output column oc for QI q.
func (c *compiled) decodeLabels(q int, ic, oc *Column) (*genCol, error) {
	g := &genCol{out: oc, width: make([]float64, len(oc.Dict)), coveredRows: make([]int, len(oc.Dict)), freq: make([]int, len(ic.Dict)), inCodes: ic.Codes}
	for _, code := range ic.Codes {
		g.freq[code]++
	}
	bad := func(k int) error {
		row := 0
		for o, v := range oc.Codes {
			if v == int32(k) {
				row = o + 1
				break
			}
		}
		return fmt.Errorf("%w: output row %d, column %q: not a generalized value of this column", ErrVerify, row, oc.Name)
	}
	switch c.kind[q] {
	case Numeric:
		nums := c.num[q]
		pre := c.rankPrefix(q, g.freq)
		g.lo, g.hi = make([]float64, len(oc.Dict)), make([]float64, len(oc.Dict))
		for k, s := range oc.Dict {
			lo, hi, ok := parseNumRange(s)
			if !ok {
				return nil, bad(k)
			}
			g.lo[k], g.hi[k] = lo, hi
			if span := nums[len(nums)-1] - nums[0]; span > 0 {
				g.width[k] = (hi - lo) / span
			}
			a := sort.Search(len(nums), func(i int) bool { return nums[i] >= lo })
			z := sort.Search(len(nums), func(i int) bool { return nums[i] > hi })
			if z < a {
				z = a
			}
			g.coveredRows[k] = pre[z] - pre[a]
		}
	case Ordinal:
		pre := c.rankPrefix(q, g.freq)
		g.rlo, g.rhi = make([]int32, len(oc.Dict)), make([]int32, len(oc.Dict))
		rankOf := func(s string) (int32, bool) {
			code, ok := ic.Lookup(s)
			if !ok {
				return 0, false
			}
			return c.codeRank[q][code], true
		}
		for k, s := range oc.Dict {
			lo, hi, ok := parseOrdRange(s, rankOf)
			if !ok {
				return nil, bad(k)
			}
			g.rlo[k], g.rhi[k] = lo, hi
			if c.nval[q] > 1 {
				g.width[k] = float64(hi-lo) / float64(c.nval[q]-1)
			}
			g.coveredRows[k] = pre[hi+1] - pre[lo]
		}
	default:
		h := c.spec.QIs[q].Hierarchy
		g.cover = map[uint64]bool{}
		for k, s := range oc.Dict {
			covered := 0
			for code, v := range ic.Dict {
				if h.Covers(s, v) {
					covered++
					g.coveredRows[k] += g.freq[code]
					g.cover[uint64(k)<<32|uint64(code)] = true
				}
			}
			if covered == 0 {
				return nil, bad(k)
			}
			if c.nval[q] > 1 {
				g.width[k] = float64(covered-1) / float64(c.nval[q]-1)
			}
		}
	}
	return g, nil
}

// plain is an output column copied unchanged from the input, with the map
// from its output codes to input codes (-1 when absent).
type plain struct {
	in, out *Column
	m       []int32
}

func rowMatches(i, o int, plains []plain, gens []*genCol, c *compiled) bool {
	for _, p := range plains {
		if p.m[p.out.Codes[o]] != p.in.Codes[i] {
			return false
		}
	}
	return covers(i, o, gens, c)
}

func covers(i, o int, gens []*genCol, c *compiled) bool {
	for q, g := range gens {
		oc := g.out.Codes[o]
		inCode := c.codeRank[q][g.inCodes[i]]
		switch c.kind[q] {
		case Numeric:
			v := c.num[q][inCode]
			if v < g.lo[oc] || v > g.hi[oc] {
				return false
			}
		case Ordinal:
			if inCode < g.rlo[oc] || inCode > g.rhi[oc] {
				return false
			}
		default:
			if !g.cover[uint64(oc)<<32|uint64(g.inCodes[i])] {
				return false
			}
		}
	}
	return true
}

// parseNumRange parses "v" or "[lo..hi]".
func parseNumRange(s string) (lo, hi float64, ok bool) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") && len(s) > 2 {
		in := s[1 : len(s)-1]
		for p := strings.Index(in, ".."); p >= 0; {
			a, e1 := strconv.ParseFloat(in[:p], 64)
			b, e2 := strconv.ParseFloat(in[p+2:], 64)
			if e1 == nil && e2 == nil && a <= b {
				return a, b, true
			}
			nx := strings.Index(in[p+1:], "..")
			if nx < 0 {
				break
			}
			p += 1 + nx
		}
		return 0, 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, 0, false
	}
	return v, v, true
}

// parseOrdRange parses "v" or "[a..b]" over the ranks given by rankOf.
func parseOrdRange(s string, rankOf func(string) (int32, bool)) (lo, hi int32, ok bool) {
	if r, ok := rankOf(s); ok {
		return r, r, true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") && len(s) > 2 {
		in := s[1 : len(s)-1]
		for p := 0; p+2 <= len(in); p++ {
			if in[p:p+2] != ".." {
				continue
			}
			a, ok1 := rankOf(in[:p])
			b, ok2 := rankOf(in[p+2:])
			if ok1 && ok2 && a <= b {
				return a, b, true
			}
		}
	}
	return 0, 0, false
}

// rankPrefix returns pre with pre[r] = the number of input rows whose QI q
// value has rank below r.
func (c *compiled) rankPrefix(q int, freq []int) []int {
	byRank := make([]int, c.nval[q])
	for code, r := range c.codeRank[q] {
		byRank[r] += freq[code]
	}
	pre := make([]int, len(byRank)+1)
	for r, f := range byRank {
		pre[r+1] = pre[r] + f
	}
	return pre
}
