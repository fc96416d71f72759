package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/privml/privml/anonymize"
	"github.com/privml/privml/internal/dataset"
)

// processStart approximates the start of the process, for total_ms.
var processStart = time.Now()

func init() {
	register("anonymize", "k-anonymize a CSV table (Mondrian or optimal global recoding), verified", runAnonymize)
}

// adultPreset is the Mondrian reference set-up on UCI adult.data
// (qiyuangong/Mondrian utils/read_adult_data.py): its QIs and the class are
// released; the columns it does not read are dropped, among them education,
// which maps one to one onto the QI education-num.
var adultPreset = struct {
	qi, numeric, ordinal, sensitive, drop string
}{
	qi:        "age,workclass,education-num,marital-status,occupation,race,sex,native-country",
	numeric:   "age,education-num",
	ordinal:   "workclass,marital-status,occupation,race,sex,native-country",
	sensitive: "salary",
	drop:      "fnlwgt,education,relationship,capital-gain,capital-loss,hours-per-week",
}

// anonymizeReport is written to --report.
type anonymizeReport struct {
	Algorithm          string     `json:"algorithm"`
	Cut                string     `json:"cut,omitempty"`
	K                  int        `json:"k"`
	QIs                []qiReport `json:"qis"`
	Sensitive          string     `json:"sensitive,omitempty"`
	DroppedColumns     []string   `json:"dropped_columns"`
	KeptColumns        []string   `json:"kept_columns"`
	DependentKept      []string   `json:"dependent_columns_kept,omitempty"`
	RowsRead           int        `json:"rows_read"`
	RowsDroppedMissing int        `json:"rows_dropped_missing"`
	RowsIn             int        `json:"rows_in"`
	RowsOut            int        `json:"rows_out"`
	SuppressedRows     int        `json:"suppressed_rows"`
	EquivalenceClasses int        `json:"equivalence_classes"`
	KMin               int        `json:"k_min"`
	LMin               *float64   `json:"l_min,omitempty"`
	LKind              string     `json:"l_kind,omitempty"`
	RecursiveC         *float64   `json:"recursive_c,omitempty"`
	TMax               *float64   `json:"t_max,omitempty"`
	NCPPercent         float64    `json:"ncp_percent"`
	Discernibility     float64    `json:"discernibility"`
	CAvg               float64    `json:"cavg"`
	NonUniformEntropy  float64    `json:"non_uniform_entropy"`
	ProsecutorMax      float64    `json:"prosecutor_risk_max"`
	ProsecutorAvg      float64    `json:"prosecutor_risk_avg"`
	SampleUniques      float64    `json:"sample_uniques"`
	Node               []int      `json:"lattice_node,omitempty"`
	NodesChecked       int        `json:"nodes_checked,omitempty"`
	NodesTotal         int        `json:"nodes_total,omitempty"`
	AlgorithmMS        float64    `json:"algorithm_ms"`
	TotalMS            float64    `json:"total_ms"`
	Verified           bool       `json:"verified"`
}

// qiReport says how a quasi-identifier was treated. Order lists the
// categories of an ordinal QI in the order its ranges use, so that an
// output range [a..b] covers the values from a to b in that list.
type qiReport struct {
	Column   string   `json:"column"`
	Kind     string   `json:"kind"`
	ChosenBy string   `json:"chosen_by"`
	Values   int      `json:"values"`
	Order    []string `json:"order,omitempty"`
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

// cliError is an error with the exit code it calls for: 2 for a usage
// error, 1 otherwise.
type cliError struct {
	code int
	msg  string
}

func (e *cliError) Error() string { return e.msg }

func usageErr(format string, a ...any) error {
	return &cliError{code: 2, msg: fmt.Sprintf(format, a...)}
}

// libErr puts context before an error of package anonymize, dropping the
// package prefix that the command's own prefix replaces.
func libErr(context string, err error) error {
	return fmt.Errorf("%s: %s", context, strings.TrimPrefix(err.Error(), "anonymize: "))
}

// anonymizeCmd holds the flags of one run and what the steps derive.
type anonymizeCmd struct {
	in, out, qi, sensitive, lKind, tKind, algorithm, metric, cut string
	numeric, ordinal, missing, missingRows, delimiter, report    string
	columns, preset, identifiers, drop, pseudo, keyFile          string
	k                                                            int
	l, c, t, suppression                                         float64
	keepDependent                                                bool
	hiers                                                        multiFlag
	set                                                          map[string]bool
	delim                                                        rune
	noHeader                                                     bool
	hierFile                                                     map[string]string // column → file
	stderr                                                       io.Writer
}

func runAnonymize(args []string, stdout, stderr io.Writer) int {
	cmd := &anonymizeCmd{stderr: stderr}
	if code, done := cmd.parse(args); done {
		return code
	}
	err := cmd.run(stdout)
	if err == nil {
		return 0
	}
	msg := strings.TrimPrefix(err.Error(), "anonymize: ")
	fmt.Fprintf(stderr, "privml anonymize: %s\n", msg)
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.code
	}
	return 1
}

