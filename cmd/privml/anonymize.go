package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/privml/privml/anonymize"
)

// processStart approximates the start of the process, for total_ms.
var processStart = time.Now()

func init() {
	register("anonymize", "k-anonymize a CSV table (Mondrian or optimal global recoding), verified", runAnonymize)
}

// adultColumns are the UCI names of the columns of adult.data.
var adultColumns = []string{"age", "workclass", "fnlwgt", "education", "education-num",
	"marital-status", "occupation", "relationship", "race", "sex", "capital-gain",
	"capital-loss", "hours-per-week", "native-country", "salary"}

// anonymizeReport is written to --report.
type anonymizeReport struct {
	Algorithm          string   `json:"algorithm"`
	K                  int      `json:"k"`
	RowsRead           int      `json:"rows_read"`
	RowsDroppedMissing int      `json:"rows_dropped_missing"`
	RowsIn             int      `json:"rows_in"`
	RowsOut            int      `json:"rows_out"`
	SuppressedRows     int      `json:"suppressed_rows"`
	EquivalenceClasses int      `json:"equivalence_classes"`
	KMin               int      `json:"k_min"`
	LMin               *float64 `json:"l_min,omitempty"`
	LKind              string   `json:"l_kind,omitempty"`
	RecursiveC         *float64 `json:"recursive_c,omitempty"`
	TMax               *float64 `json:"t_max,omitempty"`
	NCPPercent         float64  `json:"ncp_percent"`
	Discernibility     float64  `json:"discernibility"`
	CAvg               float64  `json:"cavg"`
	NonUniformEntropy  float64  `json:"non_uniform_entropy"`
	ProsecutorMax      float64  `json:"prosecutor_risk_max"`
	ProsecutorAvg      float64  `json:"prosecutor_risk_avg"`
	SampleUniques      float64  `json:"sample_uniques"`
	Node               []int    `json:"lattice_node,omitempty"`
	NodesChecked       int      `json:"nodes_checked,omitempty"`
	NodesTotal         int      `json:"nodes_total,omitempty"`
	AlgorithmMS        float64  `json:"algorithm_ms"`
	TotalMS            float64  `json:"total_ms"`
	Verified           bool     `json:"verified"`
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func runAnonymize(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("privml anonymize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		in          = fs.String("in", "", "input CSV `file` (required)")
		out         = fs.String("out", "", "output CSV `file` (required; written only if verified)")
		qi          = fs.String("qi", "", "quasi-identifier `columns`, comma-separated")
		sensitive   = fs.String("sensitive", "", "sensitive `column`")
		k           = fs.Int("k", 0, "k of k-anonymity (required, at least 2)")
		l           = fs.Float64("l", 0, "l of l-diversity (0: none)")
		lKind       = fs.String("l-kind", "distinct", "l-diversity `kind`: distinct, entropy or recursive")
		cParam      = fs.Float64("c", 0, "c of recursive (c,l)-diversity")
		tParam      float64
		tKind       = fs.String("t-kind", "equal", "t-closeness ground `distance`: equal, ordered or hierarchical")
		algorithm   = fs.String("algorithm", "mondrian", "`algorithm`: mondrian or optimal")
		metric      = fs.String("metric", "entropy", "loss `metric` minimized by optimal: entropy, loss or discernibility")
		numeric     = fs.String("numeric", "", "numeric QI `columns` (default: QIs whose values are all numbers)")
		ordinal     = fs.String("ordinal", "", "ordinal QI `columns` (first-appearance order)")
		suppression = fs.Float64("suppression", 0, "fraction of rows that may be suppressed")
		missing     = fs.String("missing", "", "missing-value `token`, such as ?")
		missingRows = fs.String("missing-rows", "drop", "rows holding the missing token: drop or keep")
		delimiter   = fs.String("delimiter", ",", "field `delimiter` (one character; \\t or tab for a tab)")
		report      = fs.String("report", "", "write a JSON report to `file`")
		columns     = fs.String("columns", "", "column `names` of an input without header, comma-separated")
		preset      = fs.String("preset", "", "`name` of a preset: adult (UCI adult.data, Mondrian reference set-up)")
		identifiers = fs.String("identifiers", "", "identifier `columns` to remove")
		pseudo      = fs.String("pseudonymize", "", "identifier `columns` to replace by keyed HMAC-SHA256 pseudonyms")
		keyFile     = fs.String("key-file", "", "`file` holding the secret pseudonymization key (at least 16 bytes)")
		hiers       multiFlag
	)
	fs.Func("t", "t of t-closeness, in [0, 1] (unset: no t-closeness)", func(v string) error {
		x, err := strconv.ParseFloat(v, 64)
		tParam = x
		return err
	})
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: privml anonymize --in FILE --out FILE --qi COLS --k K [flags]
       privml anonymize --preset adult --in adult.data --out out.csv --k 10 --report report.json

Anonymizes a CSV table, verifies the output independently (k, l, t,
suppression, no row altered or invented) and writes it only if it passes.

flags:
`)
		fs.PrintDefaults()
	}
	fs.Var(&hiers, "hierarchy", "`COL=FILE` generalization hierarchy (ARX value;level1;...;* form, or leaf;parent;...;*); repeatable")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "privml anonymize: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "privml anonymize: "+format+"\n", a...)
		return 1
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "privml anonymize: "+format+"\n", a...)
		return 2
	}
	noHeader := false
	switch *preset {
	case "":
	case "adult":
		noHeader = true
		if !set["columns"] {
			*columns = strings.Join(adultColumns, ",")
		}
		if !set["missing"] {
			*missing = "?"
		}
		if !set["qi"] {
			*qi = "age,workclass,education-num,marital-status,occupation,race,sex,native-country"
		}
		if !set["numeric"] {
			*numeric = "age,education-num"
		}
		if !set["ordinal"] {
			*ordinal = "workclass,marital-status,occupation,race,sex,native-country"
		}
		if !set["sensitive"] {
			*sensitive = "salary"
		}
	default:
		return usage("unknown preset %q (known: adult)", *preset)
	}
	if *columns != "" {
		noHeader = true
	}
	if *in == "" || *out == "" {
		return usage("--in and --out are required")
	}
	if !set["k"] {
		return usage("--k is required")
	}
	if *qi == "" {
		return usage("--qi is required (or --preset)")
	}
	if *delimiter == `\t` || *delimiter == "tab" {
		*delimiter = "\t"
	}
	delim, size := utf8.DecodeRuneInString(*delimiter)
	if size != len(*delimiter) || delim == utf8.RuneError {
		return usage("--delimiter must be one character, got %q", *delimiter)
	}
	if *missingRows != "drop" && *missingRows != "keep" {
		return usage("--missing-rows must be drop or keep, got %q", *missingRows)
	}
	if abs(*in) == abs(*out) {
		return usage("--out must differ from --in")
	}

	// Load.
	f, err := os.Open(*in)
	if err != nil {
		return fail("%v", err)
	}
	opt := anonymize.CSVOptions{
		Name: *in, Delimiter: delim, NoHeader: noHeader, Columns: splitList(*columns),
		Missing: *missing, DropMissing: *missingRows == "drop",
		Progress: func(n int) { fmt.Fprintf(stderr, "privml anonymize: %d rows read\n", n) },
	}
	tb, err := anonymize.ReadCSV(f, opt)
	f.Close()
	if err != nil {
		return fail("%v", err)
	}

	// Pseudonyms.
	if *pseudo != "" {
		if *keyFile == "" {
			return usage("--pseudonymize needs --key-file")
		}
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			return fail("%v", err)
		}
		p, err := anonymize.NewPseudonymizer(key)
		clear(key)
		if err != nil {
			return fail("%s: %v", *keyFile, err)
		}
		for _, col := range splitList(*pseudo) {
			if tb, err = p.PseudonymizeColumn(tb, col); err != nil {
				return fail("--pseudonymize: %v", err)
			}
		}
	}

	// Spec.
	spec := anonymize.Spec{Sensitive: *sensitive, K: *k, Suppression: *suppression, Identifiers: splitList(*identifiers)}
	hierOf := map[string]*anonymize.Hierarchy{}
	for _, hv := range hiers {
		col, file, ok := strings.Cut(hv, "=")
		if !ok || col == "" || file == "" {
			return usage("--hierarchy wants COL=FILE, got %q", hv)
		}
		h, err := readHierarchyFile(file)
		if err != nil {
			return fail("--hierarchy %s: %v", col, err)
		}
		hierOf[col] = h
	}
	isNum, isOrd := map[string]bool{}, map[string]bool{}
	for _, c := range splitList(*numeric) {
		isNum[c] = true
	}
	for _, c := range splitList(*ordinal) {
		isOrd[c] = true
	}
	qis := splitList(*qi)
	qset := map[string]bool{}
	for _, c := range qis {
		qset[c] = true
	}
	for c := range hierOf {
		if !qset[c] && c != *sensitive {
			return fail("--hierarchy %s: %q is not a quasi-identifier", c, c)
		}
	}
	for _, c := range qis {
		q := anonymize.QI{Column: c, Hierarchy: hierOf[c]}
		col, err := tb.Column(c)
		if err != nil {
			return fail("--qi: %v", err)
		}
		switch {
		case isNum[c]:
			q.Kind = anonymize.Numeric
		case isOrd[c]:
			q.Kind = anonymize.Ordinal
		case q.Hierarchy != nil:
			q.Kind = anonymize.Hierarchical
		case allNumbers(col.Dict):
			q.Kind = anonymize.Numeric
		default:
			q.Kind = anonymize.Ordinal
		}
		spec.QIs = append(spec.QIs, q)
	}
	if *l > 0 || set["l"] {
		ld := &anonymize.LDiversity{L: *l, C: *cParam}
		switch *lKind {
		case "distinct":
			ld.Kind = anonymize.DistinctL
		case "entropy":
			ld.Kind = anonymize.EntropyL
		case "recursive":
			ld.Kind = anonymize.RecursiveCL
		default:
			return usage("--l-kind must be distinct, entropy or recursive, got %q", *lKind)
		}
		spec.L = ld
	}
	if set["t"] {
		tc := &anonymize.TCloseness{T: tParam}
		switch *tKind {
		case "equal":
			tc.Kind = anonymize.EqualDistance
		case "ordered":
			tc.Kind = anonymize.OrderedDistance
		case "hierarchical":
			tc.Kind = anonymize.HierarchicalDistance
			tc.Hierarchy = hierOf[*sensitive]
		default:
			return usage("--t-kind must be equal, ordered or hierarchical, got %q", *tKind)
		}
		spec.T = tc
	}

	// Anonymize.
	var res *anonymize.Result
	switch *algorithm {
	case "mondrian":
		res, err = anonymize.Mondrian(tb, spec, nil)
	case "optimal":
		m := map[string]anonymize.Metric{"entropy": anonymize.NonUniformEntropyMetric, "loss": anonymize.LossMetric, "discernibility": anonymize.DiscernibilityMetric}[*metric]
		if m == 0 {
			return usage("--metric must be entropy, loss or discernibility, got %q", *metric)
		}
		res, err = anonymize.Optimal(tb, spec, &anonymize.OptimalOptions{Metric: m})
	default:
		return usage("--algorithm must be mondrian or optimal, got %q", *algorithm)
	}
	if err != nil {
		return fail("%v", err)
	}
	// Verify independently while the output goes to a temporary file,
	// which becomes the output only if verification passes.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp-*")
	if err != nil {
		return fail("%v", err)
	}
	werr := make(chan error, 1)
	go func() { werr <- res.Output.WriteCSV(tmp, delim) }()
	rep, verr := anonymize.Verify(tb, res.Output, spec)
	err = <-werr
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if verr != nil || err != nil {
		os.Remove(tmp.Name())
		if verr != nil {
			return fail("output rejected, nothing written: %v", verr)
		}
		return fail("%v", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		os.Remove(tmp.Name())
		return fail("%v", err)
	}
	r := anonymizeReport{
		Algorithm: *algorithm, K: *k, RowsRead: tb.Rows() + tb.DroppedRows(), RowsDroppedMissing: tb.DroppedRows(),
		RowsIn: rep.RowsIn, RowsOut: rep.RowsOut, SuppressedRows: rep.Suppressed,
		EquivalenceClasses: rep.Classes, KMin: rep.KMin, NCPPercent: rep.NCP, Discernibility: rep.Discernibility,
		CAvg: rep.CAvg, NonUniformEntropy: rep.NonUniformEntropy, ProsecutorMax: rep.ProsecutorMax,
		ProsecutorAvg: rep.ProsecutorAvg, SampleUniques: rep.SampleUniques,
		Node: res.Node, NodesChecked: res.NodesChecked, NodesTotal: res.NodesTotal,
		AlgorithmMS: ms(res.Duration), Verified: true,
	}
	if spec.L != nil {
		v := float64(rep.LDistinct)
		switch spec.L.Kind {
		case anonymize.EntropyL:
			v = rep.LEntropy
		case anonymize.RecursiveCL:
			c := rep.RecursiveC
			r.RecursiveC = &c
		}
		r.LMin, r.LKind = &v, *lKind
	}
	if spec.T != nil {
		v := rep.TMax
		r.TMax = &v
	}
	r.TotalMS = ms(time.Since(processStart))
	if *report != "" {
		err := writeAtomic(*report, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(r)
		})
		if err != nil {
			os.Remove(*out)
			return fail("%v", err)
		}
	}
	fmt.Fprintf(stdout, "anonymized %d rows into %d classes (k_min %d, %d suppressed), NCP %.2f%%, verified; algorithm %.1f ms, total %.1f ms\n",
		rep.RowsIn, rep.Classes, rep.KMin, rep.Suppressed, rep.NCP, r.AlgorithmMS, r.TotalMS)
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func allNumbers(vals []string) bool {
	for _, v := range vals {
		if _, err := fmt.Sscan(v, new(float64)); err != nil {
			return false
		}
	}
	return len(vals) > 0
}

// readHierarchyFile reads an ARX hierarchy, or a leaf;parent;... tree of
// uneven depth when the file is not uniform.
func readHierarchyFile(path string) (*anonymize.Hierarchy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := anonymize.ReadHierarchy(strings.NewReader(string(data)), path, ';')
	if err == nil {
		return h, nil
	}
	if h2, err2 := anonymize.ReadTreeHierarchy(strings.NewReader(string(data)), path, ';'); err2 == nil {
		return h2, nil
	}
	return nil, err
}

// writeAtomic writes a file through a temporary file in the same folder
// and renames it into place, so no partial file is left on error.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
