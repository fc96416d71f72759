package kanon

import (
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
)

// The verifier reads the output lines alone and the global domain of the
// input: it groups rows by their generalized QIs, recomputes class sizes,
// l and t from the sensitive values of each class and the information
// loss from the labels, and counts rows. It shares no code with the cut
// and the local finish.

// Report carries the figures of `privml anonymize --report` that a
// pipeline can establish.
type Report struct {
	RowsIn             int64    `json:"rows_in"`
	RowsOut            int64    `json:"rows_out"`
	EquivalenceClasses int64    `json:"equivalence_classes"`
	KMin               int64    `json:"k_min"`
	LMin               *float64 `json:"l_min,omitempty"`
	TMax               *float64 `json:"t_max,omitempty"`
	NCPPercent         float64  `json:"ncp_percent"`
	Discernibility     float64  `json:"discernibility"`
	CAvg               float64  `json:"cavg"`
	Verified           bool     `json:"verified"`
	Problems           []string `json:"problems,omitempty"`
}

// classStat is what the verifier learns of one class.
type classStat struct {
	N      int64
	NCP    float64 // Σ over rows and QIs of the cell penalty
	L, T   float64
	Errors []string
}

// classAcc is what the verifier gathers of one class from the output
// rows: their number and the count of each sensitive value.
type classAcc struct {
	N    int64
	Sens map[string]int64
}

// classKeyFn reads output text (one or more CSV lines) and emits, for
// every class of its rows (the rows with the same QI labels, keyed by
// their labels), the class's rows in this text.
type classKeyFn struct {
	Cfg Config
}

func (f *classKeyFn) ProcessElement(text string, emit func(string, *classAcc)) error {
	c := &f.Cfg
	cols := c.outColumns()
	qcol := make([]int, len(c.QIs))
	for q, qi := range c.QIs {
		qcol[q] = slices.Index(cols, qi.Column)
	}
	scol := slices.Index(cols, c.Sensitive)
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = c.delim()
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	accs := map[string]*classAcc{}
	var order []string
	var key []byte
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("kanon: verify: output row %d of a chunk: %w", len(order)+1, err)
		}
		if len(rec) != len(cols) {
			return fmt.Errorf("kanon: verify: output row %q has %d fields, want %d", strings.Join(rec, string(c.delim())), len(rec), len(cols))
		}
		key = key[:0]
		for _, j := range qcol {
			key = binary.AppendUvarint(key, uint64(len(rec[j])))
			key = append(key, rec[j]...)
		}
		a, ok := accs[string(key)]
		if !ok {
			a = &classAcc{Sens: map[string]int64{}}
			accs[string(key)] = a
			order = append(order, string(key))
		}
		a.N++
		if scol >= 0 {
			a.Sens[rec[scol]]++
		}
	}
	for _, k := range order {
		emit(k, accs[k])
	}
	return nil
}

// classKeyLabels decodes a class key into its labels.
func classKeyLabels(key string, d int) ([]string, bool) {
	labels := make([]string, 0, d)
	b := []byte(key)
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, false
		}
		labels = append(labels, string(b[w:w+int(n)]))
		b = b[w+int(n):]
	}
	return labels, len(labels) == d
}

// classFn adds up the rows of a class.
type classFn struct{}

func (classFn) CreateAccumulator() *classAcc { return &classAcc{Sens: map[string]int64{}} }

func (classFn) AddInput(a, b *classAcc) *classAcc { return classFn{}.MergeAccumulators(a, b) }

func (classFn) MergeAccumulators(a, b *classAcc) *classAcc {
	a.N += b.N
	for s, n := range b.Sens {
		a.Sens[s] += n
	}
	return a
}

func encClassAcc(a *classAcc) ([]byte, error) {
	out := binary.AppendUvarint(nil, uint64(a.N))
	out = binary.AppendUvarint(out, uint64(len(a.Sens)))
	for s, n := range a.Sens {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
		out = binary.AppendUvarint(out, uint64(n))
	}
	return out, nil
}

