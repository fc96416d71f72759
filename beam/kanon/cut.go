package kanon

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Rec is a row on its way through the partition tree: Part is the path of
// its partition from the root ("" the whole table, then '0' for the lower
// half of a cut and '1' for the upper), Ranks its rank on every QI, Sens
// its sensitive index (-1 without a sensitive column), Fields its output
// columns.
type Rec struct {
	Part   string
	Ranks  []int32
	Sens   int32
	Fields []string
}

// Cut is the decision taken for one partition: Split along QI Q, rows of
// rank at most At going to Part+"0", the others to Part+"1".
type Cut struct {
	Part  string
	Split bool
	Q     int
	At    int32
}

// rankFn turns an input row into a Rec at the root of the tree.
type rankFn struct {
	Cfg Config
	QI  []int
	S   int
	Out []int // input column of each output column

	ranked beam.Counter
	cache  domainCache
}

func (f *rankFn) Setup() { f.ranked = beam.NewCounter("privml", "rows_in") }

func (f *rankFn) ProcessElement(ctx context.Context, l Line, domIt func(**Domain) bool, emit func(Rec)) error {
	dom, err := f.cache.get(domIt)
	if err != nil {
		return noDomain(err)
	}
	r := Rec{Ranks: make([]int32, len(f.QI)), Sens: -1, Fields: make([]string, len(f.Out))}
	for q, j := range f.QI {
		k, ok := dom.index[q][l.Fields[j]]
		if !ok {
			return fmt.Errorf("kanon: internal: value %q of %q missing from the domain", l.Fields[j], f.Cfg.QIs[q].Column)
		}
		r.Ranks[q] = k
	}
	if f.S >= 0 {
		r.Sens = dom.sidx[l.Fields[f.S]]
	}
	for i, j := range f.Out {
		r.Fields[i] = l.Fields[j]
	}
	f.ranked.Inc(ctx, 1)
	emit(r)
	return nil
}

func keyByPart(r Rec) (string, Rec) { return r.Part, r }

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

type histFn struct {
	Sens bool
}

func (f *histFn) CreateAccumulator() *histAcc {
	return &histAcc{C: map[uint64]int64{}, S: map[uint64]int64{}}
}

func (f *histFn) AddInput(a *histAcc, r Rec) *histAcc {
	a.N++
	for q, k := range r.Ranks {
		a.C[ckey(q, k)]++
		if f.Sens {
			a.S[skey(q, k, r.Sens)]++
		}
	}
	return a
}

func (f *histFn) MergeAccumulators(a, b *histAcc) *histAcc {
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

// routeFn moves every row into the half of its partition's cut.
type routeFn struct {
	cuts map[string]Cut
}

func (f *routeFn) ProcessElement(r Rec, cuts func(*Cut) bool, emit func(Rec)) {
	if f.cuts == nil {
		f.cuts = map[string]Cut{}
		var c Cut
		for cuts(&c) {
			f.cuts[c.Part] = c
		}
	}
	if c, ok := f.cuts[r.Part]; ok && c.Split {
		if r.Ranks[c.Q] <= c.At {
			r.Part += "0"
		} else {
			r.Part += "1"
		}
	}
	emit(r)
}
