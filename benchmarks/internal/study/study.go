// Package study is the shared plumbing of the privacy/utility studies
// under benchmarks/: the results folder, the run-information header (Go
// version, CPU, GOMAXPROCS, seed, wall time), progress lines, Markdown
// tables, PNG line plots and the data-set folder.
package study

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Run is one study run: where its outputs go and what it records.
type Run struct {
	Name  string    // study name, the stem of its output files
	Dir   string    // results folder
	Seed  uint64    // seed of every random choice of the run
	Quick bool      // tiny settings
	Out   io.Writer // progress
	start time.Time
}

// NewRun creates dir if needed and starts the wall clock.
func NewRun(name, dir string, seed uint64, quick bool, out io.Writer) (*Run, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: cannot create results folder: %w", name, err)
	}
	if quick {
		name += "-quick"
	}
	return &Run{Name: name, Dir: dir, Seed: seed, Quick: quick, Out: out, start: time.Now()}, nil
}

// Progress prints one progress line with the elapsed time.
func (r *Run) Progress(format string, args ...any) {
	fmt.Fprintf(r.Out, "[%s %6.1fs] %s\n", r.Name, time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// Path returns the path of an output file of the run: Dir/Name + suffix.
func (r *Run) Path(suffix string) string { return filepath.Join(r.Dir, r.Name+suffix) }

// Info is the run-information header of a results file.
func (r *Run) Info() string {
	return fmt.Sprintf("Go %s, %s/%s, CPU %s, GOMAXPROCS=%d, seed %d, wall time %.1f s, %s",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, CPUModel(), runtime.GOMAXPROCS(0), r.Seed,
		time.Since(r.start).Seconds(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

// CPUModel returns the "model name" of /proc/cpuinfo, or "unknown".
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// Table is a Markdown table.
type Table struct {
	Header []string
	Rows   [][]string
}

// Add appends a row of cells formatted with %v (floats with %.4g unless
// already strings).
func (t *Table) Add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		switch v := c.(type) {
		case string:
			row[i] = v
		case float64:
			row[i] = fmt.Sprintf("%.4g", v)
		default:
			row[i] = fmt.Sprint(v)
		}
	}
	t.Rows = append(t.Rows, row)
}

// Markdown renders the table.
func (t *Table) Markdown() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	line(t.Header)
	sep := make([]string, len(t.Header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range t.Rows {
		line(r)
	}
	return b.String()
}

// Section is one titled part of a results file: a table and notes.
type Section struct {
	Title string
	Table *Table
	Notes string
}

// WriteMarkdown writes Dir/Name.md: a title, the command, the run
// information, then the sections. It returns the path.
func (r *Run) WriteMarkdown(title, command string, sections ...Section) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n```\n%s\n```\n\n%s\n", title, command, r.Info())
	for _, s := range sections {
		if s.Title != "" {
			fmt.Fprintf(&b, "\n### %s\n", s.Title)
		}
		if s.Table != nil {
			if len(s.Table.Rows) == 0 {
				return "", fmt.Errorf("%s: table %q has no rows", r.Name, s.Title)
			}
			b.WriteString("\n" + s.Table.Markdown())
		}
		if s.Notes != "" {
			b.WriteString("\n" + strings.TrimSpace(s.Notes) + "\n")
		}
	}
	p := r.Path(".md")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("%s: %w", r.Name, err)
	}
	r.Progress("wrote %s", p)
	return p, nil
}

// DatasetsDir returns the folder of the shared data sets: flagDir if set,
// else $PRIVML_DATASETS, else ../shared/datasets beside the repository root
// (the first folder above the working directory with a go.mod).
func DatasetsDir(flagDir string) string {
	if flagDir != "" {
		return flagDir
	}
	if d := os.Getenv("PRIVML_DATASETS"); d != "" {
		return d
	}
	root, ok := RepoRoot()
	if !ok {
		return filepath.Join("..", "shared", "datasets")
	}
	return filepath.Join(root, "..", "shared", "datasets")
}

// MissingData wraps a not-found error for a data file with how to get it.
func MissingData(what, path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s not found at %s: pass -data with the folder of the shared data sets, or set PRIVML_DATASETS, "+
			"or run with -quick (data in the repository only): %w", what, path, err)
	}
	return err
}

// ResultsDir returns benchmarks/results beside the repository root, or
// "results" when no go.mod is found above the working directory.
func ResultsDir() string {
	root, ok := RepoRoot()
	if !ok {
		return "results"
	}
	return filepath.Join(root, "benchmarks", "results")
}

// RepoRoot returns the repository root (the first folder above the working
// directory with a go.mod) and whether there is one.
func RepoRoot() (string, bool) {
	root, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, true
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", false
		}
		root = parent
	}
}
