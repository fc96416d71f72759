package anonymize

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// MondrianOptions configures [Mondrian]. The zero value is ready to use.
type MondrianOptions struct {
	// Workers bounds the goroutines that split sub-partitions in
	// parallel. Defaults to runtime.GOMAXPROCS(0). The output does not
	// depend on it.
	Workers int
	// Cut is the rule that places the cut on a numeric or ordinal QI.
	// Defaults to BestCut.
	Cut CutRule
	// Reference, when set, is the distribution of the sensitive column
	// that t-closeness compares each class with (value → fraction),
	// instead of the distribution in the table. It is for a table that is
	// one partition of a larger one (see [NewTableDomain]), whose
	// t-closeness refers to the whole. Values absent from it count 0.
	Reference map[string]float64
}

// CutRule selects where [Mondrian] cuts a partition along a numeric or
// ordinal quasi-identifier. Hierarchical QIs always split into the
// children of the lowest common ancestor of their values.
type CutRule int

const (
	// BestCut tries every cut between two consecutive distinct values,
	// the most balanced first, and takes the first whose halves both meet
	// every model. It is the default.
	BestCut CutRule = iota
	// MedianCut is the cut of strict Mondrian as LeFevre, DeWitt and
	// Ramakrishnan (2006) state it and as the reference implementation
	// (qiyuangong/Mondrian, mondrian.py) runs it: the split value is the
	// first value, in order, at which the running count reaches
	// ⌊|P|/2⌋; rows up to it go left, the others right. If a half fails
	// a model (or no value follows the split value) the dimension is not
	// cut and the next widest is tried; no other cut is considered.
	MedianCut
)

func (r CutRule) String() string {
	switch r {
	case BestCut:
		return "best"
	case MedianCut:
		return "median"
	}
	return "CutRule(" + strconv.Itoa(int(r)) + ")"
}

// Result is the output of an anonymization algorithm.
type Result struct {
	// Output is the anonymized table: identifiers removed, quasi-identifiers
	// generalized, suppressed rows removed, other rows in input order.
	Output *Table
	// Classes is the number of equivalence classes (partitions) produced.
	Classes int
	// Suppressed is the number of input rows removed.
	Suppressed int
	// Duration is the time the algorithm took, loading and verification
	// excluded.
	Duration time.Duration
	// Node is the chosen generalization level of every QI (global
	// recoding only).
	Node []int
	// NodesChecked and NodesTotal count lattice nodes (global recoding
	// only).
	NodesChecked, NodesTotal int
}

// span is a run of the row permutation: rows idx[start:end].
type span struct{ start, end int32 }

