package kanon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Line is one input row with its place in the input: File indexes the
// input files in name order, Line counts from 1 in that file.
type Line struct {
	File, Line int
	Fields     []string
}

// pos orders input rows: files in name order, then lines.
func pos(file, line int) int64 { return int64(file)<<40 | int64(line) }

// domainAcc gathers the value domain of every QI and the sensitive
// distribution of the whole input.
type domainAcc struct {
	Rows int64
	// First maps each value of QI q to the position of its first row.
	First []map[string]int64
	// Sens counts the sensitive values; SensFirst holds their first rows.
	Sens, SensFirst map[string]int64
}

// Domain is the global value domain: what anonymize.Mondrian reads from
// the column dictionaries of the whole table.
type Domain struct {
	Rows int64
	// Values lists the distinct strings of each QI in order of first
	// appearance; Rank gives the rank of each (numeric: rank of its number
	// among the distinct numbers; ordinal: its index).
	Values [][]string
	Rank   [][]int32
	// NVal is the number of ranks of each QI; Nums the number of each
	// rank (numeric QIs).
	NVal []int
	Nums [][]float64
	// Sens lists the sensitive values in order of first appearance,
	// SensFreq their fraction of the rows.
	Sens     []string
	SensFreq []float64

	index []map[string]int32 // built by prepare: value → rank
	sidx  map[string]int32
}

type domainFn struct {
	Cfg  Config
	QI   []int // column of each QI in a Batch
	S    int   // column of the sensitive value in a Batch, or -1
	Cols int   // columns of a Batch
}

func (f *domainFn) CreateAccumulator() *domainAcc {
	a := &domainAcc{First: make([]map[string]int64, len(f.QI)), Sens: map[string]int64{}, SensFirst: map[string]int64{}}
	for q := range a.First {
		a.First[q] = map[string]int64{}
	}
	return a
}

// AddInput adds a batch.
func (f *domainFn) AddInput(a *domainAcc, b *Batch) (*domainAcc, error) {
	if len(b.Pos) != b.N || b.Cols != f.Cols {
		return nil, fmt.Errorf("%w: %d positions for %d rows, %d columns for %d", errBadBatch, len(b.Pos), b.N, b.Cols, f.Cols)
	}
	a.Rows += int64(b.N)
	for q, j := range f.QI {
		for c, p := range firstRows(b, j) {
			first(a.First[q], b.Dict[j][c], p)
		}
	}
	if f.S >= 0 {
		cnt := make([]int64, len(b.Dict[f.S]))
		for i := range b.N {
			cnt[b.Codes[i*b.Cols+f.S]]++
		}
		for c, p := range firstRows(b, f.S) {
			if p < 0 {
				continue
			}
			v := b.Dict[f.S][c]
			a.Sens[v] += cnt[c]
			first(a.SensFirst, v, p)
		}
	}
	return a, nil
}

// firstRows returns the least position of the rows holding each entry of
// column j's dictionary (entries no row holds are left at -1).
func firstRows(b *Batch, j int) []int64 {
	out := make([]int64, len(b.Dict[j]))
	for c := range out {
		out[c] = -1
	}
	for i := range b.N {
		// A batch may hold rows of several files, not in input order.
		if c := b.Codes[i*b.Cols+j]; out[c] < 0 || b.Pos[i] < out[c] {
			out[c] = b.Pos[i]
		}
	}
	return out
}

// first records p as the position of v unless v has an earlier one or p
// is -1.
func first(m map[string]int64, v string, p int64) {
	if p < 0 {
		return
	}
	if old, ok := m[v]; !ok || p < old {
		m[v] = p
	}
}

func (f *domainFn) MergeAccumulators(a, b *domainAcc) *domainAcc {
	a.Rows += b.Rows
	for q := range a.First {
		for v, p := range b.First[q] {
			if old, ok := a.First[q][v]; !ok || p < old {
				a.First[q][v] = p
			}
		}
	}
	for v, n := range b.Sens {
		a.Sens[v] += n
	}
	for v, p := range b.SensFirst {
		if old, ok := a.SensFirst[v]; !ok || p < old {
			a.SensFirst[v] = p
		}
	}
	return a
}

// byFirst returns the keys of m in order of their positions.
func byFirst(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for v := range m {
		keys = append(keys, v)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(m[a], m[b]) })
	return keys
}

// finishDomainFn turns the accumulator into the Domain, checking numbers
// and the size of the table against k.
type finishDomainFn struct {
	Cfg   Config
	Files []string
}

