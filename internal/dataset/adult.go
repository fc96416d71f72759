package dataset

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Column indexes of an [AdultRecord], in the order of the UCI file.
const (
	AdultAge           = iota // integer, 17..90
	AdultWorkclass            // categorical, 8 values
	AdultFnlwgt               // integer (final weight)
	AdultEducation            // categorical, 16 values
	AdultEducationNum         // integer, 1..16
	AdultMaritalStatus        // categorical, 7 values
	AdultOccupation           // categorical, 14 values
	AdultRelationship         // categorical, 6 values
	AdultRace                 // categorical, 5 values
	AdultSex                  // categorical, 2 values
	AdultCapitalGain          // integer
	AdultCapitalLoss          // integer
	AdultHoursPerWeek         // integer
	AdultNativeCountry        // categorical, 41 values
	AdultSalary               // class: "<=50K" or ">50K"
	AdultNumColumns           // number of columns, 15
)

// AdultMissing is the marker of a missing value in the Adult data.
const AdultMissing = "?"

var adultNames = [AdultNumColumns]string{
	"age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
	"occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
	"hours-per-week", "native-country", "salary",
}

var adultNumeric = [AdultNumColumns]bool{
	AdultAge: true, AdultFnlwgt: true, AdultEducationNum: true,
	AdultCapitalGain: true, AdultCapitalLoss: true, AdultHoursPerWeek: true,
}

// AdultColumnNames returns the 15 column names of the Adult data, in file
// order: age, workclass, fnlwgt, education, education-num, marital-status,
// occupation, relationship, race, sex, capital-gain, capital-loss,
// hours-per-week, native-country, salary.
func AdultColumnNames() []string {
	names := adultNames
	return names[:]
}

// AdultColumnIndex returns the index of the named column, or -1.
func AdultColumnIndex(name string) int {
	for i, n := range adultNames {
		if n == name {
			return i
		}
	}
	return -1
}

// AdultRecord is one row of the Adult data, its fields as strings with the
// surrounding spaces removed; index it with the Adult* column constants.
// Missing values are [AdultMissing].
type AdultRecord [AdultNumColumns]string

// HasMissing reports whether any field of r is missing.
func (r *AdultRecord) HasMissing() bool {
	for _, v := range r {
		if v == AdultMissing {
			return true
		}
	}
	return false
}

// Int returns the value of a numeric column (age, fnlwgt, education-num,
// capital-gain, capital-loss, hours-per-week) as an int; ok is false if the
// value is missing or the column is not numeric.
func (r *AdultRecord) Int(col int) (v int, ok bool) {
	if col < 0 || col >= AdultNumColumns || !adultNumeric[col] {
		return 0, false
	}
	v, err := strconv.Atoi(r[col])
	return v, err == nil
}

// Select returns the fields at cols, in that order, as a new slice; use it to
// cut records down to the quasi-identifiers of a study.
func (r *AdultRecord) Select(cols []int) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = r[c]
	}
	return out
}

// AdultOptions controls [ReadAdult]. The zero value keeps every row.
type AdultOptions struct {
	// DropMissing skips rows that have a missing value ("?") in any column.
	// On the UCI training file this keeps 30,162 of 32,561 rows.
	DropMissing bool
}

// AdultStats counts the rows [ReadAdult] saw.
type AdultStats struct {
	Rows    int // rows passed to the callback
	Dropped int // rows skipped because of a missing value
}

// maxIntern bounds the number of distinct strings a reader shares between
// records, so that hostile input cannot grow the table without limit.
const maxIntern = 1 << 16

// ReadAdult streams the UCI Adult data ("adult.data": 15 comma-separated
// fields, usually with a space after each comma, no header, "?" for a
// missing value). It calls fn for each row, in file order, with the row's
// 1-based line number. rec is reused between calls: copy the array (*rec)
// to keep it; the strings themselves are immutable and may be kept. Repeated
// values share one string, so holding millions of records costs little more
// than the slice of arrays.
//
// Each row must have exactly 15 non-empty fields, and the numeric columns
// must hold non-negative integers or "?". Blank lines are allowed only at the
// end. The error names the file, line and column. If fn returns an error,
// reading stops and that error is returned unchanged. A gzipped file is
// detected by its magic bytes.
func ReadAdult(r io.Reader, name string, opt AdultOptions, fn func(line int, rec *AdultRecord) error) (AdultStats, error) {
	var st AdultStats
	sc, err := newLineScanner(r, name)
	if err != nil {
		return st, err
	}
	intern := make(map[string]string)
	var rec AdultRecord
	blank := 0
	for {
		line, ok := sc.next()
		if !ok {
			break
		}
		if isBlank(line) {
			if blank == 0 {
				blank = sc.line
			}
			continue
		}
		if blank != 0 {
			return st, lineErr(ErrFormat, name, blank, 0, "", "blank line before more data on line %d", sc.line)
		}
		if nf := bytes.Count(line, []byte{','}) + 1; nf != AdultNumColumns {
			return st, lineErr(ErrFormat, name, sc.line, 0, "", "%d fields, want %d", nf, AdultNumColumns)
		}
		missing := false
		for j := range AdultNumColumns {
			field := line
			if k := bytes.IndexByte(line, ','); k >= 0 {
				field, line = line[:k], line[k+1:]
			}
			field = bytes.TrimSpace(field)
			switch {
			case len(field) == 0:
				return st, lineErr(ErrFormat, name, sc.line, j+1, adultNames[j], "empty field")
			case len(field) == 1 && field[0] == '?':
				missing = true
				rec[j] = AdultMissing
				continue
			case adultNumeric[j] && !isDigits(field):
				return st, lineErr(ErrFormat, name, sc.line, j+1, adultNames[j], "not a non-negative integer: %s", quote(string(field)))
			}
			s, ok := intern[string(field)]
			if !ok {
				s = string(field)
				if len(intern) < maxIntern {
					intern[s] = s
				}
			}
			rec[j] = s
		}
		if missing && opt.DropMissing {
			st.Dropped++
			continue
		}
		st.Rows++
		if err := fn(sc.line, &rec); err != nil {
			return st, err
		}
	}
	if err := sc.err(); err != nil {
		return st, err
	}
	if st.Rows == 0 && st.Dropped == 0 {
		return st, lineErr(ErrFormat, name, sc.line+1, 0, "", "no data rows")
	}
	return st, nil
}

func isDigits(b []byte) bool {
	if len(b) > 18 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ReadAdultAll reads every row with [ReadAdult] into a slice.
func ReadAdultAll(r io.Reader, name string, opt AdultOptions) ([]AdultRecord, error) {
	var recs []AdultRecord
	_, err := ReadAdult(r, name, opt, func(_ int, rec *AdultRecord) error {
		recs = append(recs, *rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// LoadAdultFile opens path and calls [ReadAdultAll].
func LoadAdultFile(path string, opt AdultOptions) ([]AdultRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return ReadAdultAll(f, path, opt)
}