// Mondrian anonymizes t by strict multidimensional partitioning (LeFevre,
// DeWitt and Ramakrishnan 2006): starting from the whole table it splits a
// partition in two along one quasi-identifier as long as both halves meet
// every model of spec (k-anonymity, l-diversity, t-closeness), then
// generalizes every QI of a final partition to the smallest range or
// hierarchy node covering it. Partitions never overlap.
//
// The dimension tried first is the one of widest normalized range (of the
// partition's own values); with the default [BestCut] the cut is the most
// balanced one whose halves both meet the models (for k alone, the median
// with ties moved to the side that keeps both halves ≥ k), with
// [MedianCut] it is the median cut of the paper or nothing; if no cut on
// that dimension is allowable the next widest is tried. Hierarchical
// QIs split into the children of the lowest common ancestor of their
// values (Basic Mondrian), when every child part meets the models. The work is iterative
// (explicit stacks) and sub-partitions are split in parallel; the result
// is deterministic. A nil opt means the defaults; a nil t is an error
// wrapping [ErrInput].
func Mondrian(t *Table, spec Spec, opt *MondrianOptions) (*Result, error) {
	start := time.Now()
	c, err := compile(t, spec, false)
	if err != nil {
		return nil, err
	}
	workers := runtime.GOMAXPROCS(0)
	cut := BestCut
	if opt != nil {
		if opt.Workers > 0 {
			workers = opt.Workers
		}
		cut = opt.Cut
	}
	if cut != BestCut && cut != MedianCut {
		return nil, fmt.Errorf("%w: unknown cut rule %v", ErrParameter, cut)
	}
	if err := checkDependent(t, spec); err != nil {
		return nil, err
	}
	if opt != nil && opt.Reference != nil && c.scol >= 0 {
		for code, v := range t.cols[c.scol].Dict {
			c.model.q[code] = opt.Reference[v]
		}
	}
	c.buildRanks()
	n := c.n
	hist := make([]int32, c.nsens)
	for _, s := range c.sens {
		hist[s]++
	}
	if !c.model.ok(n, hist, make([]float64, c.nsens+1)) {
		return nil, fmt.Errorf("%w: the whole table of %d rows does not meet the model, so no partition can", ErrUnsatisfiable, n)
	}
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	shared := &mondrianShared{c: c, idx: idx, tmp: make([]int32, n), cut: cut}
	var (
		mu     sync.Mutex
		leaves []span
		wg     sync.WaitGroup
	)
	sem := make(chan struct{}, max(workers-1, 0))
	var run func(s span)
	run = func(s span) {
		w := shared.newWorker()
		stack := []span{s}
		var kids []span
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			kids = w.split(p, kids[:0])
			if len(kids) == 0 {
				w.leaves = append(w.leaves, p)
				continue
			}
			for i := len(kids) - 1; i >= 0; i-- {
				k := kids[i]
				if k.end-k.start >= parallelMin {
					select {
					case sem <- struct{}{}:
						wg.Add(1)
						go func() {
							defer wg.Done()
							run(k)
							<-sem
						}()
						continue
					default:
					}
				}
				stack = append(stack, k)
			}
		}
		mu.Lock()
		leaves = append(leaves, w.leaves...)
		mu.Unlock()
	}
	wg.Add(1)
	go func() { defer wg.Done(); run(span{0, int32(n)}) }()
	wg.Wait()
	slices.SortFunc(leaves, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	out := c.buildOutput(t, leaves, idx)
	return &Result{Output: out, Classes: len(leaves), Duration: time.Since(start)}, nil
}

// parallelMin is the smallest partition handed to another goroutine.
const parallelMin = 2048

type mondrianShared struct {
	c   *compiled
	idx []int32
	tmp []int32 // scratch; partitions use disjoint ranges of it
	cut CutRule
}

type mworker struct {
	*mondrianShared
	lo, hi []int32
	dims   []int
	width  []float64
	cnt    []int32
	vals   []int32
	vcnt   []int32
	shist  []int32 // per distinct value × sensitive code
	left   []int32
	right  []int32
	fbuf   []float64
	sorted []int32
	leaves []span
}

func (s *mondrianShared) newWorker() *mworker {
	d := len(s.c.qcol)
	return &mworker{
		mondrianShared: s,
		lo:             make([]int32, d),
		hi:             make([]int32, d),
		width:          make([]float64, d),
		left:           make([]int32, s.c.nsens),
		right:          make([]int32, s.c.nsens),
		fbuf:           make([]float64, s.c.nsens+1),
	}
}

func (w *mworker) needSens() bool { return w.c.model.l != nil || w.c.model.t != nil }

// split tries to split p; it returns the sub-partitions, or none.
func (w *mworker) split(p span, kids []span) []span {
	c := w.c
	rows := w.idx[p.start:p.end]
	for q := range c.qcol {
		r := c.rank[q]
		lo, hi := r[rows[0]], r[rows[0]]
		for _, i := range rows[1:] {
			v := r[i]
			lo = min(lo, v)
			hi = max(hi, v)
		}
		w.lo[q], w.hi[q] = lo, hi
		w.width[q] = c.normWidth(q, lo, hi)
	}
	w.dims = w.dims[:0]
	for q := range c.qcol {
		if w.width[q] > 0 {
			w.dims = append(w.dims, q)
		}
	}
	slices.SortStableFunc(w.dims, func(a, b int) int { return cmp.Compare(w.width[b], w.width[a]) })
	for _, q := range w.dims {
		if c.kind[q] == Hierarchical {
			if k := w.splitChildren(p, q, kids); len(k) > 0 {
				return k
			}
			continue
		}
		if k := w.splitCut(p, q, kids); len(k) > 0 {
			return k
		}
	}
	return kids
}

