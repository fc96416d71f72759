package dataset

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// ReadSklearnCSV reads a comma-separated data set in scikit-learn's headered
// form (breast_cancer.csv, iris.csv, wine_data.csv). The first line is
// "n,f,class0,class1,...": the number of samples, the number of features and
// the class names. Each following line holds f numbers and then the integer
// label. A gzipped file is detected by its magic bytes.
//
// ReadSklearnCSV checks that there are exactly n rows of f+1 fields, that
// every feature is a finite number and that every label indexes a class
// name; the error names the file, line and column at fault. Blank lines are
// allowed only at the end. name is used in error messages and as the
// Dataset's Name.
func ReadSklearnCSV(r io.Reader, name string) (*Dataset, error) {
	sc, err := newLineScanner(r, name)
	if err != nil {
		return nil, err
	}
	hdr, ok := sc.next()
	if !ok {
		if err := sc.err(); err != nil {
			return nil, err
		}
		return nil, lineErr(ErrFormat, name, 1, 0, "header", "empty input, want a header line")
	}
	fields := bytes.Split(hdr, []byte{','})
	if len(fields) < 3 {
		return nil, lineErr(ErrFormat, name, 1, 0, "header", "%d fields, want n,features,class names...", len(fields))
	}
	n, err := strconv.Atoi(string(fields[0]))
	if err != nil || n <= 0 {
		return nil, lineErr(ErrFormat, name, 1, 1, "header", "sample count %s is not a positive integer", quote(string(fields[0])))
	}
	f, err := strconv.Atoi(string(fields[1]))
	if err != nil || f <= 0 {
		return nil, lineErr(ErrFormat, name, 1, 2, "header", "feature count %s is not a positive integer", quote(string(fields[1])))
	}
	if f > MaxLineBytes/2 {
		return nil, lineErr(ErrTooLarge, name, 1, 2, "header", "feature count %d does not fit in a line of %d bytes", f, MaxLineBytes)
	}
	classes := make([]string, 0, len(fields)-2)
	for i, c := range fields[2:] {
		if len(c) == 0 {
			return nil, lineErr(ErrFormat, name, 1, i+3, "header", "empty class name")
		}
		classes = append(classes, string(c))
	}
	d := &Dataset{Name: name, Cols: f, ClassNames: classes}
	if err := readRows(sc, d, n); err != nil {
		return nil, err
	}
	return d, nil
}

// ReadLabeledCSV reads a comma-separated data set with no header (as
// digits.csv.gz): each line holds numFeatures numbers and then an integer
// label in [0, numClasses). The classes are named "0", "1", .... Checks,
// blank lines and gzip detection are as in [ReadSklearnCSV].
func ReadLabeledCSV(r io.Reader, name string, numFeatures, numClasses int) (*Dataset, error) {
	if numFeatures <= 0 || numClasses <= 0 {
		return nil, fmt.Errorf("dataset: %s: need positive feature and class counts, got %d and %d", name, numFeatures, numClasses)
	}
	sc, err := newLineScanner(r, name)
	if err != nil {
		return nil, err
	}
	classes := make([]string, numClasses)
	for i := range classes {
		classes[i] = strconv.Itoa(i)
	}
	d := &Dataset{Name: name, Cols: numFeatures, ClassNames: classes}
	if err := readRows(sc, d, -1); err != nil {
		return nil, err
	}
	return d, nil
}

// readRows appends the data lines of sc to d. want is the declared row count
// (the header is on line 1), or -1 when there is no header.
func readRows(sc *lineScanner, d *Dataset, want int) error {
	name := sc.name
	blank := 0 // line number of the first blank line seen, if any
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
			return lineErr(ErrFormat, name, blank, 0, "", "blank line before more data on line %d", sc.line)
		}
		if want >= 0 && d.Rows == want {
			return lineErr(ErrFormat, name, sc.line, 0, "", "more rows than the %d the header on line 1 declares", want)
		}
		if nf := bytes.Count(line, []byte{','}) + 1; nf != d.Cols+1 {
			return lineErr(ErrFormat, name, sc.line, 0, "", "%d fields, want %d features and a label", nf, d.Cols)
		}
		for j := range d.Cols {
			k := bytes.IndexByte(line, ',')
			v, err := strconv.ParseFloat(string(line[:k]), 64)
			if err != nil {
				return lineErr(ErrFormat, name, sc.line, j+1, featureName(d, j), "not a number: %s", quote(string(line[:k])))
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return lineErr(ErrFormat, name, sc.line, j+1, featureName(d, j), "non-finite value %s", quote(string(line[:k])))
			}
			d.X = append(d.X, v)
			line = line[k+1:]
		}
		y, ok := parseLabel(line)
		if !ok {
			return lineErr(ErrFormat, name, sc.line, d.Cols+1, "label", "not an integer: %s", quote(string(line)))
		}
		if y < 0 || y >= len(d.ClassNames) {
			return lineErr(ErrFormat, name, sc.line, d.Cols+1, "label", "%d not in [0, %d)", y, len(d.ClassNames))
		}
		d.Y = append(d.Y, y)
		d.Rows++
	}
	if err := sc.err(); err != nil {
		return err
	}
	if d.Rows == 0 {
		return lineErr(ErrFormat, name, sc.line+1, 0, "", "no data rows")
	}
	if want >= 0 && d.Rows < want {
		return lineErr(ErrTruncated, name, sc.line+1, 0, "", "end of data after %d rows; the header on line 1 declares %d", d.Rows, want)
	}
	return nil
}

// parseLabel parses an integer label, also accepting an integral float such
// as "1.0".
func parseLabel(b []byte) (int, bool) {
	s := string(b)
	if y, err := strconv.Atoi(s); err == nil {
		return y, true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<31 {
		return 0, false
	}
	return int(v), true
}

func featureName(d *Dataset, j int) string {
	if j < len(d.FeatureNames) {
		return d.FeatureNames[j]
	}
	return ""
}

// LoadSklearnCSVFile opens path and calls [ReadSklearnCSV].
func LoadSklearnCSVFile(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return ReadSklearnCSV(f, path)
}

// LoadLabeledCSVFile opens path and calls [ReadLabeledCSV].
func LoadLabeledCSVFile(path string, numFeatures, numClasses int) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return ReadLabeledCSV(f, path, numFeatures, numClasses)
}
