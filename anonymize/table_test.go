package anonymize

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadCSVOptions(t *testing.T) {
	in := "a;b;c\n1; x ;?\n2;y;z\n\n3;\"q;r\";z\n"
	tb, err := ReadCSV(strings.NewReader(in), CSVOptions{Delimiter: ';', Missing: "?", DropMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Rows() != 2 || tb.DroppedRows() != 1 {
		t.Fatalf("rows %d dropped %d, want 2 and 1", tb.Rows(), tb.DroppedRows())
	}
	if got := cell(tb, 1, 1); got != "q;r" {
		t.Fatalf("quoted field = %q", got)
	}
	col, _ := tb.Column("c")
	if len(col.Dict) != 1 || col.Codes[0] != col.Codes[1] {
		t.Fatalf("dictionary encoding: %v %v", col.Dict, col.Codes)
	}
	keep, err := ReadCSV(strings.NewReader(in), CSVOptions{Delimiter: ';', Missing: "?"})
	if err != nil || keep.Rows() != 3 || cell(keep, 0, 2) != "?" {
		t.Fatalf("keep missing: %v rows, err %v", keep.Rows(), err)
	}
	nh, err := ReadCSV(strings.NewReader("1,2\n3,4\n"), CSVOptions{NoHeader: true})
	if err != nil || nh.Rows() != 2 || nh.Names()[1] != "c2" {
		t.Fatalf("no header: %v %v", nh.Names(), err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	cases := []struct {
		in   string
		opt  CSVOptions
		want string
	}{
		{"a,b\n1,2\n3\n", CSVOptions{Name: "f.csv"}, "f.csv:3: row has 1 fields, want 2"},
		{"1,2,3\n", CSVOptions{Name: "g.csv", NoHeader: true, Columns: []string{"x", "y"}}, "g.csv:1: row has 3 fields, want 2"},
		{"a,a\n1,2\n", CSVOptions{}, `column "a" appears twice`},
		{"a,b\n\"x,1\n", CSVOptions{Name: "q"}, "q:2:"},
		{"", CSVOptions{Name: "e"}, "e: no rows"},
	}
	for _, c := range cases {
		_, err := ReadCSV(strings.NewReader(c.in), c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to contain %q", c.in, err, c.want)
		}
		if err != nil && !errors.Is(err, ErrInput) && !errors.Is(err, ErrColumn) {
			t.Errorf("%q: err %v wraps no sentinel", c.in, err)
		}
	}
}

func TestWriteCSVRoundTrip(t *testing.T) {
	tb, err := ReadCSV(strings.NewReader("a,b\n\"x,y\",1\nz,\"q\"\"\"\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tb.WriteCSV(&buf, ','); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(&buf, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < tb.Rows(); i++ {
		for j := 0; j < tb.NumColumns(); j++ {
			if cell(tb, i, j) != cell(back, i, j) {
				t.Fatalf("(%d,%d): %q → %q", i, j, cell(tb, i, j), cell(back, i, j))
			}
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add("a,b\n1,2\n", byte(','), true)
	f.Add("39, State-gov, 77516\n50, ?, 83311\n", byte(','), false)
	f.Add("a;b\n\"x;\"\"y\";2\n", byte(';'), false)
	f.Add("a,b\n1\n", byte(','), false)
	f.Add("\ufeffa,b\n1,2\n", byte(','), false)
	f.Fuzz(func(t *testing.T, in string, delim byte, noHeader bool) {
		if delim == 0 || delim == '"' || delim == '\r' || delim == '\n' || delim >= 0x80 {
			delim = ','
		}
		tb, err := ReadCSV(strings.NewReader(in), CSVOptions{Delimiter: rune(delim), NoHeader: noHeader, Missing: "?", DropMissing: true})
		if err != nil {
			if !errors.Is(err, ErrInput) && !errors.Is(err, ErrColumn) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		for _, c := range tb.cols {
			if len(c.Codes) != tb.Rows() {
				t.Fatalf("column %q has %d codes for %d rows", c.Name, len(c.Codes), tb.Rows())
			}
			for _, k := range c.Codes {
				if c.Dict[k] == "?" {
					t.Fatal("a missing value survived DropMissing")
				}
			}
		}
		var buf bytes.Buffer
		if err := tb.WriteCSV(&buf, rune(delim)); err != nil {
			t.Fatal(err)
		}
		back, err := ReadCSV(&buf, CSVOptions{Delimiter: rune(delim)})
		if err != nil {
			// A table whose only row is empty fields writes a blank line
			// that a reader skips; nothing else may fail.
			return
		}
		if back.Rows() != tb.Rows() {
			// Only a row of empty fields, written as a blank line that a
			// reader skips, may go missing.
			blank := false
			for i := 0; i < tb.Rows() && !blank; i++ {
				blank = true
				for j := range tb.cols {
					blank = blank && cell(tb, i, j) == ""
				}
			}
			if !blank || back.Rows() > tb.Rows() {
				t.Fatalf("round trip changed the row count: %d → %d", tb.Rows(), back.Rows())
			}
			return
		}
		for i := 0; i < back.Rows(); i++ {
			for j := range back.cols {
				if cell(back, i, j) != cell(tb, i, j) && strings.TrimSpace(cell(tb, i, j)) == cell(tb, i, j) {
					t.Fatalf("round trip changed (%d,%d): %q → %q", i, j, cell(tb, i, j), cell(back, i, j))
				}
			}
		}
	})
}

// FuzzCSVScanner checks the streaming splitter against encoding/csv:
// whenever encoding/csv (with TrimLeadingSpace) reads an input, the
// scanner must return the same records, trimmed, from the same lines.
func FuzzCSVScanner(f *testing.F) {
	f.Add("a,b\n1,2\n", byte(','))
	f.Add("39, State-gov, 77516\r\n\n50, ?, 83311", byte(','))
	f.Add("a;\"x;\"\"y\nz\";2\n", byte(';'))
	f.Add("a,\"b\" ,c\n", byte(','))
	f.Add("x\t\"q\"\n", byte('\t'))
	f.Add("\ufeffa,b\n1,2\n", byte(','))
	f.Fuzz(func(t *testing.T, in string, delim byte) {
		if delim == 0 || delim == '"' || delim == '\r' || delim == '\n' || delim >= 0x80 || delim == ' ' || delim == '\t' || delim == '\v' || delim == '\f' {
			// encoding/csv's TrimLeadingSpace would eat white-space
			// delimiters; the scanner keeps them.
			delim = ','
		}
		// The scanner skips a leading byte order mark; encoding/csv does not.
		cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(in, utf8BOM)))
		cr.Comma = rune(delim)
		cr.TrimLeadingSpace = true
		cr.FieldsPerRecord = -1
		want, werr := cr.ReadAll()
		sc := newCSVScanner(strings.NewReader(in), delim)
		var got [][]string
		var gerr error
		for {
			rec, _, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				gerr = err
				break
			}
			row := make([]string, len(rec))
			for i, f := range rec {
				row[i] = strings.TrimSpace(string(f))
			}
			got = append(got, row)
		}
		if werr != nil {
			return // the scanner may be stricter or laxer on malformed input
		}
		if gerr != nil {
			t.Fatalf("scanner failed where encoding/csv reads %q: %v", in, gerr)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d records, encoding/csv %d", in, len(got), len(want))
		}
		for i := range want {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("%q record %d: %q vs %q", in, i, got[i], want[i])
			}
			for j := range want[i] {
				// encoding/csv turns \r\n inside quoted fields into \n.
				w := strings.TrimSpace(strings.ReplaceAll(want[i][j], "\r\n", "\n"))
				g := strings.ReplaceAll(got[i][j], "\r\n", "\n")
				if g != w {
					t.Fatalf("%q record %d field %d: %q vs %q", in, i, j, g, w)
				}
			}
		}
	})
}
