package kanon

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"hash/fnv"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/privml/privml/anonymize"
)

// localFn finishes one partition on one worker with anonymize.Mondrian.
// The partition is loaded with the global domain (anonymize.NewTableDomain)
// and the global sensitive distribution (MondrianOptions.Reference), so
// its classes and their generalizations are those Mondrian gives on the
// whole table below this node of the tree.
type localFn struct {
	Cfg Config

	parts, rows, classes beam.Counter
	cache                domainCache
}

func (f *localFn) Setup() {
	f.parts = beam.NewCounter("privml", "partitions_finished_locally")
	f.rows = beam.NewCounter("privml", "rows_finished_locally")
	f.classes = beam.NewCounter("privml", "classes")
}

func (f *localFn) spec(dom *Domain) anonymize.Spec {
	c := &f.Cfg
	sp := anonymize.Spec{Sensitive: c.Sensitive, K: c.K, KeepDependent: true}
	for i, q := range c.QIs {
		k := anonymize.Ordinal
		if dom.Numeric(i) {
			k = anonymize.Numeric
		}
		sp.QIs = append(sp.QIs, anonymize.QI{Column: q.Column, Kind: k})
	}
	switch c.LKind {
	case "distinct":
		sp.L = &anonymize.LDiversity{Kind: anonymize.DistinctL, L: c.L}
	case "entropy":
		sp.L = &anonymize.LDiversity{Kind: anonymize.EntropyL, L: c.L}
	case "recursive":
		sp.L = &anonymize.LDiversity{Kind: anonymize.RecursiveCL, L: c.L, C: c.C}
	}
	if c.HasT {
		sp.T = &anonymize.TCloseness{T: c.T, Kind: anonymize.EqualDistance}
	}
	return sp
}

// ProcessElement finishes partition part, whose rows come in batches,
// and emits its released rows as CSV text, one element per output shard
// holding the shard's lines (a row goes to the shard of its line's hash).
func (f *localFn) ProcessElement(ctx context.Context, part string, batches func(**Batch) bool, domIt func(**Domain) bool, emit func(int, string)) error {
	dom, err := f.cache.get(domIt)
	if err != nil {
		return noDomain(err)
	}
	t, err := f.load(part, dom, batches)
	if err != nil {
		return err
	}
	c := &f.Cfg
	var ref map[string]float64
	if c.Sensitive != "" {
		ref = make(map[string]float64, len(dom.Sens))
		for i, s := range dom.Sens {
			ref[s] = dom.SensFreq[i]
		}
	}
	opt := &anonymize.MondrianOptions{Workers: 1, Reference: ref}
	if c.Median {
		opt.Cut = anonymize.MedianCut
	}
	res, err := anonymize.Mondrian(t, f.spec(dom), opt)
	if err != nil {
		return fmt.Errorf("kanon: partition %q of %d rows: %w", part, t.Rows(), err)
	}
	f.parts.Inc(ctx, 1)
	f.rows.Inc(ctx, int64(t.Rows()))
	f.classes.Inc(ctx, int64(res.Classes))
	return f.write(part, res.Output, emit)
}

// load builds the partition's table over the global domain.
func (f *localFn) load(part string, dom *Domain, batches func(**Batch) bool) (*anonymize.Table, error) {
	c := &f.Cfg
	cols := c.outColumns()
	domain := map[string][]string{}
	for q, qi := range c.QIs {
		domain[qi.Column] = dom.Values[q]
	}
	if c.Sensitive != "" {
		domain[c.Sensitive] = dom.Sens
	}
	t, err := anonymize.NewTableDomain(cols, domain)
	if err != nil {
		return nil, fmt.Errorf("kanon: partition %q: %w", part, err)
	}
	row := make([]string, len(cols))
	var b *Batch
	for batches(&b) {
		if b.Cols != len(cols) {
			return nil, fmt.Errorf("kanon: partition %q: %w: %d columns, want %d", part, errBadBatch, b.Cols, len(cols))
		}
		for i := range b.N {
			for j, c := range b.Codes[i*b.Cols : (i+1)*b.Cols] {
				row[j] = b.Dict[j][c]
			}
			if err := t.AppendRow(row); err != nil {
				return nil, fmt.Errorf("kanon: partition %q: %w", part, err)
			}
		}
	}
	return t, nil
}

// write emits the rows of out as CSV lines, gathered per output shard:
// row i of the partition goes to shard (h+i) mod Shards, h a hash of the
// partition's path, so that every shard gets its share of every
// partition.
func (f *localFn) write(part string, out *anonymize.Table, emit func(int, string)) error {
	c := &f.Cfg
	n := max(c.Shards, 1)
	bufs := make([]bytes.Buffer, n)
	ws := make([]*csv.Writer, n)
	for k := range ws {
		ws[k] = csv.NewWriter(&bufs[k])
		ws[k].Comma = c.delim()
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(part))
	k := int(h.Sum32() % uint32(n))
	rec := make([]string, out.NumColumns())
	for i := range out.Rows() {
		for j := range rec {
			rec[j], _ = out.Value(i, j)
		}
		if err := ws[k].Write(rec); err != nil {
			return fmt.Errorf("kanon: partition %q: %w", part, err)
		}
		if k++; k == n {
			k = 0
		}
	}
	for k, w := range ws {
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("kanon: partition %q: %w", part, err)
		}
		if text := bufs[k].Bytes(); len(text) > 0 {
			emit(k, string(text[:len(text)-1]))
		}
	}
	return nil
}