// normWidth is the normalized width of [lo, hi] on QI q, the NCP of one
// cell: (hi−lo)/(max−min) for numbers, (covered−1)/(values−1) otherwise.
func (c *compiled) normWidth(q int, lo, hi int32) float64 {
	switch c.kind[q] {
	case Numeric:
		nums := c.num[q]
		span := nums[len(nums)-1] - nums[0]
		if span == 0 {
			return 0
		}
		return (nums[hi] - nums[lo]) / span
	case Ordinal:
		if c.nval[q] < 2 {
			return 0
		}
		return float64(hi-lo) / float64(c.nval[q]-1)
	default:
		if c.nval[q] < 2 {
			return 0
		}
		rt := c.tree[q]
		node := rt.lca(lo, hi)
		return float64(rt.last[node]-rt.first[node]) / float64(c.nval[q]-1)
	}
}

// distinctValues fills w.vals and w.vcnt with the distinct ranks of QI q in
// p (ascending) and their counts, and, when a sensitive model is set,
// w.shist with the sensitive histogram of each.
func (w *mworker) distinctValues(p span, q int) {
	c := w.c
	rows := w.idx[p.start:p.end]
	r := c.rank[q]
	lo, hi := w.lo[q], w.hi[q]
	w.vals, w.vcnt = w.vals[:0], w.vcnt[:0]
	m := c.nsens
	sens := w.needSens()
	if span := int(hi-lo) + 1; span <= 4*len(rows)+64 {
		if cap(w.cnt) < span {
			w.cnt = make([]int32, span)
		}
		cnt := w.cnt[:span]
		clear(cnt)
		for _, i := range rows {
			cnt[r[i]-lo]++
		}
		// slot of each value in vals, reusing cnt after the scan
		for v, n := range cnt {
			if n > 0 {
				w.vals = append(w.vals, lo+int32(v))
				w.vcnt = append(w.vcnt, n)
				cnt[v] = int32(len(w.vals) - 1)
			}
		}
		if sens {
			w.shist = growClear(w.shist, len(w.vals)*m)
			for _, i := range rows {
				w.shist[int(cnt[r[i]-lo])*m+int(c.sens[i])]++
			}
		}
		return
	}
	w.sorted = append(w.sorted[:0], rows...)
	slices.SortFunc(w.sorted, func(a, b int32) int {
		if x := cmp.Compare(r[a], r[b]); x != 0 {
			return x
		}
		return cmp.Compare(a, b)
	})
	for _, i := range w.sorted {
		if len(w.vals) == 0 || w.vals[len(w.vals)-1] != r[i] {
			w.vals = append(w.vals, r[i])
			w.vcnt = append(w.vcnt, 0)
		}
		w.vcnt[len(w.vcnt)-1]++
	}
	if sens {
		w.shist = growClear(w.shist, len(w.vals)*m)
		v := -1
		var last int32 = -1
		for _, i := range w.sorted {
			if v < 0 || r[i] != last {
				v++
				last = r[i]
			}
			w.shist[v*m+int(c.sens[i])]++
		}
	}
}

