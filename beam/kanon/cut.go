package kanon

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Cut is the decision taken for one partition: Split along QI Q, rows of
// rank at most At going to Part+"0", the others to Part+"1"; without
// Split, the partition is not cut in the pipeline and is finished
// locally. Part is the path of the partition from the root ("" the whole
// table, then '0' for the lower half of a cut and '1' for the upper).
type Cut struct {
	Part  string
	Split bool
	Q     int
	At    int32
}

// node is a partition of the tree built from the cuts taken so far.
type node struct {
	id     string
	split  bool // cut along q at at into lo and hi
	done   bool // decided not to cut
	q      int
	at     int32
	lo, hi *node
}

// buildTree returns the root of the tree the cuts describe.
func buildTree(cuts func(*Cut) bool) *node {
	nodes := map[string]*node{}
	get := func(id string) *node {
		n, ok := nodes[id]
		if !ok {
			n = &node{id: id}
			nodes[id] = n
		}
		return n
	}
	root := get("")
	var c Cut
	for cuts(&c) {
		n := get(c.Part)
		if c.Split {
			n.split, n.q, n.at = true, c.Q, c.At
			n.lo, n.hi = get(c.Part+"0"), get(c.Part+"1")
		} else {
			n.done = true
		}
	}
	return root
}

// leaf returns the partition of a row with the given ranks.
func (n *node) leaf(ranks []int32) *node {
	for n.split {
		if ranks[n.q] <= n.at {
			n = n.lo
		} else {
			n = n.hi
		}
	}
	return n
}

// treeCache holds the tree built from a side input of cuts, built once
// per worker like domainCache.
type treeCache struct{ root *node }

func (c *treeCache) get(cuts func(*Cut) bool) *node {
	if c.root == nil {
		c.root = buildTree(cuts)
	}
	return c.root
}

// ranker finds the ranks of a batch's QI values in the global domain.
type ranker struct {
	QI []int // column of each QI in a Batch
	S  int   // column of the sensitive value in a Batch, or -1
}

// codes returns, for every QI, the rank of each entry of its column's
// dictionary in b, and the sensitive index of each entry of the
// sensitive column's (nil without one).
func (r *ranker) codes(cfg *Config, dom *Domain, b *Batch) ([][]int32, []int32, error) {
	rk := make([][]int32, len(r.QI))
	for q, j := range r.QI {
		rk[q] = make([]int32, len(b.Dict[j]))
		for c, v := range b.Dict[j] {
			k, ok := dom.index[q][v]
			if !ok {
				return nil, nil, fmt.Errorf("kanon: internal: value %q of %q missing from the domain", v, cfg.QIs[q].Column)
			}
			rk[q][c] = k
		}
	}
	var sens []int32
	if r.S >= 0 {
		sens = make([]int32, len(b.Dict[r.S]))
		for c, v := range b.Dict[r.S] {
			sens[c] = dom.sidx[v]
		}
	}
	return rk, sens, nil
}

// rankFn turns a batch of rows into the batch of their ranks, which the
// levels of the tree read.
type rankFn struct {
	Cfg  Config
	Rank ranker

	ranked beam.Counter
	cache  domainCache
}

func (f *rankFn) Setup() { f.ranked = beam.NewCounter("privml", "rows_in") }

func (f *rankFn) ProcessElement(ctx context.Context, b *Batch, domIt func(**Domain) bool, emit func(*KeyBatch)) error {
	dom, err := f.cache.get(domIt)
	if err != nil {
		return noDomain(err)
	}
	rk, sens, err := f.Rank.codes(&f.Cfg, dom, b)
	if err != nil {
		return err
	}
	d := len(f.Rank.QI)
	kb := &KeyBatch{N: b.N, D: d, Ranks: make([]int32, b.N*d)}
	if sens != nil {
		kb.Sens = make([]int32, b.N)
	}
	for i := range b.N {
		row := b.Codes[i*b.Cols : (i+1)*b.Cols]
		for q, j := range f.Rank.QI {
			kb.Ranks[i*d+q] = rk[q][row[j]]
		}
		if sens != nil {
			kb.Sens[i] = sens[row[f.Rank.S]]
		}
	}
	f.ranked.Inc(ctx, int64(kb.N))
	emit(kb)
	return nil
}

