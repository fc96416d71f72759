// Command anonymize-beam releases a k-anonymous (optionally l-diverse and
// t-close) version of a sharded CSV or Parquet table with the Mondrian algorithm
// (LeFevre, DeWitt and Ramakrishnan 2006) run as an Apache Beam pipeline,
// then verifies the output in the same pipeline. It takes the table and
// model flags of `privml anonymize`:
//
//	go run ./beam/cmd/anonymize-beam --preset adult --in 'adult_x100/*.csv' --out out/ --k 10 --runner prism
//
// (from the repository root, whose go.work includes this module). Parquet
// files are read when the glob ends in .parquet, .parq or .pq, or with
// --format parquet; --out-format csv|parquet picks the output format
// (default: the input's). As `privml anonymize` does, a column left
// unchanged that determines, or is determined by, a single QI is refused
// unless --keep-dependent; remove it with --drop.
//
// The top --levels levels of the partition tree are cut in the pipeline
// from per-partition histograms; partitions of at most --local-threshold
// rows are finished on one worker by package anonymize. The output is
// written to --out as part-SSSSS-of-NNNNN.csv files, each with a header
// (or part-SSSSS-of-NNNNN.parquet files);
// when the verification fails the command exits with status 1 and, on a
// local filesystem, removes them.
//
// Beam's own flags select the runner: --runner prism (the default, in
// process), or --runner flink|spark|universal with --endpoint HOST:PORT of
// the job server and --environment_type (DOCKER, PROCESS, EXTERNAL or
// LOOPBACK) with --environment_config, or --runner dataflow with
// --project, --region, --staging_location and --temp_location (gs://
// paths). --in, --out and --report may then be gs:// or s3:// paths.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	"github.com/privml/privml/beam/kanon"
	"github.com/privml/privml/internal/dataset"
)

// adultPreset is the set-up of `privml anonymize --preset adult`.
var adultPreset = struct {
	qi, numeric, ordinal, sensitive, drop string
}{
	qi:        "age,workclass,education-num,marital-status,occupation,race,sex,native-country",
	numeric:   "age,education-num",
	ordinal:   "workclass,marital-status,occupation,race,sex,native-country",
	sensitive: "salary",
	drop:      "fnlwgt,education,relationship,capital-gain,capital-loss,hours-per-week",
}

type command struct {
	in, out, report, preset, columns, qi, numeric, ordinal, sensitive     string
	identifiers, drop, missing, missingRows, delimiter, cut, lKind, tKind string
	format, outFormat                                                     string
	k, levels, localThreshold, shards                                     int
	l, c, t                                                               float64
	hasT, keepDependent                                                   bool
	set                                                                   map[string]bool
}