func growClear(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// splitCut splits p in two along numeric or ordinal QI q at the most
// balanced allowable cut between two consecutive distinct values.
func (w *mworker) splitCut(p span, q int, kids []span) []span {
	c := w.c
	w.distinctValues(p, q)
	nd := len(w.vals)
	if nd < 2 {
		return kids
	}
	size := int(p.end - p.start)
	if w.cut == MedianCut {
		return w.splitMedian(p, q, kids)
	}
	best, bestDiff := -1, 0
	var cum int
	var cands []int
	sens := w.needSens()
	for i := 0; i < nd-1; i++ {
		cum += int(w.vcnt[i])
		if cum < c.spec.K || size-cum < c.spec.K {
			continue
		}
		d := 2*cum - size
		if d < 0 {
			d = -d
		}
		if sens {
			cands = append(cands, i)
			continue
		}
		if best < 0 || d < bestDiff {
			best, bestDiff = i, d
		}
	}
	if sens {
		// prefix sizes again for sorting candidates by balance
		pre := make([]int, nd)
		cum = 0
		for i := 0; i < nd; i++ {
			cum += int(w.vcnt[i])
			pre[i] = cum
		}
		slices.SortStableFunc(cands, func(a, b int) int {
			da, db := 2*pre[a]-size, 2*pre[b]-size
			return cmp.Compare(max(da, -da), max(db, -db))
		})
		// cumulative sensitive histograms: row v holds values 0..v
		m := c.nsens
		for v := 1; v < nd; v++ {
			row, prev := w.shist[v*m:(v+1)*m], w.shist[(v-1)*m:v*m]
			for s := range row {
				row[s] += prev[s]
			}
		}
		total := w.shist[(nd-1)*m : nd*m]
		for _, i := range cands {
			copy(w.left, w.shist[i*m:(i+1)*m])
			for s := range w.right {
				w.right[s] = total[s] - w.left[s]
			}
			if c.model.ok(pre[i], w.left, w.fbuf) && c.model.ok(size-pre[i], w.right, w.fbuf) {
				best = i
				break
			}
		}
	}
	if best < 0 {
		return kids
	}
	return w.partitionAt(p, q, w.vals[best], kids)
}

// splitMedian cuts p along QI q at the median value as [MedianCut] says,
// or returns kids unchanged if that cut is not allowable. w.distinctValues
// has run.
func (w *mworker) splitMedian(p span, q int, kids []span) []span {
	c := w.c
	size := int(p.end - p.start)
	middle := size / 2
	cum, at := 0, -1
	for i, n := range w.vcnt {
		cum += int(n)
		if cum >= middle {
			at = i
			break
		}
	}
	if at < 0 || at == len(w.vals)-1 || cum < c.spec.K || size-cum < c.spec.K {
		return kids
	}
	if w.needSens() {
		m := c.nsens
		clear(w.left)
		clear(w.right)
		for v := range w.vals {
			dst := w.right
			if v <= at {
				dst = w.left
			}
			for s, x := range w.shist[v*m : (v+1)*m] {
				dst[s] += x
			}
		}
		if !c.model.ok(cum, w.left, w.fbuf) || !c.model.ok(size-cum, w.right, w.fbuf) {
			return kids
		}
	}
	return w.partitionAt(p, q, w.vals[at], kids)
}

// partitionAt moves the rows of p whose rank on QI q is at most cut to the
// front and returns kids with the two halves appended.
func (w *mworker) partitionAt(p span, q int, cut int32, kids []span) []span {
	r := w.c.rank[q]
	rows := w.idx[p.start:p.end]
	tmp := w.tmp[p.start:p.end]
	nl, nr := 0, 0
	for _, i := range rows {
		if r[i] <= cut {
			rows[nl] = i
			nl++
		} else {
			tmp[nr] = i
			nr++
		}
	}
	copy(rows[nl:], tmp[:nr])
	mid := p.start + int32(nl)
	return append(kids, span{p.start, mid}, span{mid, p.end})
}

// splitChildren splits p along hierarchical QI q into one part per child
// of the lowest common ancestor, if every part meets the models.
func (w *mworker) splitChildren(p span, q int, kids []span) []span {
	c := w.c
	rt := c.tree[q]
	lvl := rt.levelOf(w.lo[q], w.hi[q])
	if lvl == 0 {
		return kids
	}
	child := rt.nodeAt[lvl-1]
	r := c.rank[q]
	rows := w.idx[p.start:p.end]
	// children in rank order: a child covers a contiguous run of ranks
	type grp struct {
		id   int32
		n    int
		hist []int32
	}
	var groups []grp
	slot := map[int32]int{}
	m := c.nsens
	sens := w.needSens()
	for _, i := range rows {
		id := child[r[i]]
		g, ok := slot[id]
		if !ok {
			g = len(groups)
			slot[id] = g
			var h []int32
			if sens {
				h = make([]int32, m)
			}
			groups = append(groups, grp{id: id, hist: h})
		}
		groups[g].n++
		if sens {
			groups[g].hist[c.sens[i]]++
		}
	}
	if len(groups) < 2 {
		return kids
	}
	for _, g := range groups {
		if !c.model.ok(g.n, g.hist, w.fbuf) {
			return kids
		}
	}
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(rt.first[groups[a].id], rt.first[groups[b].id]) })
	off := make([]int, len(groups))
	pos := 0
	for _, g := range order {
		off[g] = pos
		pos += groups[g].n
	}
	tmp := w.tmp[p.start:p.end]
	for _, i := range rows {
		g := slot[child[r[i]]]
		tmp[off[g]] = i
		off[g]++
	}
	copy(rows, tmp)
	s := p.start
	for _, g := range order {
		e := s + int32(groups[g].n)
		kids = append(kids, span{s, e})
		s = e
	}
	return kids
}

