package kanon

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/privml/privml/anonymize"
)

// The check for columns released unchanged that are functions of a single
// quasi-identifier, or that a QI is a function of: the distributed form of
// anonymize.DependentColumns, with its decision rule. Each (column, value)
// is grouped with the values of its partner columns on the same rows (a
// released column with every QI, a QI with every released column): a
// group whose partner takes two values breaks the dependence. A second,
// global combine gathers per column whether each dependence holds and how
// many values occur how often (the histogram of value counts), which is
// all the rule needs: the number of distinct values, and for the chance
// rule Σ over groups of log2 Σ_y p_y^size, computed per group size.

// depSide is a column taking part in the check: the released columns
// first (Released[i] is column i), then the QIs.
type depPart struct {
	Side int
	N    int64
	// Broken[p] is set when some value of this side occurs with two
	// values of partner p.
	Broken []bool
}

// depGroup accumulates the rows of one (side, value).
type depGroup struct {
	N        int64
	First    []string
	Conflict []bool
}

// depSum is what the rule needs, per side.
type depSum struct {
	// Counts[s] maps a number of rows to how many values of side s occur
	// on that many rows.
	Counts []map[int64]int64
	// Broken[s][p]: side s does not determine partner p.
	Broken [][]bool
}

func init() {
	for _, t := range []any{depKeyFn{}, depGroupFn{}, depPartFn{}, depSumFn{}, dependentFn{}, depPart{}, depGroup{}} {
		beam.RegisterType(reflect.TypeOf(t))
	}
	beam.RegisterCoder(reflect.TypeOf((*depSum)(nil)), encDepSum, decDepSum)
}

func encDepSum(v *depSum) ([]byte, error) { return json.Marshal(v) }
func decDepSum(b []byte) (*depSum, error) { v := new(depSum); return v, json.Unmarshal(b, v) }

// released returns the columns a release copies unchanged: every column
// but the QIs and the dropped ones, the sensitive column included.
func (c *Config) released() []string {
	var out []string
	for _, n := range c.Columns {
		if !slices.Contains(c.Drop, n) && !slices.ContainsFunc(c.QIs, func(q QI) bool { return q.Column == n }) {
			out = append(out, n)
		}
	}
	return out
}

// checkDependent adds the check to the pipeline: it returns dom unchanged
// once no released column depends on a QI (or Config.KeepDependent is
// set), and fails the pipeline otherwise, before any stage that reads the
// domain (and so before anything is written).
func checkDependent(s beam.Scope, cfg Config, lines, dom beam.PCollection) beam.PCollection {
	rel := cfg.released()
	if len(rel) == 0 {
		return dom
	}
	s = s.Scope("dependent")
	keyed := beam.ParDo(s, &depKeyFn{Cfg: cfg, Released: rel}, lines)
	groups := beam.CombinePerKey(s, &depGroupFn{}, keyed)
	parts := beam.ParDo(s, &depPartFn{}, groups)
	sum := beam.Combine(s, &depSumFn{Sides: len(rel) + len(cfg.QIs)}, parts)
	// The summary is the main input and the domain a side input, so that
	// the check waits on the domain as every other stage does: when the
	// domain stage fails, runners do not run it with an empty domain.
	return beam.ParDo(s, &dependentFn{Cfg: cfg, Released: rel}, sum, beam.SideInput{Input: dom})
}

// depKeyFn keys each released value by its side with the row's QI values,
// and each QI value with the row's released values.
type depKeyFn struct {
	Cfg      Config
	Released []string

	rel, qi []int
}

func (f *depKeyFn) Setup() {
	f.rel, f.qi = nil, nil
	for _, n := range f.Released {
		f.rel = append(f.rel, slices.Index(f.Cfg.Columns, n))
	}
	for _, q := range f.Cfg.QIs {
		f.qi = append(f.qi, slices.Index(f.Cfg.Columns, q.Column))
	}
}

func pick(fields []string, at []int) []string {
	out := make([]string, len(at))
	for i, j := range at {
		out[i] = fields[j]
	}
	return out
}

func (f *depKeyFn) ProcessElement(l Line, emit func(string, []string)) {
	qv, rv := pick(l.Fields, f.qi), pick(l.Fields, f.rel)
	for i, v := range rv {
		emit(strconv.Itoa(i)+"\x00"+v, qv)
	}
	for q, v := range qv {
		emit(strconv.Itoa(len(f.rel)+q)+"\x00"+v, rv)
	}
}

// depGroupFn combines the partner values of one (side, value).
type depGroupFn struct{}

func (depGroupFn) CreateAccumulator() depGroup { return depGroup{} }

func (depGroupFn) AddInput(a depGroup, partners []string) depGroup {
	return depGroupFn{}.MergeAccumulators(a, depGroup{N: 1, First: partners, Conflict: make([]bool, len(partners))})
}

func (depGroupFn) MergeAccumulators(a, b depGroup) depGroup {
	switch {
	case b.N == 0:
		return a
	case a.N == 0:
		return depGroup{N: b.N, First: slices.Clone(b.First), Conflict: slices.Clone(b.Conflict)}
	}
	a.N += b.N
	for p := range a.First {
		a.Conflict[p] = a.Conflict[p] || b.Conflict[p] || a.First[p] != b.First[p]
	}
	return a
}

// depPartFn drops the value, keeping its side, count and conflicts.
type depPartFn struct{}