func (cmd *command) define(fs *flag.FlagSet) {
	fs.StringVar(&cmd.in, "in", "", "input `glob` of CSV or Parquet files (sharded, read in name order; required)")
	fs.StringVar(&cmd.out, "out", "", "output `folder` for part-*.csv files with a header or part-*.parquet files (required)")
	fs.StringVar(&cmd.format, "format", "", "input `format`: csv or parquet (default: parquet when --in ends in .parquet, .parq or .pq, csv otherwise)")
	fs.StringVar(&cmd.outFormat, "out-format", "", "output `format`: csv or parquet (default: the input format)")
	fs.StringVar(&cmd.report, "report", "", "write the JSON verification report to `file`")
	fs.StringVar(&cmd.preset, "preset", "", "`name` of a preset: adult (UCI adult.data, as privml anonymize --preset adult)")
	fs.StringVar(&cmd.columns, "columns", "", "column `names` of input without header, comma-separated")
	fs.StringVar(&cmd.qi, "qi", "", "quasi-identifier `columns`, comma-separated")
	fs.StringVar(&cmd.numeric, "numeric", "", "numeric QI `columns` (default: QIs whose values all parse as finite numbers)")
	fs.StringVar(&cmd.ordinal, "ordinal", "", "ordinal QI `columns` (order of first appearance, files in name order)")
	fs.StringVar(&cmd.sensitive, "sensitive", "", "sensitive `column`")
	fs.StringVar(&cmd.identifiers, "identifiers", "", "identifier `columns` to remove")
	fs.StringVar(&cmd.drop, "drop", "", "`columns` to remove from the output (such as columns that reveal a QI)")
	fs.BoolVar(&cmd.keepDependent, "keep-dependent", false, "release columns that determine or are determined by a QI (refused by default)")
	fs.StringVar(&cmd.missing, "missing", "", "missing-value `token`, such as ?")
	fs.StringVar(&cmd.missingRows, "missing-rows", "drop", "rows holding the missing token: drop or keep")
	fs.StringVar(&cmd.delimiter, "delimiter", ",", "field `delimiter` (one character; \\t or tab for a tab)")
	fs.IntVar(&cmd.k, "k", 0, "k of k-anonymity (required, at least 2)")
	fs.Float64Var(&cmd.l, "l", 0, "l of l-diversity (0: none)")
	fs.StringVar(&cmd.lKind, "l-kind", "distinct", "l-diversity `kind`: distinct, entropy or recursive")
	fs.Float64Var(&cmd.c, "c", 0, "c of recursive (c,l)-diversity")
	fs.Func("t", "t of t-closeness, in [0, 1] (unset: no t-closeness)", func(v string) error {
		x, err := strconv.ParseFloat(v, 64)
		cmd.t, cmd.hasT = x, true
		return err
	})
	fs.StringVar(&cmd.tKind, "t-kind", "equal", "t-closeness ground `distance`: equal (the only one supported here)")
	fs.StringVar(&cmd.cut, "cut", "best", "Mondrian cut `rule`: best (most balanced allowable cut) or median (the paper's median cut only)")
	fs.IntVar(&cmd.levels, "levels", -1, "levels of the partition tree cut in the pipeline (-1: enough to bring the estimated row count below --local-threshold, plus two)")
	fs.IntVar(&cmd.localThreshold, "local-threshold", 100000, "partitions of at most this many `rows` are finished on one worker")
	fs.IntVar(&cmd.shards, "shards", 0, "number of output files (0: as many as input files)")
}

