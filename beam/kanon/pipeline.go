package kanon

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	// Every DoFn and CombineFn is registered with its types, so that the
	// SDK calls it through generated code rather than reflection.
	register.DoFn3x1[context.Context, int, func(Line), error](&readFn{})
	register.DoFn2x0[Line, func(*Batch)](&batchFn{})
	register.Combiner2[*domainAcc, *Batch](&domainFn{})
	register.DoFn3x1[context.Context, *domainAcc, func(*Domain), error](&finishDomainFn{})
	register.DoFn4x1[context.Context, *Batch, func(**Domain) bool, func(*KeyBatch), error](&rankFn{})
	register.DoFn3x0[*KeyBatch, func(*Cut) bool, func(string, *histAcc)](&levelHistFn{})
	register.Combiner1[*histAcc](&histFn{})
	register.DoFn5x1[context.Context, string, *histAcc, func(**Domain) bool, func(Cut), error](&decideFn{})
	register.DoFn4x1[*Batch, func(**Domain) bool, func(*Cut) bool, func(string, *Batch), error](&assignFn{})
	register.DoFn5x1[context.Context, string, func(**Batch) bool, func(**Domain) bool, func(int, string), error](&localFn{})
	register.DoFn3x1[context.Context, int, func(*string) bool, error](&writeFn{})
	register.DoFn2x1[string, func(string, *classAcc), error](&classKeyFn{})
	register.Combiner1[*classAcc](&classFn{})
	register.DoFn4x1[string, *classAcc, func(**Domain) bool, func(classStat), error](&checkClassFn{})
	register.Combiner2[*Report, classStat](&reportFn{})
	register.DoFn4x1[context.Context, *Report, *Domain, func(string), error](&finishReportFn{})
	register.Function2x1[int, string, string](dropKey)
	register.Emitter1[Line]()
	register.Emitter1[*Batch]()
	register.Emitter1[*Domain]()
	register.Emitter1[*KeyBatch]()
	register.Emitter2[string, *histAcc]()
	register.Emitter1[Cut]()
	register.Emitter2[string, *Batch]()
	register.Emitter2[int, string]()
	register.Emitter2[string, *classAcc]()
	register.Emitter1[classStat]()
	register.Emitter1[string]()
	register.Iter1[*Domain]()
	register.Iter1[Cut]()
	register.Iter1[*Batch]()
	register.Iter1[string]()
	beam.RegisterType(reflect.TypeOf(Cut{}))
	// Binary coders for the batches of rows and the statistics, which
	// carry the volume; JSON for the accumulators of the domain and the
	// report, one element per bundle. Each type needs its own named
	// functions, since Beam finds coder functions by name.
	beam.RegisterCoder(reflect.TypeOf((*Batch)(nil)), encBatch, decBatch)
	beam.RegisterCoder(reflect.TypeOf((*KeyBatch)(nil)), encKeyBatch, decKeyBatch)
	beam.RegisterCoder(reflect.TypeOf((*histAcc)(nil)), encHistAcc, decHistAcc)
	beam.RegisterCoder(reflect.TypeOf((*classAcc)(nil)), encClassAcc, decClassAcc)
	beam.RegisterCoder(reflect.TypeOf((*domainAcc)(nil)), encDomainAcc, decDomainAcc)
	beam.RegisterCoder(reflect.TypeOf((*Domain)(nil)), encDomain, decDomain)
	beam.RegisterCoder(reflect.TypeOf((*Report)(nil)), encReport, decReport)
}

func encDomainAcc(v *domainAcc) ([]byte, error) { return json.Marshal(v) }
func encDomain(v *Domain) ([]byte, error)       { return json.Marshal(v) }
func encReport(v *Report) ([]byte, error)       { return json.Marshal(v) }

func decDomainAcc(b []byte) (*domainAcc, error) { v := new(domainAcc); return v, json.Unmarshal(b, v) }
func decDomain(b []byte) (*Domain, error)       { v := new(Domain); return v, json.Unmarshal(b, v) }
func decReport(b []byte) (*Report, error)       { v := new(Report); return v, json.Unmarshal(b, v) }

func dropKey(_ int, text string) string { return text }

// Outputs are the collections a pipeline ends in.
type Outputs struct {
	// Report holds one element, the verification report as JSON.
	Report beam.PCollection
}