func decClassAcc(buf []byte) (*classAcc, error) {
	d := decoder{buf: buf}
	a := &classAcc{N: int64(d.count(0))}
	n := d.count(2)
	a.Sens = make(map[string]int64, n)
	for range n {
		l := d.count(0)
		if d.err == nil && l > len(d.buf) {
			d.err = errBadBatch
		}
		if d.err != nil {
			break
		}
		s := string(d.buf[:l])
		d.buf = d.buf[l:]
		if _, dup := a.Sens[s]; dup {
			d.err = fmt.Errorf("%w: sensitive value %q twice", errBadBatch, s)
			break
		}
		a.Sens[s] = int64(d.count(0))
	}
	if d.err == nil && len(d.buf) > 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errBadBatch, len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	return a, nil
}

// checkClassFn measures one class.
type checkClassFn struct {
	Cfg Config

	cache domainCache
}

func (f *checkClassFn) ProcessElement(rawKey string, acc *classAcc, domIt func(**Domain) bool, emit func(classStat)) error {
	dom, err := f.cache.get(domIt)
	if err != nil {
		return noDomain(err)
	}
	c := &f.Cfg
	labels, ok := classKeyLabels(rawKey, len(c.QIs))
	if !ok {
		return fmt.Errorf("kanon: verify: malformed class key %q", rawKey)
	}
	k, _ := json.Marshal(labels)
	key := string(k)
	counts := acc.Sens
	st := classStat{N: acc.N}
	width := 0.0
	for q, lab := range labels {
		w, ok := labelWidth(dom, q, lab)
		if !ok {
			st.Errors = append(st.Errors, fmt.Sprintf("class %s: %q is not a generalized value of %q", key, lab, c.QIs[q].Column))
		}
		width += w
	}
	st.NCP = width * float64(st.N)
	if st.N < int64(c.K) {
		st.Errors = append(st.Errors, fmt.Sprintf("class %s has %d rows, fewer than k = %d", key, st.N, c.K))
	}
	if c.Sensitive != "" {
		st.L = lOf(c, counts, st.N)
		if c.LKind != "" && !lHolds(c, counts, st.N) {
			st.Errors = append(st.Errors, fmt.Sprintf("class %s is not %s %v-diverse", key, c.LKind, c.L))
		}
		emd := 0.0
		for i, v := range dom.Sens {
			emd += math.Abs(float64(counts[v])/float64(st.N) - dom.SensFreq[i])
		}
		st.T = emd / 2
		if c.HasT && st.T > c.T+1e-9 {
			st.Errors = append(st.Errors, fmt.Sprintf("class %s is at distance %.4g > t = %v", key, st.T, c.T))
		}
	}
	emit(st)
	return nil
}

// lOf returns the l of a class for the configured kind (distinct count
// by default, exp(entropy) for entropy l).
func lOf(c *Config, counts map[string]int64, n int64) float64 {
	if c.LKind == "entropy" {
		h := 0.0
		for _, x := range counts {
			p := float64(x) / float64(n)
			h -= p * math.Log(p)
		}
		return math.Exp(h)
	}
	return float64(len(counts))
}

func lHolds(c *Config, counts map[string]int64, n int64) bool {
	switch c.LKind {
	case "distinct":
		return float64(len(counts)) >= c.L
	case "entropy":
		return math.Log(lOf(c, counts, n)) >= math.Log(c.L)-1e-9
	default:
		var r []int64
		for _, x := range counts {
			r = append(r, x)
		}
		slices.Sort(r)
		slices.Reverse(r)
		l := int(c.L)
		if len(r) < l {
			return false
		}
		var tail int64
		for _, x := range r[l-1:] {
			tail += x
		}
		return float64(r[0])/float64(tail) < c.C
	}
}

