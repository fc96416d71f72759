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
	for _, t := range []any{readFn{}, domainFn{}, finishDomainFn{}, rankFn{}, histFn{}, decideFn{}, routeFn{},
		localFn{}, shardFn{}, writeFn{}, classKeyFn{}, checkClassFn{}, reportFn{}, finishReportFn{},
		Line{}, Rec{}, Cut{}, classStat{}} {
		beam.RegisterType(reflect.TypeOf(t))
	}
	beam.RegisterFunction(keyByPart)
	// JSON coders: the accumulators hold maps, which the schema coder
	// does not take. Each type needs its own named functions, since Beam
	// finds coder functions by name.
	beam.RegisterCoder(reflect.TypeOf((*domainAcc)(nil)), encDomainAcc, decDomainAcc)
	beam.RegisterCoder(reflect.TypeOf((*Domain)(nil)), encDomain, decDomain)
	beam.RegisterCoder(reflect.TypeOf((*histAcc)(nil)), encHistAcc, decHistAcc)
	beam.RegisterCoder(reflect.TypeOf((*Report)(nil)), encReport, decReport)
}

func encDomainAcc(v *domainAcc) ([]byte, error) { return json.Marshal(v) }
func encDomain(v *Domain) ([]byte, error)       { return json.Marshal(v) }
func encHistAcc(v *histAcc) ([]byte, error)     { return json.Marshal(v) }
func encReport(v *Report) ([]byte, error)       { return json.Marshal(v) }

func decDomainAcc(b []byte) (*domainAcc, error) { v := new(domainAcc); return v, json.Unmarshal(b, v) }
func decDomain(b []byte) (*Domain, error)       { v := new(Domain); return v, json.Unmarshal(b, v) }
func decHistAcc(b []byte) (*histAcc, error)     { v := new(histAcc); return v, json.Unmarshal(b, v) }
func decReport(b []byte) (*Report, error)       { v := new(Report); return v, json.Unmarshal(b, v) }

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
	qi := make([]int, len(cfg.QIs))
	for q, x := range cfg.QIs {
		qi[q] = cfg.index(x.Column)
	}
	sens := -1
	if cfg.Sensitive != "" {
		sens = cfg.index(cfg.Sensitive)
	}
	var out []int
	for j, n := range cfg.Columns {
		if !slices.Contains(cfg.Drop, n) {
			out = append(out, j)
		}
	}

	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	lines := beam.ParDo(s.Scope("read"), &readFn{Cfg: cfg, Files: files}, beam.Reshuffle(s, beam.CreateList(s, idx)))
	acc := beam.Combine(s.Scope("domain"), &domainFn{Cfg: cfg, QI: qi, S: sens}, lines)
	dom := beam.ParDo(s.Scope("domain"), &finishDomainFn{Cfg: cfg, Files: files}, acc)
	dom = checkDependent(s, cfg, lines, dom)
	recs := beam.ParDo(s.Scope("rank"), &rankFn{Cfg: cfg, QI: qi, S: sens, Out: out}, lines, beam.SideInput{Input: dom})

	for level := range cfg.Levels {
		ls := s.Scope(fmt.Sprintf("level%d", level))
		hist := beam.CombinePerKey(ls, &histFn{Sens: cfg.needSens()}, beam.ParDo(ls, keyByPart, recs))
		cuts := beam.ParDo(ls, &decideFn{Cfg: cfg, Level: level}, hist, beam.SideInput{Input: dom})
		recs = beam.ParDo(ls, &routeFn{}, recs, beam.SideInput{Input: cuts})
	}

	ls := s.Scope("local")
	parts := beam.GroupByKey(ls, beam.ParDo(ls, keyByPart, recs))
	released := beam.ParDo(ls, &localFn{Cfg: cfg}, parts, beam.SideInput{Input: dom})

	if outDir != "" {
		ws := s.Scope("write")
		header := strings.Join(cfg.outColumns(), string(cfg.delim()))
		shards := beam.GroupByKey(ws, beam.ParDo(ws, &shardFn{Shards: cfg.Shards}, released))
		beam.ParDo0(ws, &writeFn{Dir: outDir, Header: header, Shards: cfg.Shards,
			Format: cfg.OutFormat, Columns: cfg.outColumns(), Delimiter: cfg.delim()}, shards)
	}

	return Outputs{Report: verify(s.Scope("verify"), cfg, released, dom, reportPath)}, nil
}

// verify adds the verifier: released holds output CSV lines, dom the
// Domain of the input.
func verify(vs beam.Scope, cfg Config, released, dom beam.PCollection, reportPath string) beam.PCollection {
	classes := beam.GroupByKey(vs, beam.ParDo(vs, &classKeyFn{Cfg: cfg}, released))
	stats := beam.ParDo(vs, &checkClassFn{Cfg: cfg}, classes, beam.SideInput{Input: dom})
	rep := beam.Combine(vs, reportFn{}, stats)
	return beam.ParDo(vs, &finishReportFn{Cfg: cfg, Path: reportPath}, rep, beam.SideInput{Input: dom})
}