// run is the command after flag parsing, as a list of steps.
func (cmd *anonymizeCmd) run(stdout io.Writer) error {
	if err := cmd.applyPreset(); err != nil {
		return err
	}
	if err := cmd.validate(); err != nil {
		return err
	}
	outs, err := cmd.openOutputs()
	if err != nil {
		return err
	}
	defer outs.discard()
	tb, err := cmd.load()
	if err != nil {
		return err
	}
	if tb, err = cmd.pseudonymize(tb); err != nil {
		return err
	}
	spec, qis, err := cmd.buildSpec(tb)
	if err != nil {
		return err
	}
	release, err := cmd.checkRelease(tb, &spec)
	if err != nil {
		return err
	}
	res, err := cmd.anonymize(tb, spec)
	if err != nil {
		return err
	}
	rep, err := cmd.verifyAndWrite(tb, res, spec, outs.out)
	if err != nil {
		return err
	}
	r := cmd.buildReport(tb, spec, qis, release, res, rep)
	if outs.report != nil {
		if err := outs.report.write(func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(r)
		}); err != nil {
			return err
		}
	}
	if err := outs.commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "anonymized %d rows into %d classes (k_min %d, %d suppressed), NCP %.2f%%, verified; algorithm %.1f ms, total %.1f ms\n",
		rep.RowsIn, rep.Classes, rep.KMin, rep.Suppressed, rep.NCP, r.AlgorithmMS, r.TotalMS)
	return nil
}

