package kanon

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// ErrConfig is wrapped by every error about the configuration; errors
// found in the data while the pipeline runs name the file and line.
var ErrConfig = errors.New("kanon: configuration")

// QI is one quasi-identifier column. Kind is "numeric" (ranges of
// numbers), "ordinal" (ranges of categories in order of first appearance
// in the input, files in name order) or "" (numeric when every value is a
// finite number, as `privml anonymize` decides).
type QI struct {
	Column string
	Kind   string
}

// Config describes the table and the privacy model. Its fields are
// exported so that Beam can ship it to the workers.
type Config struct {
	// Columns names the input columns in order. With Header set, the
	// first line of every file is a header and must equal Columns.
	Columns []string
	Header  bool
	// Delimiter separates fields (',' when zero).
	Delimiter rune
	// Missing, when not empty, is the missing-value token; rows holding
	// it are dropped when DropMissing is set (the only mode supported).
	Missing     string
	DropMissing bool
	QIs         []QI
	// Sensitive is the sensitive column (needed by L and T).
	Sensitive string
	// Drop lists the columns removed from the output (identifiers and
	// columns that would reveal a QI).
	Drop []string
	K    int
	// LKind is "", "distinct", "entropy" or "recursive"; L and C its
	// parameters.
	LKind string
	L, C  float64
	// T, when HasT, is the bound of t-closeness under the equal ground
	// distance.
	T    float64
	HasT bool
	// Median selects the median cut of LeFevre et al. 2006 instead of the
	// most balanced allowable cut (anonymize.MedianCut vs BestCut).
	Median bool
	// Levels bounds the levels of the partition tree cut in the
	// pipeline; LocalThreshold is the partition size at or below which a
	// partition is finished on one worker instead.
	Levels, LocalThreshold int
	// Shards is the number of output files.
	Shards int
	// Format is the format of the input files and OutFormat that of the
	// output files: FormatCSV ("" too) or FormatParquet. With Parquet
	// input, Columns are the column names of the files' schema and
	// Header and Delimiter do not apply to the input.
	Format, OutFormat string
	// KeepDependent releases columns that determine, or are determined
	// by, a single QI (see anonymize.DependentColumns); without it the
	// pipeline fails on them before writing anything.
	KeepDependent bool
}

// Validate checks the configuration against the input columns.
func (c *Config) Validate() error {
	if len(c.Columns) == 0 {
		return fmt.Errorf("%w: no input columns", ErrConfig)
	}
	seen := map[string]bool{}
	for i, n := range c.Columns {
		if n == "" {
			return fmt.Errorf("%w: column %d has an empty name", ErrConfig, i+1)
		}
		if seen[n] {
			return fmt.Errorf("%w: column %q appears twice", ErrConfig, n)
		}
		seen[n] = true
	}
	have := func(n string) error {
		if !seen[n] {
			return fmt.Errorf("%w: no column %q (have %s)", ErrConfig, n, strings.Join(c.Columns, ", "))
		}
		return nil
	}
	if len(c.QIs) == 0 {
		return fmt.Errorf("%w: no quasi-identifier", ErrConfig)
	}
	roles := map[string]string{}
	claim := func(n, role string) error {
		if err := have(n); err != nil {
			return err
		}
		if r, ok := roles[n]; ok {
			return fmt.Errorf("%w: column %q is both %s and %s", ErrConfig, n, r, role)
		}
		roles[n] = role
		return nil
	}
	for _, q := range c.QIs {
		if err := claim(q.Column, "quasi-identifier"); err != nil {
			return err
		}
		if q.Kind != "" && q.Kind != "numeric" && q.Kind != "ordinal" {
			return fmt.Errorf("%w: quasi-identifier %q has unknown kind %q", ErrConfig, q.Column, q.Kind)
		}
	}
	if c.Sensitive != "" {
		if err := claim(c.Sensitive, "sensitive"); err != nil {
			return err
		}
	}
	for _, d := range c.Drop {
		if err := claim(d, "dropped"); err != nil {
			return err
		}
	}
	if c.K < 2 {
		return fmt.Errorf("%w: k = %d, must be at least 2", ErrConfig, c.K)
	}
	switch c.LKind {
	case "":
	case "distinct", "recursive":
		if !(c.L >= 1) || c.L != math.Trunc(c.L) || math.IsInf(c.L, 0) {
			return fmt.Errorf("%w: l = %v, must be an integer of at least 1", ErrConfig, c.L)
		}
		if c.LKind == "recursive" && !(c.C > 0 && !math.IsInf(c.C, 0)) {
			return fmt.Errorf("%w: c = %v of recursive (c,l)-diversity must be positive", ErrConfig, c.C)
		}
	case "entropy":
		if !(c.L >= 1) || math.IsInf(c.L, 0) {
			return fmt.Errorf("%w: l = %v, must be at least 1", ErrConfig, c.L)
		}
	default:
		return fmt.Errorf("%w: unknown l-diversity kind %q", ErrConfig, c.LKind)
	}
	if c.HasT && !(c.T >= 0 && c.T <= 1) {
		return fmt.Errorf("%w: t = %v outside [0, 1]", ErrConfig, c.T)
	}
	if (c.LKind != "" || c.HasT) && c.Sensitive == "" {
		return fmt.Errorf("%w: l-diversity and t-closeness need a sensitive column", ErrConfig)
	}
	for _, f := range []string{c.Format, c.OutFormat} {
		if f != "" && f != FormatCSV && f != FormatParquet {
			return fmt.Errorf("%w: format %q, want csv or parquet", ErrConfig, f)
		}
	}
	if c.Levels < 0 || c.LocalThreshold < 0 || c.Shards < 0 {
		return fmt.Errorf("%w: levels, local threshold and shards must not be negative", ErrConfig)
	}
	return nil
}

// outColumns returns the output columns: the input columns minus Drop.
func (c *Config) outColumns() []string {
	var out []string
	for _, n := range c.Columns {
		if !slices.Contains(c.Drop, n) {
			out = append(out, n)
		}
	}
	return out
}

func (c *Config) needSens() bool { return c.LKind != "" || c.HasT }

func (c *Config) delim() rune {
	if c.Delimiter == 0 {
		return ','
	}
	return c.Delimiter
}