// Build adds to s the whole release: read the files, compute the global
// domain, cut the top Levels levels of the Mondrian tree from per-partition
// histograms, finish each partition with anonymize.Mondrian, write the
// output as sharded CSV with a header into outDir (when not empty) and
// verify it, writing the report to reportPath (when not empty).
func Build(s beam.Scope, cfg Config, files []string, outDir, reportPath string) (Outputs, error) {
	if err := cfg.Validate(); err != nil {
		return Outputs{}, err
	}
	if len(files) == 0 {
		return Outputs{}, fmt.Errorf("%w: no input file", ErrConfig)
	}
	if cfg.Shards == 0 {
		cfg.Shards = len(files)
	}
	var out []int // input column of each output column
	for j, n := range cfg.Columns {
		if !slices.Contains(cfg.Drop, n) {
			out = append(out, j)
		}
	}
	cols := cfg.outColumns()
	rk := ranker{QI: make([]int, len(cfg.QIs)), S: slices.Index(cols, cfg.Sensitive)}
	for q, x := range cfg.QIs {
		rk.QI[q] = slices.Index(cols, x.Column)
	}
	if cfg.Sensitive == "" {
		rk.S = -1
	}

	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	lines := beam.ParDo(s.Scope("read"), &readFn{Cfg: cfg, Files: files}, beam.Reshuffle(s, beam.CreateList(s, idx)))
	rows := beam.ParDo(s.Scope("read"), &batchFn{Out: out, Rows: batchRows}, lines)
	acc := beam.Combine(s.Scope("domain"), &domainFn{Cfg: cfg, QI: rk.QI, S: rk.S, Cols: len(cols)}, rows)
	dom := beam.ParDo(s.Scope("domain"), &finishDomainFn{Cfg: cfg, Files: files}, acc)
	dom = checkDependent(s, cfg, lines, dom)
	keys := beam.ParDo(s.Scope("rank"), &rankFn{Cfg: cfg, Rank: rk}, rows, beam.SideInput{Input: dom})

	// Each level reads the ranks alone and sends only the statistics of
	// the partitions through the runner's shuffle; the rows are not moved
	// until the tree is cut.
	cuts := []beam.PCollection{beam.CreateList(s, []Cut{})}
	for level := range cfg.Levels {
		ls := s.Scope(fmt.Sprintf("level%d", level))
		tree := beam.Flatten(ls, cuts...)
		parts := beam.ParDo(ls, &levelHistFn{Sens: cfg.needSens()}, keys, beam.SideInput{Input: tree})
		hist := beam.CombinePerKey(ls, histFn{}, parts)
		cuts = append(cuts, beam.ParDo(ls, &decideFn{Cfg: cfg, Level: level}, hist, beam.SideInput{Input: dom}))
	}

	ls := s.Scope("local")
	tree := beam.Flatten(ls, cuts...)
	parts := beam.GroupByKey(ls, beam.ParDo(ls, &assignFn{Cfg: cfg, Rank: rk}, rows,
		beam.SideInput{Input: dom}, beam.SideInput{Input: tree}))
	released := beam.ParDo(ls, &localFn{Cfg: cfg}, parts, beam.SideInput{Input: dom})

	if outDir != "" {
		ws := s.Scope("write")
		header := strings.Join(cfg.outColumns(), string(cfg.delim()))
		beam.ParDo0(ws, &writeFn{Dir: outDir, Header: header, Shards: cfg.Shards,
			Format: cfg.OutFormat, Columns: cfg.outColumns(), Delimiter: cfg.delim()}, beam.GroupByKey(ws, released))
	}

	text := beam.ParDo(s.Scope("verify"), dropKey, released)
	return Outputs{Report: verify(s.Scope("verify"), cfg, text, dom, reportPath)}, nil
}

// verify adds the verifier: released holds output CSV text (each element
// one or more lines), dom the Domain of the input. Classes are added up
// per key from the counts of each element's rows (combined before the
// shuffle), so only one small record per class and element is shuffled.
func verify(vs beam.Scope, cfg Config, released, dom beam.PCollection, reportPath string) beam.PCollection {
	classes := beam.CombinePerKey(vs, classFn{}, beam.ParDo(vs, &classKeyFn{Cfg: cfg}, released))
	stats := beam.ParDo(vs, &checkClassFn{Cfg: cfg}, classes, beam.SideInput{Input: dom})
	rep := beam.Combine(vs, reportFn{}, stats)
	return beam.ParDo(vs, &finishReportFn{Cfg: cfg, Path: reportPath}, rep, beam.SideInput{Input: dom})
}