// labelWidth parses a generalized value of QI q and returns its cell
// penalty: (hi−lo)/(max−min) for numbers, (covered−1)/(values−1) for
// ordinal ranges.
func labelWidth(dom *Domain, q int, lab string) (float64, bool) {
	if nums := dom.Nums[q]; nums != nil {
		lo, hi, ok := numRange(lab)
		if !ok || lo > hi || lo < nums[0] || hi > nums[len(nums)-1] {
			return 1, false
		}
		if span := nums[len(nums)-1] - nums[0]; span > 0 {
			return (hi - lo) / span, true
		}
		return 0, true
	}
	idx := dom.index[q]
	if _, ok := idx[lab]; ok {
		return 0, true
	}
	if !strings.HasPrefix(lab, "[") || !strings.HasSuffix(lab, "]") {
		return 1, false
	}
	in := lab[1 : len(lab)-1]
	for i := strings.Index(in, ".."); i >= 0; {
		lo, ok1 := idx[in[:i]]
		hi, ok2 := idx[in[i+2:]]
		if ok1 && ok2 && lo <= hi {
			if dom.NVal[q] < 2 {
				return 0, true
			}
			return float64(hi-lo) / float64(dom.NVal[q]-1), true
		}
		j := strings.Index(in[i+1:], "..")
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return 1, false
}

// numRange parses a number or a range [lo..hi] of finite numbers.
func numRange(s string) (lo, hi float64, ok bool) {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v, v, finite(v)
	}
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(s[1:len(s)-1], "..")
	if !found {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseFloat(a, 64)
	hi, err2 := strconv.ParseFloat(b, 64)
	return lo, hi, err1 == nil && err2 == nil && finite(lo) && finite(hi)
}

// reportFn sums the classes into a Report.
type reportFn struct{}

func (reportFn) CreateAccumulator() *Report { return &Report{KMin: -1} }

func (reportFn) AddInput(r *Report, s classStat) *Report {
	r.RowsOut += s.N
	r.EquivalenceClasses++
	if r.KMin < 0 || s.N < r.KMin {
		r.KMin = s.N
	}
	if r.LMin == nil || s.L < *r.LMin {
		v := s.L
		r.LMin = &v
	}
	if r.TMax == nil || s.T > *r.TMax {
		v := s.T
		r.TMax = &v
	}
	r.NCPPercent += s.NCP
	r.Discernibility += float64(s.N) * float64(s.N)
	if len(r.Problems) < 20 {
		r.Problems = append(r.Problems, s.Errors...)
	}
	return r
}

func (reportFn) MergeAccumulators(a, b *Report) *Report {
	a.RowsOut += b.RowsOut
	a.EquivalenceClasses += b.EquivalenceClasses
	if a.KMin < 0 || (b.KMin >= 0 && b.KMin < a.KMin) {
		a.KMin = b.KMin
	}
	if b.LMin != nil && (a.LMin == nil || *b.LMin < *a.LMin) {
		a.LMin = b.LMin
	}
	if b.TMax != nil && (a.TMax == nil || *b.TMax > *a.TMax) {
		a.TMax = b.TMax
	}
	a.NCPPercent += b.NCPPercent
	a.Discernibility += b.Discernibility
	if len(a.Problems) < 20 {
		a.Problems = append(a.Problems, b.Problems...)
	}
	return a
}

// finishReportFn completes the report against the input and writes it.
type finishReportFn struct {
	Cfg  Config
	Path string
}

func (f *finishReportFn) ProcessElement(ctx context.Context, r *Report, dom *Domain, emit func(string)) error {
	c := &f.Cfg
	r.RowsIn = dom.Rows
	if r.RowsOut > 0 {
		r.NCPPercent = 100 * r.NCPPercent / (float64(r.RowsOut) * float64(len(c.QIs)))
		r.CAvg = float64(r.RowsOut) / float64(r.EquivalenceClasses) / float64(c.K)
	}
	if r.KMin < 0 {
		r.KMin = 0
	}
	if c.LKind == "" {
		r.LMin = nil
	}
	if !c.HasT {
		r.TMax = nil
	}
	if r.RowsIn != r.RowsOut {
		r.Problems = append(r.Problems, fmt.Sprintf("rows in = %d, rows out = %d", r.RowsIn, r.RowsOut))
	}
	r.Verified = len(r.Problems) == 0
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if f.Path != "" {
		if err := writeFile(ctx, f.Path, b); err != nil {
			return err
		}
	}
	if r.Verified {
		beam.NewCounter("privml", "verified").Inc(ctx, 1)
	} else {
		beam.NewCounter("privml", "verification_failed").Inc(ctx, 1)
	}
	emit(string(b))
	return nil
}

func writeFile(ctx context.Context, name string, b []byte) error {
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return fmt.Errorf("kanon: --report %s: %w", name, err)
	}
	defer fs.Close()
	w, err := fs.OpenWrite(ctx, name)
	if err != nil {
		return fmt.Errorf("kanon: --report %s: %w", name, err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		w.Close()
		return fmt.Errorf("kanon: --report %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("kanon: --report %s: %w", name, err)
	}
	return nil
}
