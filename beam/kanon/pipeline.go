package kanon

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

func init() {
	for _, t := range []any{readFn{}, batchFn{}, domainFn{}, finishDomainFn{}, rankFn{}, levelHistFn{}, histFn{},
		decideFn{}, assignFn{}, localFn{}, writeFn{}, classKeyFn{}, classFn{}, checkClassFn{}, reportFn{},
		finishReportFn{}, Line{}, Cut{}, classStat{}} {
		beam.RegisterType(reflect.TypeOf(t))
	}
	beam.RegisterFunction(dropKey)
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
	rows := beam.ParDo(s.Scope("read"), &batchFn{Out: out}, lines)
	acc := beam.Combine(s.Scope("domain"), &domainFn{Cfg: cfg, QI: rk.QI, S: rk.S, Cols: len(cols)}, rows)
	dom := beam.ParDo(s.Scope("domain"), &finishDomainFn{Cfg: cfg, Files: files}, acc)
	keys := beam.ParDo(s.Scope("rank"), &rankFn{Cfg: cfg, Rank: rk, Cols: len(cols)}, rows, beam.SideInput{Input: dom})

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
	parts := beam.GroupByKey(ls, beam.ParDo(ls, &assignFn{Cfg: cfg, Rank: rk, Cols: len(cols)}, rows,
		beam.SideInput{Input: dom}, beam.SideInput{Input: tree}))
	released := beam.ParDo(ls, &localFn{Cfg: cfg}, parts, beam.SideInput{Input: dom})

	if outDir != "" {
		ws := s.Scope("write")
		header := strings.Join(cols, string(cfg.delim()))
		beam.ParDo0(ws, &writeFn{Dir: outDir, Header: header, Shards: cfg.Shards}, beam.GroupByKey(ws, released))
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