// histAcc holds the statistics of one partition: its size, the count of
// every (QI, rank) and, with a sensitive model, of every (QI, rank,
// sensitive value).
type histAcc struct {
	N int64
	C map[uint64]int64
	S map[uint64]int64
}

func ckey(q int, r int32) uint64 { return uint64(q)<<32 | uint64(uint32(r)) }
func skey(q int, r int32, s int32) uint64 {
	return uint64(q)<<56 | uint64(uint32(r))<<24 | uint64(uint32(s))
}

func newHistAcc() *histAcc { return &histAcc{C: map[uint64]int64{}, S: map[uint64]int64{}} }

// levelHistFn computes, for one batch of ranks, the statistics of every
// partition of the tree (the cuts of the earlier levels, a side input)
// that is still to be decided; rows of partitions already decided not to
// be cut are skipped.
type levelHistFn struct {
	Sens bool

	tree treeCache
}

func (f *levelHistFn) ProcessElement(kb *KeyBatch, cuts func(*Cut) bool, emit func(string, *histAcc)) {
	root := f.tree.get(cuts)
	accs := map[*node]*histAcc{}
	var order []*node
	for i := range kb.N {
		r := kb.Ranks[i*kb.D : (i+1)*kb.D]
		n := root.leaf(r)
		if n.done {
			continue
		}
		a, ok := accs[n]
		if !ok {
			a = newHistAcc()
			accs[n] = a
			order = append(order, n)
		}
		a.N++
		for q, k := range r {
			a.C[ckey(q, k)]++
			if f.Sens {
				a.S[skey(q, k, kb.Sens[i])]++
			}
		}
	}
	for _, n := range order {
		emit(n.id, accs[n])
	}
}

// histFn merges the statistics of a partition.
type histFn struct{}

func (histFn) CreateAccumulator() *histAcc { return newHistAcc() }

func (histFn) AddInput(a, b *histAcc) *histAcc { return histFn{}.MergeAccumulators(a, b) }

func (histFn) MergeAccumulators(a, b *histAcc) *histAcc {
	a.N += b.N
	for k, v := range b.C {
		a.C[k] += v
	}
	for k, v := range b.S {
		a.S[k] += v
	}
	return a
}

// decideFn chooses the cut of every partition from its statistics with
// the rule of anonymize.Mondrian: QIs by decreasing normalized width (of
// the partition's own values, normalized by the global domain), on each
// the most balanced cut whose halves meet the models (or, with Median,
// the median cut only), the first QI with an allowable cut wins.
// Partitions of at most LocalThreshold rows are not cut here.
type decideFn struct {
	Cfg   Config
	Level int

	cut, local beam.Counter
	cache      domainCache
}

func (f *decideFn) Setup() {
	f.cut = beam.NewCounter("privml", fmt.Sprintf("partitions_cut_level_%d", f.Level))
	f.local = beam.NewCounter("privml", fmt.Sprintf("partitions_stopped_level_%d", f.Level))
}

func (f *decideFn) ProcessElement(ctx context.Context, part string, a *histAcc, domIt func(**Domain) bool, emit func(Cut)) error {
	dom, err := f.cache.get(domIt)
	if err != nil {
		return noDomain(err)
	}
	c := Cut{Part: part}
	if a.N > int64(f.Cfg.LocalThreshold) {
		c.Q, c.At, c.Split = chooseCut(&f.Cfg, dom, a)
	}
	if c.Split {
		f.cut.Inc(ctx, 1)
	} else {
		f.local.Inc(ctx, 1)
	}
	emit(c)
	return nil
}

// qstat is the distribution of one QI in a partition.
type qstat struct {
	vals  []int32
	cnt   []int64
	width float64
}

