package dataset

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	adultRow1 = "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K"
	adultRow2 = "54, ?, 180211, Some-college, 10, Married-civ-spouse, ?, Husband, Asian-Pac-Islander, Male, 0, 0, 60, South, >50K"
	adultRow3 = "38, Private, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, White, Male, 0, 0, 40, United-States, <=50K"
)

func TestReadAdult(t *testing.T) {
	in := adultRow1 + "\n" + adultRow2 + "\n" + adultRow3 + "\n\n"
	recs, err := ReadAdultAll(strings.NewReader(in), "adult.data", AdultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	want := AdultRecord{"39", "State-gov", "77516", "Bachelors", "13", "Never-married", "Adm-clerical",
		"Not-in-family", "White", "Male", "2174", "0", "40", "United-States", "<=50K"}
	if recs[0] != want {
		t.Errorf("record 1 = %q, want %q", recs[0], want)
	}
	if recs[0].HasMissing() || !recs[1].HasMissing() || recs[1][AdultWorkclass] != AdultMissing {
		t.Errorf("missing values misread: %q", recs[1])
	}
	if age, ok := recs[2].Int(AdultAge); !ok || age != 38 {
		t.Errorf("Int(AdultAge) = %d, %v; want 38", age, ok)
	}
	if _, ok := recs[2].Int(AdultSex); ok {
		t.Error("Int of a categorical column succeeded")
	}
	if got := recs[0].Select([]int{AdultSex, AdultAge}); !reflect.DeepEqual(got, []string{"Male", "39"}) {
		t.Errorf("Select = %q", got)
	}

	var lines []int
	st, err := ReadAdult(bytes.NewReader(gz(t, []byte(in))), "adult.data.gz", AdultOptions{DropMissing: true},
		func(line int, rec *AdultRecord) error {
			lines = append(lines, line)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if st != (AdultStats{Rows: 2, Dropped: 1}) || !reflect.DeepEqual(lines, []int{1, 3}) {
		t.Errorf("stats %+v, lines %v; want 2 rows, 1 dropped, lines [1 3]", st, lines)
	}
}

func TestAdultColumns(t *testing.T) {
	names := AdultColumnNames()
	if len(names) != AdultNumColumns || names[AdultEducationNum] != "education-num" || names[AdultSalary] != "salary" {
		t.Errorf("names = %q", names)
	}
	names[0] = "changed"
	if AdultColumnNames()[0] != "age" {
		t.Error("AdultColumnNames shares its array with the caller")
	}
	if AdultColumnIndex("native-country") != AdultNativeCountry || AdultColumnIndex("nope") != -1 {
		t.Error("AdultColumnIndex is wrong")
	}
}

func TestReadAdultErrors(t *testing.T) {
	field := func(row string, i int, v string) string {
		f := strings.Split(row, ", ")
		f[i] = v
		return strings.Join(f, ", ")
	}
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty input", "", []string{"a.data:1", "no data rows"}},
		{"only blank lines", "\n\n", []string{"a.data:3", "no data rows"}},
		{"too few fields", adultRow1 + "\n" + "39, State-gov\n", []string{"a.data:2", "2 fields, want 15"}},
		{"too many fields", adultRow1 + ", extra\n", []string{"a.data:1", "16 fields, want 15"}},
		{"non-numeric age", field(adultRow1, AdultAge, "old"), []string{"a.data:1", "column 1 (age)", `"old"`}},
		{"negative hours", field(adultRow1, AdultHoursPerWeek, "-4"), []string{"a.data:1", "column 13 (hours-per-week)"}},
		{"fractional fnlwgt", field(adultRow1, AdultFnlwgt, "1.5"), []string{"a.data:1", "column 3 (fnlwgt)"}},
		{"empty field", field(adultRow1, AdultOccupation, " "), []string{"a.data:1", "column 7 (occupation)", "empty field"}},
		{"blank line inside", adultRow1 + "\n\n" + adultRow3 + "\n", []string{"a.data:2", "blank line before more data on line 3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := ReadAdultAll(strings.NewReader(tc.in), "a.data", AdultOptions{})
			if recs != nil {
				t.Error("got records with the error")
			}
			checkErr(t, err, ErrFormat, tc.want...)
		})
	}
}

func TestReadAdultCallbackError(t *testing.T) {
	stop := errors.New("stop")
	st, err := ReadAdult(strings.NewReader(adultRow1+"\n"+adultRow3+"\n"), "a.data", AdultOptions{},
		func(int, *AdultRecord) error { return stop })
	if err != stop || st.Rows != 1 {
		t.Errorf("err %v, stats %+v; want the callback's error after 1 row", err, st)
	}
}

// TestAdultRealFile checks the UCI file against the counts in its README,
// and that the ARX table is exactly its complete rows, cut to 9 columns.
func TestAdultRealFile(t *testing.T) {
	p := sharedFile(t, "adult/adult.data")
	all, err := LoadAdultFile(p, AdultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 32561 {
		t.Errorf("%d rows, want 32561", len(all))
	}
	missing := map[int]int{}
	for i := range all {
		for c, v := range all[i] {
			if v == AdultMissing {
				missing[c]++
			}
		}
	}
	if want := map[int]int{AdultWorkclass: 1836, AdultOccupation: 1843, AdultNativeCountry: 583}; !reflect.DeepEqual(missing, want) {
		t.Errorf("missing values per column %v, want %v", missing, want)
	}
	clean, err := LoadAdultFile(p, AdultOptions{DropMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(clean) != 30162 {
		t.Errorf("%d rows without missing values, want 30162", len(clean))
	}

	arx := filepath.Join(filepath.Dir(p), "arx", "adult.csv")
	header, rows, err := LoadARXTableFile(arx)
	if err != nil {
		t.Skipf("ARX table: %v", err)
	}
	cols := make([]int, len(header))
	for i, h := range header {
		if h == "salary-class" {
			h = "salary"
		}
		cols[i] = AdultColumnIndex(h)
	}
	if len(rows) != len(clean) {
		t.Fatalf("ARX has %d rows, adult.data %d complete rows", len(rows), len(clean))
	}
	for i := range rows {
		if got := clean[i].Select(cols); !reflect.DeepEqual(got, rows[i]) {
			t.Fatalf("row %d: adult.data gives %q, ARX %q", i, got, rows[i])
		}
	}
}

func BenchmarkReadAdult(b *testing.B) {
	data := []byte(strings.Repeat(adultRow1+"\n"+adultRow2+"\n"+adultRow3+"\n", 1000))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := ReadAdult(bytes.NewReader(data), "a.data", AdultOptions{DropMissing: true},
			func(int, *AdultRecord) error { return nil })
		if err != nil || st.Rows != 2000 {
			b.Fatal(st, err)
		}
	}
}