func (f *finishDomainFn) ProcessElement(_ context.Context, a *domainAcc, emit func(*Domain)) error {
	c := &f.Cfg
	if a.Rows == 0 {
		return fmt.Errorf("kanon: invalid input: the table has no rows")
	}
	if int64(c.K) > a.Rows {
		return fmt.Errorf("kanon: invalid parameter: k = %d is larger than the table (%d rows)", c.K, a.Rows)
	}
	d := &Domain{Rows: a.Rows}
	for q, qi := range c.QIs {
		vals := byFirst(a.First[q])
		rank := make([]int32, len(vals))
		var nums []float64
		x, bad := numbers(vals)
		if qi.Kind == "numeric" && bad >= 0 {
			s := vals[bad]
			p := a.First[q][s]
			return fmt.Errorf("kanon: invalid input: %s:%d, column %q: value %q is not a finite number", f.Files[p>>40], p&(1<<40-1), qi.Column, s)
		}
		if qi.Kind == "numeric" || (qi.Kind == "" && bad < 0) {
			nums = slices.Clone(x)
			slices.Sort(nums)
			nums = slices.Compact(nums)
			for i, v := range x {
				r, _ := slices.BinarySearch(nums, v)
				rank[i] = int32(r)
			}
			d.NVal = append(d.NVal, len(nums))
		} else {
			for i := range rank {
				rank[i] = int32(i)
			}
			d.NVal = append(d.NVal, len(vals))
		}
		d.Values = append(d.Values, vals)
		d.Rank = append(d.Rank, rank)
		d.Nums = append(d.Nums, nums)
	}
	if len(a.SensFirst) > 0 {
		d.Sens = byFirst(a.SensFirst)
		for _, s := range d.Sens {
			d.SensFreq = append(d.SensFreq, float64(a.Sens[s])/float64(a.Rows))
		}
	}
	d.prepare()
	hist := make([]int64, len(d.Sens))
	for i, s := range d.Sens {
		hist[i] = a.Sens[s]
	}
	m := &model{cfg: c, ref: d.SensFreq}
	if !m.ok(a.Rows, hist) {
		return fmt.Errorf("kanon: unsatisfiable: the whole table of %d rows does not meet the model, so no partition can", a.Rows)
	}
	emit(d)
	return nil
}

// numbers parses vals; bad is the index of the first value that is not a
// finite number, or -1.
func numbers(vals []string) (x []float64, bad int) {
	x = make([]float64, len(vals))
	for i, s := range vals {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, i
		}
		x[i] = v
	}
	return x, -1
}

// Numeric reports whether QI q was treated as numeric.
func (d *Domain) Numeric(q int) bool { return d.Nums[q] != nil }

// domainCache holds the Domain side input once decoded. The side input is
// read through an iterator, which decodes it only when called: runners
// that send no cache tokens (prism) would otherwise have it fetched and
// decoded for every element.
type domainCache struct{ d *Domain }

func (c *domainCache) get(it func(**Domain) bool) (*Domain, error) {
	if c.d == nil {
		var d *Domain
		if !it(&d) || d == nil {
			return nil, errNoDomain
		}
		d.prepare()
		c.d = d
	}
	return c.d, nil
}

// errNoDomain: the domain side input is empty. That happens only when the
// domain stage or the dependence check failed, and prism may still run the
// stages that read the domain; they stop without output (noDomain) so that
// the job fails with the failing stage's own error.
var errNoDomain = errors.New("kanon: internal: the domain side input is empty")

// noDomain returns err, or nil for errNoDomain.
func noDomain(err error) error {
	if errors.Is(err, errNoDomain) {
		return nil
	}
	return err
}

// prepare builds the lookup maps of a decoded Domain.
func (d *Domain) prepare() {
	if d.index != nil {
		return
	}
	d.index = make([]map[string]int32, len(d.Values))
	for q, vals := range d.Values {
		m := make(map[string]int32, len(vals))
		for i, v := range vals {
			m[v] = d.Rank[q][i]
		}
		d.index[q] = m
	}
	d.sidx = make(map[string]int32, len(d.Sens))
	for i, s := range d.Sens {
		d.sidx[s] = int32(i)
	}
}

// normWidth is the normalized width of ranks [lo, hi] of QI q, as
// anonymize.Mondrian measures it.
func (d *Domain) normWidth(q int, lo, hi int32) float64 {
	if nums := d.Nums[q]; nums != nil {
		span := nums[len(nums)-1] - nums[0]
		if span == 0 {
			return 0
		}
		return (nums[hi] - nums[lo]) / span
	}
	if d.NVal[q] < 2 {
		return 0
	}
	return float64(hi-lo) / float64(d.NVal[q]-1)
}