func chooseCut(cfg *Config, dom *Domain, a *histAcc) (int, int32, bool) {
	d := len(cfg.QIs)
	st := make([]qstat, d)
	for k, n := range a.C {
		q := int(k >> 32)
		st[q].vals = append(st[q].vals, int32(uint32(k)))
		_ = n
	}
	var dims []int
	for q := range st {
		slices.Sort(st[q].vals)
		st[q].cnt = make([]int64, len(st[q].vals))
		for i, v := range st[q].vals {
			st[q].cnt[i] = a.C[ckey(q, v)]
		}
		if len(st[q].vals) > 0 {
			st[q].width = dom.normWidth(q, st[q].vals[0], st[q].vals[len(st[q].vals)-1])
		}
		if st[q].width > 0 {
			dims = append(dims, q)
		}
	}
	slices.SortStableFunc(dims, func(x, y int) int { return cmp.Compare(st[y].width, st[x].width) })
	m := &model{cfg: cfg, ref: dom.SensFreq}
	for _, q := range dims {
		var at int
		if cfg.Median {
			at = medianCut(cfg, m, a, q, &st[q], len(dom.Sens))
		} else {
			at = bestCut(cfg, m, a, q, &st[q], len(dom.Sens))
		}
		if at >= 0 {
			return q, st[q].vals[at], true
		}
	}
	return 0, 0, false
}

// halves returns the sensitive histograms of the values up to index at
// and of the others.
func halves(a *histAcc, q int, s *qstat, at, m int) (left, right []int64) {
	left, right = make([]int64, m), make([]int64, m)
	for i, v := range s.vals {
		dst := right
		if i <= at {
			dst = left
		}
		for x := range m {
			dst[x] += a.S[skey(q, v, int32(x))]
		}
	}
	return left, right
}

// bestCut is anonymize.BestCut: the index of the value after which the
// most balanced allowable cut falls, or -1.
func bestCut(cfg *Config, m *model, a *histAcc, q int, s *qstat, nsens int) int {
	size := a.N
	k := int64(cfg.K)
	type cand struct {
		i    int
		cum  int64
		diff int64
	}
	var cands []cand
	var cum int64
	for i := 0; i < len(s.vals)-1; i++ {
		cum += s.cnt[i]
		if cum < k || size-cum < k {
			continue
		}
		d := 2*cum - size
		cands = append(cands, cand{i, cum, max(d, -d)})
	}
	slices.SortStableFunc(cands, func(x, y cand) int { return cmp.Compare(x.diff, y.diff) })
	for _, c := range cands {
		if !cfg.needSens() {
			return c.i
		}
		l, r := halves(a, q, s, c.i, nsens)
		if m.ok(c.cum, l) && m.ok(size-c.cum, r) {
			return c.i
		}
	}
	return -1
}

// medianCut is anonymize.MedianCut: the value at which the running count
// reaches ⌊|P|/2⌋, if both halves are allowable, or -1.
func medianCut(cfg *Config, m *model, a *histAcc, q int, s *qstat, nsens int) int {
	size := a.N
	middle := size / 2
	var cum int64
	at := -1
	for i, n := range s.cnt {
		cum += n
		if cum >= middle {
			at = i
			break
		}
	}
	k := int64(cfg.K)
	if at < 0 || at == len(s.vals)-1 || cum < k || size-cum < k {
		return -1
	}
	if cfg.needSens() {
		l, r := halves(a, q, s, at, nsens)
		if !m.ok(cum, l) || !m.ok(size-cum, r) {
			return -1
		}
	}
	return at
}

// assignFn sends every row of a batch to its partition of the whole tree
// cut in the pipeline (all the cuts, a side input): one Batch per
// partition the batch's rows fall in, keyed by the partition's path.
type assignFn struct {
	Cfg  Config
	Rank ranker

	dom  domainCache
	tree treeCache
}

func (f *assignFn) ProcessElement(b *Batch, domIt func(**Domain) bool, cuts func(*Cut) bool, emit func(string, *Batch)) error {
	dom, err := f.dom.get(domIt)
	if err != nil {
		return err
	}
	root := f.tree.get(cuts)
	rk, _, err := f.Rank.codes(&f.Cfg, dom, b)
	if err != nil {
		return err
	}
	sp := splitter{src: b}
	ranks := make([]int32, len(f.Rank.QI))
	for i := range b.N {
		row := b.Codes[i*b.Cols : (i+1)*b.Cols]
		for q, j := range f.Rank.QI {
			ranks[q] = rk[q][row[j]]
		}
		sp.add(root.leaf(ranks), i)
	}
	sp.emit(emit)
	return nil
}
