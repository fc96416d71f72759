package kanon

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"

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

func (f *localFn) ProcessElement(ctx context.Context, part string, rows func(*Rec) bool, domIt func(**Domain) bool, emit func(string)) error {
	dom, err := f.cache.get(domIt)
	if err != nil {
		return noDomain(err)
	}
	c := &f.Cfg
	cols := c.outColumns()
	domain := map[string][]string{}
	for q, qi := range c.QIs {
		domain[qi.Column] = dom.Values[q]
	}
	var ref map[string]float64
	if c.Sensitive != "" {
		domain[c.Sensitive] = dom.Sens
		ref = make(map[string]float64, len(dom.Sens))
		for i, s := range dom.Sens {
			ref[s] = dom.SensFreq[i]
		}
	}
	t, err := anonymize.NewTableDomain(cols, domain)
	if err != nil {
		return fmt.Errorf("kanon: partition %q: %w", part, err)
	}
	var r Rec
	for rows(&r) {
		if err := t.AppendRow(r.Fields); err != nil {
			return fmt.Errorf("kanon: partition %q: %w", part, err)
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
	out := res.Output
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Comma = c.delim()
	rec := make([]string, out.NumColumns())
	for i := range out.Rows() {
		for j := range rec {
			rec[j], _ = out.Value(i, j)
		}
		buf.Reset()
		if err := w.Write(rec); err != nil {
			return fmt.Errorf("kanon: partition %q: %w", part, err)
		}
		w.Flush()
		emit(strings.TrimSuffix(buf.String(), "\n"))
	}
	return nil
}