func (depPartFn) ProcessElement(key string, g depGroup) (depPart, error) {
	i := strings.IndexByte(key, 0)
	side, err := strconv.Atoi(key[:max(i, 0)])
	if i < 0 || err != nil {
		return depPart{}, fmt.Errorf("kanon: internal: dependence key %q", key)
	}
	return depPart{Side: side, N: g.N, Broken: g.Conflict}, nil
}

// depSumFn gathers the parts into one depSum.
type depSumFn struct{ Sides int }

func (f *depSumFn) CreateAccumulator() *depSum {
	a := &depSum{Counts: make([]map[int64]int64, f.Sides), Broken: make([][]bool, f.Sides)}
	for s := range a.Counts {
		a.Counts[s] = map[int64]int64{}
	}
	return a
}

func (f *depSumFn) AddInput(a *depSum, p depPart) *depSum {
	a.Counts[p.Side][p.N]++
	a.Broken[p.Side] = orInto(a.Broken[p.Side], p.Broken)
	return a
}

func (f *depSumFn) MergeAccumulators(a, b *depSum) *depSum {
	for s := range a.Counts {
		for n, c := range b.Counts[s] {
			a.Counts[s][n] += c
		}
		a.Broken[s] = orInto(a.Broken[s], b.Broken[s])
	}
	return a
}

func orInto(a, b []bool) []bool {
	if a == nil {
		return slices.Clone(b)
	}
	for i := range b {
		a[i] = a[i] || b[i]
	}
	return a
}

// dependentFn applies the rule of anonymize.DependentColumns to the
// summary and passes the domain on, or fails.
type dependentFn struct {
	Cfg      Config
	Released []string
}

func (f *dependentFn) ProcessElement(ctx context.Context, sum *depSum, domIt func(**Domain) bool, emit func(*Domain)) error {
	var dom *Domain
	if !domIt(&dom) || dom == nil {
		return nil // the domain stage failed and reports why
	}
	deps := dependences(f.Cfg, f.Released, sum)
	if len(deps) > 0 {
		var names, descs []string
		for _, d := range deps {
			descs = append(descs, d.String())
			if !slices.Contains(names, d.Column) {
				names = append(names, d.Column)
			}
		}
		if !f.Cfg.KeepDependent {
			return fmt.Errorf("kanon: columns left unchanged reveal a quasi-identifier: %s; remove them with --drop %s, make them QIs, or release them anyway with --keep-dependent",
				strings.Join(descs, ", "), strings.Join(names, ","))
		}
		beam.NewCounter("privml", "dependent_columns_kept").Inc(ctx, int64(len(names)))
		log.Warnf(ctx, "kanon: --keep-dependent: releasing %s unchanged although %s", strings.Join(names, ", "), strings.Join(descs, ", "))
	}
	emit(dom)
	return nil
}

// dependences lists the dependences of the summary, released columns in
// table order, each with the QIs in order, as anonymize.DependentColumns
// lists them.
func dependences(cfg Config, released []string, sum *depSum) []anonymize.Dependence {
	nr := len(released)
	var rows int64
	for n, c := range sum.Counts[0] {
		rows += n * c
	}
	var out []anonymize.Dependence
	for i, col := range released {
		for q, qi := range cfg.QIs {
			fwd := determines(sum, i, nr+q, q, rows)
			back := determines(sum, nr+q, i, i, rows)
			if fwd || back {
				out = append(out, anonymize.Dependence{Column: col, QI: qi.Column, Determines: fwd, DeterminedBy: back,
					ColumnValues: int(distinct(sum.Counts[i])), QIValues: int(distinct(sum.Counts[nr+q]))})
			}
		}
	}
	return out
}

// dependenceEvidenceBits is the threshold of anonymize.DependentColumns:
// a dependence of an X with more than n/2 values is reported when it would
// hold by chance with probability at most 2^-20.
const dependenceEvidenceBits = 20

// determines reports whether side x (whose partner y is at index p of its
// partners) determines side y, by the rule of anonymize.DependentColumns:
// every value of x occurs with one value of y, y takes at least two
// values, and x takes at most rows/2 values or the agreement would arise
// by chance with probability at most 2^-20.
func determines(sum *depSum, x, y, p int, rows int64) bool {
	if b := sum.Broken[x]; p < len(b) && b[p] {
		return false
	}
	if distinct(sum.Counts[y]) < 2 {
		return false
	}
	return 2*distinct(sum.Counts[x]) <= rows || log2ChanceAgreement(sum.Counts[x], sum.Counts[y], rows) <= -dependenceEvidenceBits
}

func distinct(counts map[int64]int64) int64 {
	var d int64
	for _, c := range counts {
		d += c
	}
	return d
}

// log2ChanceAgreement is log2 of the probability that every group of rows
// sharing an x value is constant in y when y is drawn independently with
// its observed frequencies: Σ over groups of size ≥ 2 of log2 Σ_y p_y^size,
// from the histograms of value counts of x and y.
func log2ChanceAgreement(x, y map[int64]int64, rows int64) float64 {
	ys := make([]int64, 0, len(y))
	for n := range y {
		ys = append(ys, n)
	}
	slices.Sort(ys)
	var total float64
	for size, groups := range x {
		if size < 2 {
			continue
		}
		var agree float64
		for _, n := range ys {
			agree += float64(y[n]) * math.Pow(float64(n)/float64(rows), float64(size))
		}
		total += float64(groups) * math.Log2(agree)
	}
	return total
}