func main() {
	cmd := &command{set: map[string]bool{}}
	cmd.define(flag.CommandLine)
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: anonymize-beam --in GLOB --out DIR --k K [flags] [--runner prism|flink|spark|dataflow ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	beam.Init()
	flag.Visit(func(f *flag.Flag) { cmd.set[f.Name] = true })
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "anonymize-beam: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	os.Exit(cmd.run(context.Background(), os.Stdout, os.Stderr))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// applyPreset sets the flags a preset defines and the user left unset; it
// reports whether the preset's input has no header.
func (cmd *command) applyPreset() (noHeader bool, err error) {
	switch cmd.preset {
	case "":
		return false, nil
	case "adult":
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
		return true, nil
	}
	return false, fmt.Errorf("unknown preset %q (known: adult)", cmd.preset)
}

// checkFlags refuses missing and unknown flag values.
func (cmd *command) checkFlags() error {
	switch {
	case cmd.in == "":
		return errors.New("--in is required")
	case cmd.out == "":
		return errors.New("--out is required")
	case cmd.qi == "":
		return errors.New("--qi is required (or --preset)")
	case cmd.tKind != "equal":
		return fmt.Errorf("--t-kind %s: anonymize-beam supports the equal ground distance only", cmd.tKind)
	case cmd.cut != "best" && cmd.cut != "median":
		return fmt.Errorf("--cut %s: want best or median", cmd.cut)
	case cmd.missingRows != "drop" && cmd.missingRows != "keep":
		return fmt.Errorf("--missing-rows %s: want drop or keep", cmd.missingRows)
	}
	for _, f := range []struct{ name, v string }{{"format", cmd.format}, {"out-format", cmd.outFormat}} {
		if f.v != "" && f.v != kanon.FormatCSV && f.v != kanon.FormatParquet {
			return fmt.Errorf("--%s %s: want csv or parquet", f.name, f.v)
		}
	}
	return nil
}

// inputColumns sets the input format and columns of cfg: from a Parquet
// file's schema, from --columns (or the preset) or from the header of the
// first CSV file.
func (cmd *command) inputColumns(ctx context.Context, cfg *kanon.Config, files []string, noHeader bool) error {
	cfg.Format = cmp.Or(cmd.format, kanon.FormatOf(cmd.in))
	cfg.OutFormat = cmp.Or(cmd.outFormat, cfg.Format)
	var err error
	switch {
	case cfg.Format == kanon.FormatParquet:
		if cmd.set["columns"] {
			return errors.New("--columns: Parquet files name their columns in their schema")
		}
		cfg.Columns, err = kanon.ParquetColumns(ctx, files[0])
	case cmd.columns != "" || noHeader:
		cfg.Columns = splitList(cmd.columns)
	default:
		cfg.Columns, err = kanon.ReadHeader(ctx, files[0], cfg.Delimiter)
		cfg.Header = true
	}
	return err
}

// config turns the flags into a kanon.Config; files are the inputs.
func (cmd *command) config(ctx context.Context) (kanon.Config, []string, error) {
	var cfg kanon.Config
	noHeader, err := cmd.applyPreset()
	if err != nil {
		return cfg, nil, err
	}
	if err := cmd.checkFlags(); err != nil {
		return cfg, nil, err
	}
	if cfg.Delimiter, err = parseDelim(cmd.delimiter); err != nil {
		return cfg, nil, err
	}
	files, err := kanon.ExpandGlob(ctx, cmd.in)
	if err != nil {
		return cfg, nil, err
	}
	if err := cmd.inputColumns(ctx, &cfg, files, noHeader); err != nil {
		return cfg, nil, err
	}
	if cmd.missingRows == "drop" {
		cfg.Missing, cfg.DropMissing = cmd.missing, true
	}
	numeric, ordinal := splitList(cmd.numeric), splitList(cmd.ordinal)
	for _, q := range splitList(cmd.qi) {
		qi := kanon.QI{Column: q}
		switch {
		case slices.Contains(numeric, q):
			qi.Kind = "numeric"
		case slices.Contains(ordinal, q):
			qi.Kind = "ordinal"
		}
		cfg.QIs = append(cfg.QIs, qi)
	}
	cfg.Sensitive = cmd.sensitive
	cfg.Drop = append(splitList(cmd.identifiers), splitList(cmd.drop)...)
	cfg.K, cfg.Median = cmd.k, cmd.cut == "median"
	if cmd.l > 0 {
		cfg.LKind, cfg.L, cfg.C = cmd.lKind, cmd.l, cmd.c
	}
	cfg.T, cfg.HasT = cmd.t, cmd.hasT
	cfg.KeepDependent = cmd.keepDependent
	cfg.Levels, cfg.LocalThreshold, cfg.Shards = cmd.levels, cmd.localThreshold, cmd.shards
	if cfg.Levels < 0 {
		rows, err := kanon.EstimateRows(ctx, files)
		if err != nil {
			return cfg, nil, err
		}
		cfg.Levels = kanon.AutoLevels(rows, cfg.LocalThreshold)
	}
	if err := checkColumns(cfg); err != nil {
		return cfg, nil, err
	}
	return cfg, files, cfg.Validate()
}

// checkColumns refuses, in the words of `privml anonymize`, a flag naming
// a column the input does not have and --drop naming a QI or the
// sensitive column.
func checkColumns(cfg kanon.Config) error {
	have := func(flag string, names ...string) error {
		for _, n := range names {
			if !slices.Contains(cfg.Columns, n) {
				return fmt.Errorf("%s: unknown or conflicting column: no column %q (have %s)", flag, n, strings.Join(cfg.Columns, ", "))
			}
		}
		return nil
	}
	qis := make([]string, len(cfg.QIs))
	for i, q := range cfg.QIs {
		qis[i] = q.Column
	}
	if err := have("--qi", qis...); err != nil {
		return err
	}
	if cfg.Sensitive != "" {
		if err := have("--sensitive", cfg.Sensitive); err != nil {
			return err
		}
	}
	if err := have("--identifiers/--drop", cfg.Drop...); err != nil {
		return err
	}
	for _, d := range cfg.Drop {
		switch {
		case slices.Contains(qis, d):
			return fmt.Errorf("--drop %s: %q is a quasi-identifier", d, d)
		case d == cfg.Sensitive:
			return fmt.Errorf("--drop %s: %q is the sensitive column", d, d)
		}
	}
	return nil
}

func parseDelim(s string) (rune, error) {
	switch s {
	case `\t`, "tab":
		return '\t', nil
	}
	r := []rune(s)
	if len(r) != 1 || r[0] == '"' || r[0] == '\n' || r[0] == '\r' {
		return 0, fmt.Errorf("--delimiter %q: want one character other than a quote or line break", s)
	}
	return r[0], nil
}

func (cmd *command) run(ctx context.Context, stdout, stderr io.Writer) int {
	start := time.Now()
	cfg, files, err := cmd.config(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "anonymize-beam: %v\n", err)
		return 2
	}
	if !strings.Contains(cmd.out, "://") {
		if err := os.MkdirAll(cmd.out, 0o755); err != nil {
			fmt.Fprintf(stderr, "anonymize-beam: --out %s: %v\n", cmd.out, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "anonymize-beam: %d input files, %d columns, %d QIs, k = %d, %d levels in the pipeline, local threshold %d rows\n",
		len(files), len(cfg.Columns), len(cfg.QIs), cfg.K, cfg.Levels, cfg.LocalThreshold)
	p, s := beam.NewPipelineWithRoot()
	if _, err := kanon.Build(s, cfg, files, cmd.out, cmd.report); err != nil {
		fmt.Fprintf(stderr, "anonymize-beam: %v\n", err)
		return 2
	}
	res, err := beamx.RunWithMetrics(ctx, p)
	if err != nil {
		fmt.Fprintf(stderr, "anonymize-beam: %s\n", Cause(err))
		return 1
	}
	verified := printMetrics(stdout, res)
	fmt.Fprintf(stdout, "wall time: %.1f s\n", time.Since(start).Seconds())
	if !verified {
		fmt.Fprintf(stderr, "anonymize-beam: the output does not pass verification (see --report)\n")
		if !strings.Contains(cmd.out, "://") {
			olds, _ := filepath.Glob(filepath.Join(cmd.out, "part-*-of-*."+cfg.OutFormat))
			for _, f := range olds {
				os.Remove(f)
			}
		}
		return 1
	}
	return 0
}

// printMetrics prints the pipeline's counters and reports whether the
// verification counter says the output passed (verification_failed is
// counted otherwise). Runners that report no
// metrics count as passed; the report file is then the record.
func printMetrics(w io.Writer, res beam.PipelineResult) bool {
	if res == nil {
		return true
	}
	cs := res.Metrics().AllMetrics().Counters()
	sort.Slice(cs, func(i, j int) bool { return cs[i].Key.Name < cs[j].Key.Name })
	verified := len(cs) == 0
	for _, c := range cs {
		if c.Key.Namespace != "privml" {
			continue
		}
		fmt.Fprintf(w, "%-32s %d\n", c.Key.Name, c.Result())
		if c.Key.Name == "verified" && c.Result() > 0 {
			verified = true
		}
	}
	return verified
}

// Cause returns the part of a pipeline error that the pipeline's own
// code wrote (from "kanon: " on), without the runner's plan dump.
func Cause(err error) string {
	msg := err.Error()
	i := strings.LastIndex(msg, "kanon: ")
	if i < 0 {
		return msg
	}
	msg = msg[i+len("kanon: "):]
	if j := strings.IndexByte(msg, '\n'); j >= 0 {
		msg = msg[:j]
	}
	return msg
}