// rangeLabel returns the generalized value of [lo, hi] on QI q.
func (c *compiled) rangeLabel(q int, lo, hi int32) string {
	lab := c.label[q]
	switch c.kind[q] {
	case Numeric:
		if lo == hi {
			return lab[lo]
		}
		if c.num[q][lo] == c.num[q][hi] {
			return fmtNum(c.num[q][lo])
		}
		return "[" + lab[lo] + ".." + lab[hi] + "]"
	case Ordinal:
		if lo == hi {
			return lab[lo]
		}
		return "[" + lab[lo] + ".." + lab[hi] + "]"
	default:
		rt := c.tree[q]
		return rt.label[rt.lca(lo, hi)]
	}
}

// buildOutput writes the generalized table for the given partitions of
// idx: identifiers dropped, QIs replaced by the label of their partition,
// rows in input order. The code arrays of the generalized columns reuse
// the rank arrays (each row's rank is read before its code overwrites
// it), so the output adds no rows × QIs memory; c.rank is gone afterwards.
func (c *compiled) buildOutput(t *Table, parts []span, idx []int32) *Table {
	d := len(c.qcol)
	gen := make([]*Column, d)
	for q := range gen {
		gen[q] = &Column{Name: t.cols[c.qcol[q]].Name, Codes: c.rank[q], index: map[string]int32{}}
	}
	for _, p := range parts {
		rows := idx[p.start:p.end]
		for q := range gen {
			r := c.rank[q]
			lo, hi := r[rows[0]], r[rows[0]]
			for _, i := range rows[1:] {
				lo = min(lo, r[i])
				hi = max(hi, r[i])
			}
			code := gen[q].code(c.rangeLabel(q, lo, hi))
			for _, i := range rows {
				r[i] = code
			}
		}
	}
	c.rank = nil
	return c.assemble(t, gen, nil)
}

// assemble builds the output table: QI columns from gen, identifiers
// dropped, the rows with keep[i] false removed (keep nil keeps all).
func (c *compiled) assemble(t *Table, gen []*Column, keep []bool) *Table {
	qpos := map[int]int{}
	for q, j := range c.qcol {
		qpos[j] = q
	}
	drop := map[string]bool{}
	for _, id := range c.spec.Identifiers {
		drop[id] = true
	}
	out := &Table{byName: map[string]int{}}
	for j, col := range t.cols {
		if drop[col.Name] {
			continue
		}
		nc := col
		if q, ok := qpos[j]; ok {
			nc = gen[q]
		}
		if keep != nil {
			f := &Column{Name: nc.Name, Dict: nc.Dict, index: nc.index, Codes: make([]int32, 0, len(nc.Codes))}
			for i, k := range keep {
				if k {
					f.Codes = append(f.Codes, nc.Codes[i])
				}
			}
			nc = f
		}
		out.byName[nc.Name] = len(out.cols)
		out.cols = append(out.cols, nc)
	}
	out.rows = c.n
	if keep != nil {
		out.rows = 0
		for _, k := range keep {
			if k {
				out.rows++
			}
		}
	}
	return out
}