// parse reads the flags; done reports that the command ends here (help,
// or a flag error already printed by the flag package).
func (cmd *anonymizeCmd) parse(args []string) (code int, done bool) {
	fs := flag.NewFlagSet("privml anonymize", flag.ContinueOnError)
	fs.SetOutput(cmd.stderr)
	fs.StringVar(&cmd.in, "in", "", "input CSV `file` (required)")
	fs.StringVar(&cmd.out, "out", "", "output CSV `file` (required; written only if verified)")
	fs.StringVar(&cmd.qi, "qi", "", "quasi-identifier `columns`, comma-separated")
	fs.StringVar(&cmd.sensitive, "sensitive", "", "sensitive `column`")
	fs.IntVar(&cmd.k, "k", 0, "k of k-anonymity (required, at least 2)")
	fs.Float64Var(&cmd.l, "l", 0, "l of l-diversity (0: none)")
	fs.StringVar(&cmd.lKind, "l-kind", "distinct", "l-diversity `kind`: distinct, entropy or recursive")
	fs.Float64Var(&cmd.c, "c", 0, "c of recursive (c,l)-diversity")
	fs.Func("t", "t of t-closeness, in [0, 1] (unset: no t-closeness)", func(v string) error {
		x, err := strconv.ParseFloat(v, 64)
		cmd.t = x
		return err
	})
	fs.StringVar(&cmd.tKind, "t-kind", "equal", "t-closeness ground `distance`: equal, ordered or hierarchical")
	fs.StringVar(&cmd.algorithm, "algorithm", "mondrian", "`algorithm`: mondrian or optimal")
	fs.StringVar(&cmd.cut, "cut", "best", "Mondrian cut `rule`: best (most balanced allowable cut) or median (the paper's median cut only)")
	fs.StringVar(&cmd.metric, "metric", "entropy", "loss `metric` minimized by optimal: entropy, loss or discernibility")
	fs.StringVar(&cmd.numeric, "numeric", "", "numeric QI `columns` (default: QIs whose values all parse as finite numbers)")
	fs.StringVar(&cmd.ordinal, "ordinal", "", "ordinal QI `columns` (first-appearance order, written to the report)")
	fs.Float64Var(&cmd.suppression, "suppression", 0, "fraction of rows that may be suppressed")
	fs.StringVar(&cmd.missing, "missing", "", "missing-value `token`, such as ?")
	fs.StringVar(&cmd.missingRows, "missing-rows", "drop", "rows holding the missing token: drop or keep")
	fs.StringVar(&cmd.delimiter, "delimiter", ",", "field `delimiter` (one character; \\t or tab for a tab)")
	fs.StringVar(&cmd.report, "report", "", "write a JSON report to `file`")
	fs.StringVar(&cmd.columns, "columns", "", "column `names` of an input without header, comma-separated")
	fs.StringVar(&cmd.preset, "preset", "", "`name` of a preset: adult (UCI adult.data, Mondrian reference set-up: QIs and salary released, other columns dropped)")
	fs.StringVar(&cmd.identifiers, "identifiers", "", "identifier `columns` to remove")
	fs.StringVar(&cmd.drop, "drop", "", "`columns` to remove from the output (such as columns that reveal a QI)")
	fs.BoolVar(&cmd.keepDependent, "keep-dependent", false, "release columns that determine or are determined by a QI (refused by default)")
	fs.StringVar(&cmd.pseudo, "pseudonymize", "", "identifier `columns` to replace by keyed HMAC-SHA256 pseudonyms")
	fs.StringVar(&cmd.keyFile, "key-file", "", "`file` holding the secret pseudonymization key (at least 16 bytes)")
	fs.Var(&cmd.hiers, "hierarchy", "`COL=FILE` generalization hierarchy (ARX value;level1;...;* form, or leaf;parent;...;*); repeatable")
	fs.Usage = func() {
		fmt.Fprint(cmd.stderr, `usage: privml anonymize --in FILE --out FILE --qi COLS --k K [flags]
       privml anonymize --preset adult --in adult.data --out out.csv --k 10 --report report.json

Anonymizes a CSV table, verifies the output independently (k, l, t,
suppression, no row altered or invented) and writes it only if it passes.
A column left unchanged that determines, or is determined by, a single QI
exactly on the rows of the table is refused: remove it with --drop, make
it a QI, or pass --keep-dependent. Approximate dependences (one row off)
and lossy functions of several QIs are not detected: review the columns
you release.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(cmd.stderr, "privml anonymize: unexpected argument %q\n", fs.Arg(0))
		return 2, true
	}
	cmd.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { cmd.set[f.Name] = true })
	return 0, false
}

// applyPreset fills the flags a preset sets and the user did not.
func (cmd *anonymizeCmd) applyPreset() error {
	switch cmd.preset {
	case "":
	case "adult":
		cmd.noHeader = true
		def := func(name string, v *string, val string) {
			if !cmd.set[name] {
				*v = val
			}
		}
		def("columns", &cmd.columns, strings.Join(dataset.AdultColumnNames(), ","))
		def("missing", &cmd.missing, dataset.AdultMissing)
		def("qi", &cmd.qi, adultPreset.qi)
		def("numeric", &cmd.numeric, adultPreset.numeric)
		def("ordinal", &cmd.ordinal, adultPreset.ordinal)
		def("sensitive", &cmd.sensitive, adultPreset.sensitive)
		def("drop", &cmd.drop, adultPreset.drop)
	default:
		return usageErr("unknown preset %q (known: adult)", cmd.preset)
	}
	if cmd.columns != "" {
		cmd.noHeader = true
	}
	return nil
}

// validate checks the flags that need no file.
func (cmd *anonymizeCmd) validate() error {
	if cmd.in == "" || cmd.out == "" {
		return usageErr("--in and --out are required")
	}
	if !cmd.set["k"] {
		return usageErr("--k is required")
	}
	if cmd.qi == "" {
		return usageErr("--qi is required (or --preset)")
	}
	if cmd.delimiter == `\t` || cmd.delimiter == "tab" {
		cmd.delimiter = "\t"
	}
	delim, size := utf8.DecodeRuneInString(cmd.delimiter)
	if size != len(cmd.delimiter) || delim == utf8.RuneError {
		return usageErr("--delimiter must be one character, got %q", cmd.delimiter)
	}
	cmd.delim = delim
	if cmd.missingRows != "drop" && cmd.missingRows != "keep" {
		return usageErr("--missing-rows must be drop or keep, got %q", cmd.missingRows)
	}
	switch cmd.algorithm {
	case "mondrian":
	case "optimal":
		if cmd.set["cut"] {
			return usageErr("--cut applies to --algorithm mondrian only")
		}
	default:
		return usageErr("--algorithm must be mondrian or optimal, got %q", cmd.algorithm)
	}
	if cmd.cut != "best" && cmd.cut != "median" {
		return usageErr("--cut must be best or median, got %q", cmd.cut)
	}
	if _, ok := metrics[cmd.metric]; !ok {
		return usageErr("--metric must be entropy, loss or discernibility, got %q", cmd.metric)
	}
	if _, ok := lKinds[cmd.lKind]; !ok {
		return usageErr("--l-kind must be distinct, entropy or recursive, got %q", cmd.lKind)
	}
	if _, ok := tKinds[cmd.tKind]; !ok {
		return usageErr("--t-kind must be equal, ordered or hierarchical, got %q", cmd.tKind)
	}
	if cmd.pseudo != "" && cmd.keyFile == "" {
		return usageErr("--pseudonymize needs --key-file")
	}
	cmd.hierFile = map[string]string{}
	for _, hv := range cmd.hiers {
		col, file, ok := strings.Cut(hv, "=")
		if !ok || col == "" || file == "" {
			return usageErr("--hierarchy wants COL=FILE, got %q", hv)
		}
		if _, dup := cmd.hierFile[col]; dup {
			return usageErr("--hierarchy %s given twice", col)
		}
		cmd.hierFile[col] = file
	}
	return nil
}

var (
	metrics = map[string]anonymize.Metric{"entropy": anonymize.NonUniformEntropyMetric,
		"loss": anonymize.LossMetric, "discernibility": anonymize.DiscernibilityMetric}
	lKinds = map[string]anonymize.LKind{"distinct": anonymize.DistinctL, "entropy": anonymize.EntropyL,
		"recursive": anonymize.RecursiveCL}
	tKinds = map[string]anonymize.TKind{"equal": anonymize.EqualDistance, "ordered": anonymize.OrderedDistance,
		"hierarchical": anonymize.HierarchicalDistance}
)

// load reads the input table.
func (cmd *anonymizeCmd) load() (*anonymize.Table, error) {
	f, err := os.Open(cmd.in)
	if err != nil {
		return nil, fmt.Errorf("--in %s: %w", cmd.in, pathErr(err))
	}
	defer f.Close()
	opt := anonymize.CSVOptions{
		Name: cmd.in, Delimiter: cmd.delim, NoHeader: cmd.noHeader, Columns: splitList(cmd.columns),
		Missing: cmd.missing, DropMissing: cmd.missingRows == "drop",
		Progress: func(n int) { fmt.Fprintf(cmd.stderr, "privml anonymize: %d rows read\n", n) },
	}
	return anonymize.ReadCSV(f, opt)
}

// pseudonymize replaces the --pseudonymize columns by keyed pseudonyms.
func (cmd *anonymizeCmd) pseudonymize(tb *anonymize.Table) (*anonymize.Table, error) {
	if cmd.pseudo == "" {
		return tb, nil
	}
	key, err := os.ReadFile(cmd.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--key-file %s: %w", cmd.keyFile, pathErr(err))
	}
	p, err := anonymize.NewPseudonymizer(key)
	clear(key)
	if err != nil {
		return nil, libErr("--key-file "+cmd.keyFile, err)
	}
	for _, col := range splitList(cmd.pseudo) {
		if tb, err = p.PseudonymizeColumn(tb, col); err != nil {
			return nil, libErr("--pseudonymize", err)
		}
	}
	return tb, nil
}

// buildSpec turns the flags into a spec, choosing the kind of every QI
// and saying on stderr which one it chose and why.
func (cmd *anonymizeCmd) buildSpec(tb *anonymize.Table) (anonymize.Spec, []qiReport, error) {
	spec := anonymize.Spec{Sensitive: cmd.sensitive, K: cmd.k, Suppression: cmd.suppression,
		Identifiers: splitList(cmd.identifiers)}
	hier := map[string]*anonymize.Hierarchy{}
	for col, file := range cmd.hierFile {
		h, err := readHierarchyFile(file)
		if err != nil {
			return spec, nil, libErr("--hierarchy "+col, err)
		}
		hier[col] = h
	}
	qis := splitList(cmd.qi)
	qset := map[string]bool{}
	for _, c := range qis {
		qset[c] = true
	}
	for c := range hier {
		if !qset[c] && c != cmd.sensitive {
			return spec, nil, fmt.Errorf("--hierarchy %s: %q is neither a quasi-identifier nor the sensitive column", c, c)
		}
	}
	var reps []qiReport
	for _, c := range qis {
		col, err := tb.Column(c)
		if err != nil {
			return spec, nil, libErr("--qi", err)
		}
		q, r := cmd.chooseKind(col, hier[c])
		spec.QIs = append(spec.QIs, q)
		reps = append(reps, r)
	}
	if cmd.l > 0 || cmd.set["l"] {
		spec.L = &anonymize.LDiversity{L: cmd.l, C: cmd.c, Kind: lKinds[cmd.lKind]}
	}
	if cmd.set["t"] {
		spec.T = &anonymize.TCloseness{T: cmd.t, Kind: tKinds[cmd.tKind]}
		if spec.T.Kind == anonymize.HierarchicalDistance {
			spec.T.Hierarchy = hier[cmd.sensitive]
		}
	}
	return spec, reps, nil
}

// chooseKind picks the kind of a QI column: --numeric, --ordinal, a
// --hierarchy, or else numeric when every value is a finite number and
// ordinal otherwise. It says on stderr what it chose and why.
func (cmd *anonymizeCmd) chooseKind(col *anonymize.Column, h *anonymize.Hierarchy) (anonymize.QI, qiReport) {
	c := col.Name
	q := anonymize.QI{Column: c, Hierarchy: h}
	r := qiReport{Column: c, Values: len(col.Dict)}
	switch {
	case slices.Contains(splitList(cmd.numeric), c):
		q.Kind, r.ChosenBy = anonymize.Numeric, cmd.source("numeric")
	case slices.Contains(splitList(cmd.ordinal), c):
		q.Kind, r.ChosenBy = anonymize.Ordinal, cmd.source("ordinal")
	case h != nil:
		q.Kind, r.ChosenBy = anonymize.Hierarchical, "--hierarchy"
	default:
		if bad, ok := firstNonNumber(col.Dict); ok {
			q.Kind, r.ChosenBy = anonymize.Numeric, "detected: every value is a finite number"
		} else {
			q.Kind, r.ChosenBy = anonymize.Ordinal, fmt.Sprintf("detected: value %q is not a number", bad)
		}
	}
	r.Kind = q.Kind.String()
	note := ""
	if q.Kind == anonymize.Ordinal {
		r.Order = slices.Clone(col.Dict)
		note = ", categories in order of first appearance (pass --report to record it)"
		if cmd.report != "" {
			note = ", categories in order of first appearance (recorded in the report)"
		}
	}
	fmt.Fprintf(cmd.stderr, "privml anonymize: QI %s: %s, %d values%s (%s)\n", c, r.Kind, r.Values, note, r.ChosenBy)
	return q, r
}

// source names what set a flag: the user, or the preset.
func (cmd *anonymizeCmd) source(flag string) string {
	if cmd.set[flag] || cmd.preset == "" {
		return "--" + flag
	}
	return "--preset " + cmd.preset
}

// firstNonNumber reports whether every value parses, trimmed, as a finite
// number with strconv.ParseFloat; if not it returns the first that does
// not. An empty list is not numeric.
func firstNonNumber(vals []string) (string, bool) {
	for _, v := range vals {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return v, false
		}
	}
	return "", len(vals) > 0
}

// releasePlan says which columns leave the table and which are copied
// unchanged.
type releasePlan struct {
	dropped, kept, dependentKept []string
}

// checkRelease adds the --drop columns to the removed ones and refuses
// a column left unchanged that determines, or is determined by, a QI,
// unless --keep-dependent.
func (cmd *anonymizeCmd) checkRelease(tb *anonymize.Table, spec *anonymize.Spec) (releasePlan, error) {
	var plan releasePlan
	role := map[string]string{}
	for _, q := range spec.QIs {
		role[q.Column] = "a quasi-identifier"
	}
	if spec.Sensitive != "" {
		role[spec.Sensitive] = "the sensitive column"
	}
	for _, c := range splitList(cmd.drop) {
		if _, err := tb.Column(c); err != nil {
			return plan, libErr("--drop", err)
		}
		if r, ok := role[c]; ok {
			return plan, usageErr("--drop %s: %q is %s", c, c, r)
		}
		if !slices.Contains(spec.Identifiers, c) {
			spec.Identifiers = append(spec.Identifiers, c)
		}
	}
	removed := map[string]bool{}
	for _, c := range spec.Identifiers {
		if !removed[c] {
			removed[c] = true
			plan.dropped = append(plan.dropped, c)
		}
	}
	for _, c := range tb.Names() {
		if _, hasRole := role[c]; (!hasRole || c == spec.Sensitive) && !removed[c] {
			plan.kept = append(plan.kept, c)
		}
	}
	deps, err := anonymize.DependentColumns(tb, *spec)
	if err != nil {
		return plan, libErr("--identifiers/--drop", err)
	}
	if len(deps) == 0 {
		return plan, nil
	}
	var names, descs []string
	seen := map[string]bool{}
	for _, d := range deps {
		descs = append(descs, d.String())
		if !seen[d.Column] {
			seen[d.Column] = true
			names = append(names, d.Column)
		}
	}
	if !cmd.keepDependent {
		return plan, fmt.Errorf("columns left unchanged reveal a quasi-identifier: %s; remove them with --drop %s, make them QIs, or release them anyway with --keep-dependent",
			strings.Join(descs, ", "), strings.Join(names, ","))
	}
	spec.KeepDependent = true
	plan.dependentKept = descs
	fmt.Fprintf(cmd.stderr, "privml anonymize: --keep-dependent: releasing %s unchanged although %s\n", strings.Join(names, ", "), strings.Join(descs, ", "))
	return plan, nil
}

// anonymize runs the chosen algorithm.
func (cmd *anonymizeCmd) anonymize(tb *anonymize.Table, spec anonymize.Spec) (*anonymize.Result, error) {
	if cmd.algorithm == "optimal" {
		return anonymize.Optimal(tb, spec, &anonymize.OptimalOptions{Metric: metrics[cmd.metric]})
	}
	cut := anonymize.BestCut
	if cmd.cut == "median" {
		cut = anonymize.MedianCut
	}
	return anonymize.Mondrian(tb, spec, &anonymize.MondrianOptions{Cut: cut})
}

// verifyAndWrite verifies the output independently while writing it to
// the temporary output file; the file becomes the output only if both
// succeed (at commit).
func (cmd *anonymizeCmd) verifyAndWrite(tb *anonymize.Table, res *anonymize.Result, spec anonymize.Spec, out *pendingFile) (*anonymize.Report, error) {
	werr := make(chan error, 1)
	go func() { werr <- out.write(func(w io.Writer) error { return res.Output.WriteCSV(w, cmd.delim) }) }()
	rep, verr := anonymize.Verify(tb, res.Output, spec)
	err := <-werr
	if verr != nil {
		return nil, libErr("output rejected, nothing written", verr)
	}
	return rep, err
}

// buildReport gathers the figures of the run.
func (cmd *anonymizeCmd) buildReport(tb *anonymize.Table, spec anonymize.Spec, qis []qiReport, plan releasePlan,
	res *anonymize.Result, rep *anonymize.Report) anonymizeReport {
	r := anonymizeReport{
		Algorithm: cmd.algorithm, K: cmd.k, QIs: qis, Sensitive: spec.Sensitive,
		DroppedColumns: nonNil(plan.dropped), KeptColumns: nonNil(plan.kept), DependentKept: plan.dependentKept,
		RowsRead: tb.Rows() + tb.DroppedRows(), RowsDroppedMissing: tb.DroppedRows(),
		RowsIn: rep.RowsIn, RowsOut: rep.RowsOut, SuppressedRows: rep.Suppressed,
		EquivalenceClasses: rep.Classes, KMin: rep.KMin, NCPPercent: rep.NCP, Discernibility: rep.Discernibility,
		CAvg: rep.CAvg, NonUniformEntropy: rep.NonUniformEntropy, ProsecutorMax: rep.ProsecutorMax,
		ProsecutorAvg: rep.ProsecutorAvg, SampleUniques: rep.SampleUniques,
		Node: res.Node, NodesChecked: res.NodesChecked, NodesTotal: res.NodesTotal,
		AlgorithmMS: ms(res.Duration), Verified: true,
	}
	if cmd.algorithm == "mondrian" {
		r.Cut = cmd.cut
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
		r.LMin, r.LKind = &v, cmd.lKind
	}
	if spec.T != nil {
		v := rep.TMax
		r.TMax = &v
	}
	r.TotalMS = ms(time.Since(processStart))
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// readHierarchyFile reads an ARX hierarchy, or a leaf;parent;... tree of
// uneven depth when the file is not uniform.
func readHierarchyFile(path string) (*anonymize.Hierarchy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, pathErr(err))
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
