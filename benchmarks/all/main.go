// Command all runs every privacy/utility study of benchmarks/, checks
// that each wrote a non-empty Markdown table and PNGs that decode, and
// (full runs only) rewrites the trade-off section of BENCHMARKS.md
// between the markers <!-- tradeoffs:begin --> and <!-- tradeoffs:end -->
// from the results files.
//
//	go run ./benchmarks/all [-quick] [-data DIR] [-only dpsgd,fed,anon,he,audit] [-out DIR]
//	go run ./benchmarks/all -section-only
//
// -section-only runs nothing: it checks the existing results and rewrites
// the section. With -quick every study runs on tiny settings and the data in the repository (under
// a minute on 2 cores) into a temporary folder unless -out is given, and
// BENCHMARKS.md is left alone.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/privml/privml/benchmarks/internal/anonstudy"
	"github.com/privml/privml/benchmarks/internal/auditstudy"
	"github.com/privml/privml/benchmarks/internal/dpsgdstudy"
	"github.com/privml/privml/benchmarks/internal/fedstudy"
	"github.com/privml/privml/benchmarks/internal/hestudy"
	"github.com/privml/privml/benchmarks/internal/study"
)

func main() {
	if err := Main(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "all:", err)
		os.Exit(1)
	}
}

// entry is one study: its name (the stem of its outputs), its command
// directory, its entry point, whether it takes -data, and its output
// suffixes.
type entry struct {
	name, cmd string
	main      func([]string, io.Writer) error
	data      bool
	outputs   []string
}

var studies = []entry{
	{"dpsgd", "dpsgd-study", dpsgdstudy.Main, true, []string{".md", ".png"}},
	{"fed", "fed-study", fedstudy.Main, false, []string{".md", ".png"}},
	{"anon", "anon-study", anonstudy.Main, true, []string{".md", "-ncp.png", "-accuracy.png"}},
	{"he", "he-study", hestudy.Main, true, []string{".md", ".png"}},
	{"audit", "audit", auditstudy.Main, false, []string{".md", ".png"}},
}

const (
	beginMarker = "<!-- tradeoffs:begin -->"
	endMarker   = "<!-- tradeoffs:end -->"
)

// Main runs the studies with the command-line args, printing progress to
// out.
func Main(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("all", flag.ContinueOnError)
	fs.SetOutput(out)
	quick := fs.Bool("quick", false, "tiny settings and embedded data; results to a temporary folder unless -out is given; BENCHMARKS.md untouched")
	data := fs.String("data", "", "folder of the shared data sets (default: $PRIVML_DATASETS, else ../shared/datasets beside the repository)")
	only := fs.String("only", "", "comma-separated studies to run (default all: dpsgd,fed,anon,he,audit)")
	dir := fs.String("out", "", "results folder (default benchmarks/results; with -quick a temporary folder)")
	sectionOnly := fs.Bool("section-only", false, "run no study: check the existing results and rewrite the BENCHMARKS.md section from them")
	bench := fs.String("benchmarks", "", "BENCHMARKS.md to update (default: the one at the repository root)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		*dir = study.ResultsDir()
		if *quick {
			*dir = filepath.Join(os.TempDir(), "privml-quick-results")
		}
	}
	run, err := selectStudies(*only)
	if err != nil {
		return err
	}
	if *sectionOnly {
		if *quick {
			return fmt.Errorf("-section-only and -quick: the section is made from full runs only")
		}
		for _, s := range run {
			if err := checkOutputs(*dir, s, false); err != nil {
				return err
			}
		}
		run = nil
	}
	start := time.Now()
	for _, s := range run {
		a := []string{"-out", *dir}
		if *quick {
			a = append(a, "-quick")
		}
		if s.data && *data != "" {
			a = append(a, "-data", *data)
		}
		fmt.Fprintf(out, "== %s (go run ./benchmarks/%s %s)\n", s.name, s.cmd, strings.Join(a, " "))
		if err := s.main(a, out); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := checkOutputs(*dir, s, *quick); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "all studies done in %.1f s; outputs in %s checked\n", time.Since(start).Seconds(), *dir)
	if *quick {
		return nil
	}
	if *bench == "" {
		*bench = filepath.Join(filepath.Dir(filepath.Dir(study.ResultsDir())), "BENCHMARKS.md")
	}
	return updateBenchmarks(*bench, *dir, out)
}

func selectStudies(only string) ([]entry, error) {
	if only == "" {
		return studies, nil
	}
	var out []entry
	for _, n := range strings.Split(only, ",") {
		i := slices.IndexFunc(studies, func(e entry) bool { return e.name == strings.TrimSpace(n) })
		if i < 0 {
			return nil, fmt.Errorf("-only: unknown study %q (known: dpsgd, fed, anon, he, audit)", n)
		}
		out = append(out, studies[i])
	}
	return out, nil
}

var tableRow = regexp.MustCompile(`(?m)^\| --- (\| --- )*\|\n\|[^\n]*\|$`)

// checkOutputs checks that a study wrote a Markdown file with a table of at
// least one row and PNGs that decode.
func checkOutputs(dir string, s entry, quick bool) error {
	stem := s.name
	if quick {
		stem += "-quick"
	}
	for _, suf := range s.outputs {
		p := filepath.Join(dir, stem+suf)
		if strings.HasSuffix(suf, ".png") {
			if err := study.CheckPNG(p); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if !tableRow.Match(b) {
			return fmt.Errorf("%s: %s has no Markdown table with a row", s.name, p)
		}
	}
	return nil
}

// updateBenchmarks rewrites the trade-off section of the file at path from
// the results in dir (every study whose Markdown file exists).
func updateBenchmarks(path, dir string, out io.Writer) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot update %s: %w", path, err)
	}
	var b strings.Builder
	b.WriteString(beginMarker + "\n")
	b.WriteString("## Privacy/utility trade-offs\n\nGenerated by `go run ./benchmarks/all` from the files in `benchmarks/results/`; each study runs alone with the command shown, `-quick` for a tiny run.\n")
	rel, err := filepath.Rel(filepath.Dir(path), dir)
	if err != nil {
		rel = dir
	}
	for _, s := range studies {
		md, err := os.ReadFile(filepath.Join(dir, s.name+".md"))
		if err != nil {
			continue
		}
		b.WriteString("\n" + demote(string(md)))
		for _, suf := range s.outputs {
			if strings.HasSuffix(suf, ".png") {
				fmt.Fprintf(&b, "\n![%s](%s)\n", s.name+suf, filepath.ToSlash(filepath.Join(rel, s.name+suf)))
			}
		}
	}
	b.WriteString(endMarker)
	text := string(old)
	i, j := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	switch {
	case i >= 0 && j > i:
		text = text[:i] + b.String() + text[j+len(endMarker):]
	case i < 0 && j < 0:
		text = strings.TrimRight(text, "\n") + "\n\n" + b.String() + "\n"
	default:
		return fmt.Errorf("%s: markers %s and %s are not a pair in order", path, beginMarker, endMarker)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "updated %s\n", path)
	return nil
}

// demote turns the headings of a results file one level down (## → ###).
func demote(md string) string {
	lines := strings.Split(md, "\n")
	fence := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if !fence && strings.HasPrefix(l, "#") {
			lines[i] = "#" + l
		}
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n") + "\n"
}
