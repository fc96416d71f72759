package dataset

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestReadSklearnCSV(t *testing.T) {
	const good = "3,2,neg,pos\n1.5,-2,0\n0,1e3,1\n7,8,1\n\n"
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"plain", []byte(good)},
		{"crlf", []byte(strings.ReplaceAll(good, "\n", "\r\n"))},
		{"gzip", gz(t, []byte(good))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ReadSklearnCSV(bytes.NewReader(tc.in), "t.csv")
			if err != nil {
				t.Fatal(err)
			}
			want := &Dataset{Name: "t.csv", Rows: 3, Cols: 2, X: []float64{1.5, -2, 0, 1000, 7, 8},
				Y: []int{0, 1, 1}, ClassNames: []string{"neg", "pos"}}
			if !reflect.DeepEqual(d, want) {
				t.Errorf("got %+v, want %+v", d, want)
			}
			if err := d.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReadSklearnCSVErrors(t *testing.T) {
	tests := []struct {
		name, in string
		kind     error
		want     []string
	}{
		{"empty input", "", ErrFormat, []string{"t.csv:1", "header", "empty input"}},
		{"header too short", "3,2\n", ErrFormat, []string{"t.csv:1", "header", "2 fields"}},
		{"header count not a number", "x,2,a,b\n", ErrFormat, []string{"t.csv:1", "column 1", "sample count"}},
		{"header count zero", "0,2,a,b\n", ErrFormat, []string{"t.csv:1", "sample count"}},
		{"header features negative", "2,-1,a,b\n", ErrFormat, []string{"t.csv:1", "column 2", "feature count"}},
		{"header features huge", "2,99999999999,a,b\n", ErrTooLarge, []string{"t.csv:1", "feature count"}},
		{"empty class name", "2,1,a,\n", ErrFormat, []string{"t.csv:1", "column 4", "empty class name"}},
		{"no rows", "2,1,a,b\n\n", ErrFormat, []string{"t.csv:3", "no data rows"}},
		{"fewer rows than header", "3,1,a,b\n1,0\n2,1\n", ErrTruncated, []string{"t.csv:4", "after 2 rows", "declares 3"}},
		{"more rows than header", "1,1,a,b\n1,0\n2,1\n", ErrFormat, []string{"t.csv:3", "more rows than the 1"}},
		{"too few fields", "2,2,a,b\n1,2,0\n1,0\n", ErrFormat, []string{"t.csv:3", "2 fields, want 2 features and a label"}},
		{"too many fields", "2,2,a,b\n1,2,3,0\n", ErrFormat, []string{"t.csv:2", "4 fields"}},
		{"non-numeric feature", "1,2,a,b\n1,abc,0\n", ErrFormat, []string{"t.csv:2", "column 2", `not a number: "abc"`}},
		{"empty feature", "1,2,a,b\n1,,0\n", ErrFormat, []string{"t.csv:2", "column 2", "not a number"}},
		{"NaN feature", "1,2,a,b\nNaN,1,0\n", ErrFormat, []string{"t.csv:2", "column 1", "non-finite"}},
		{"Inf feature", "1,2,a,b\n1,-Inf,0\n", ErrFormat, []string{"t.csv:2", "column 2", "non-finite"}},
		{"overflowing feature", "1,2,a,b\n1,1e999,0\n", ErrFormat, []string{"t.csv:2", "column 2"}},
		{"label out of range", "2,1,a,b\n1,0\n1,2\n", ErrFormat, []string{"t.csv:3", "column 2 (label)", "2 not in [0, 2)"}},
		{"negative label", "1,1,a,b\n1,-1\n", ErrFormat, []string{"t.csv:2", "label", "-1 not in"}},
		{"fractional label", "1,1,a,b\n1,0.5\n", ErrFormat, []string{"t.csv:2", "label", "not an integer"}},
		{"blank line inside data", "2,1,a,b\n1,0\n\n1,1\n", ErrFormat, []string{"t.csv:3", "blank line before more data on line 4"}},
		{"line too long", "1,1,a,b\n" + strings.Repeat("1", MaxLineBytes+1) + ",0\n", ErrTooLarge, []string{"t.csv:2", "line longer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ReadSklearnCSV(strings.NewReader(tc.in), "t.csv")
			if d != nil {
				t.Errorf("got a data set with the error")
			}
			checkErr(t, err, tc.kind, tc.want...)
		})
	}
}

func TestReadSklearnCSVTruncatedGzip(t *testing.T) {
	z := gz(t, []byte("2,1,a,b\n1,0\n2,1\n"))
	_, err := ReadSklearnCSV(bytes.NewReader(z[:len(z)-4]), "t.csv.gz")
	checkErr(t, err, ErrTruncated, "t.csv.gz")
	bad := bytes.Clone(z)
	bad[len(bad)-6] ^= 0xff // corrupt the CRC-32
	_, err = ReadSklearnCSV(bytes.NewReader(bad), "t.csv.gz")
	checkErr(t, err, ErrFormat, "t.csv.gz", "gzip")
}

func TestReadLabeledCSV(t *testing.T) {
	d, err := ReadLabeledCSV(strings.NewReader("0,16,3\n5,5,9\n"), "digits.csv", 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 2 || d.Cols != 2 || !reflect.DeepEqual(d.Y, []int{3, 9}) || d.ClassNames[9] != "9" || len(d.ClassNames) != 10 {
		t.Errorf("got %+v", d)
	}
	_, err = ReadLabeledCSV(strings.NewReader("0,16,10\n"), "digits.csv", 2, 10)
	checkErr(t, err, ErrFormat, "digits.csv:1", "label", "10 not in [0, 10)")
	_, err = ReadLabeledCSV(strings.NewReader("0,16,1,1\n"), "digits.csv", 2, 10)
	checkErr(t, err, ErrFormat, "digits.csv:1", "4 fields")
	_, err = ReadLabeledCSV(strings.NewReader(""), "digits.csv", 2, 10)
	checkErr(t, err, ErrFormat, "digits.csv:1", "no data rows")
	if _, err := ReadLabeledCSV(strings.NewReader("1,0\n"), "digits.csv", 0, 10); err == nil {
		t.Error("zero feature count accepted")
	}
}

// TestSklearnRealFiles reads the shared copies and checks they equal the
// embedded ones.
func TestSklearnRealFiles(t *testing.T) {
	for _, tc := range []struct {
		file       string
		rows, cols int
		embedded   func() (*Dataset, error)
	}{
		{"breast_cancer.csv", 569, 30, BreastCancer},
		{"iris.csv", 150, 4, Iris},
		{"wine_data.csv", 178, 13, Wine},
		{"digits.csv.gz", 1797, 64, Digits},
	} {
		p := sharedFile(t, "sklearn/"+tc.file)
		var d *Dataset
		var err error
		if tc.file == "digits.csv.gz" {
			d, err = LoadLabeledCSVFile(p, 64, 10)
		} else {
			d, err = LoadSklearnCSVFile(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		if d.Rows != tc.rows || d.Cols != tc.cols {
			t.Errorf("%s: %d x %d, want %d x %d", tc.file, d.Rows, d.Cols, tc.rows, tc.cols)
		}
		e, err := tc.embedded()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d.X, e.X) || !reflect.DeepEqual(d.Y, e.Y) || !reflect.DeepEqual(d.ClassNames, e.ClassNames) {
			t.Errorf("%s differs from the embedded copy", tc.file)
		}
	}
}
