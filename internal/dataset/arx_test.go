package dataset

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadARXTable(t *testing.T) {
	const good = "sex;age;salary-class\r\nMale;39;<=50K\r\nFemale;50;>50K\r\n\r\n"
	header, rows, err := ReadARXTable(strings.NewReader(good), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sex", "age", "salary-class"}; !reflect.DeepEqual(header, want) {
		t.Errorf("header = %q, want %q", header, want)
	}
	want := [][]string{{"Male", "39", "<=50K"}, {"Female", "50", ">50K"}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}

	// The same bytes gzipped and with a byte-order mark give the same table.
	h2, r2, err := ReadARXTable(bytes.NewReader(gz(t, []byte("\xEF\xBB\xBF"+good))), "t.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h2, header) || !reflect.DeepEqual(r2, rows) {
		t.Errorf("gzipped table = %q %q, want %q %q", h2, r2, header, rows)
	}

	// Quoted fields may hold the separator.
	_, r3, err := ReadARXTable(strings.NewReader("a;b\n\"x;y\";z\n"), "q.csv")
	if err != nil || len(r3) != 1 || r3[0][0] != "x;y" {
		t.Errorf("quoted field: rows %q, err %v", r3, err)
	}
}

func TestReadARXTableErrors(t *testing.T) {
	tests := []struct {
		name, in string
		kind     error
		want     []string
	}{
		{"empty", "", ErrFormat, []string{"t.csv:1", "empty input"}},
		{"only blank lines", "\n\n", ErrFormat, []string{"t.csv:1", "empty input"}},
		{"too few fields", "a;b;c\n1;2;3\n1;2\n", ErrFormat, []string{"t.csv:3", "2 fields, want 3"}},
		{"too many fields", "a;b\n1;2\n\n1;2;3\n", ErrFormat, []string{"t.csv:4", "3 fields, want 2"}},
		{"empty column name", "a;;c\n1;2;3\n", ErrFormat, []string{"t.csv:1", "column 2", "empty column name"}},
		{"repeated column name", "a;b;a\n1;2;3\n", ErrFormat, []string{"t.csv:1", "column 3", `"a" repeats column 1`}},
		{"bare quote", "a;b\n1;x\"y\n", ErrFormat, []string{"t.csv:2", "bad quoting"}},
		{"unterminated quote", "a;b\n1;\"xy\n", ErrFormat, []string{"t.csv:2", "quot"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadARXTable(strings.NewReader(tc.in), "t.csv")
			checkErr(t, err, tc.kind, tc.want...)
		})
	}
}

func TestReadARXTableTruncatedGzip(t *testing.T) {
	z := gz(t, []byte(strings.Repeat("a;b\n1;2\n", 100)))
	_, _, err := ReadARXTable(bytes.NewReader(z[:len(z)-10]), "t.csv.gz")
	checkErr(t, err, ErrTruncated, "t.csv.gz")
}

func TestReadARXTableReaderError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, _, err := ReadARXTable(&failReader{data: []byte("a;b\n1;2\n"), err: boom}, "t.csv")
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "t.csv") {
		t.Errorf("err = %v, want it to wrap %v and name the file", err, boom)
	}
}

func TestReadARXRowsStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	var lines []int
	_, err := ReadARXRows(strings.NewReader("a\n1\n2\n3\n"), "t.csv", func(line int, _ []string) error {
		lines = append(lines, line)
		if line == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("err = %v, want the callback's error unchanged", err)
	}
	if !reflect.DeepEqual(lines, []int{2, 3}) {
		t.Errorf("callback saw lines %v, want [2 3]", lines)
	}
}

func TestReadHierarchy(t *testing.T) {
	in := "Private;Non-Government;*\nFederal-gov;Government;*\nNever-worked;Unemployed;*"
	rows, err := ReadHierarchy(strings.NewReader(in), "h.csv", ';')
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Private", "Non-Government", "*"},
		{"Federal-gov", "Government", "*"},
		{"Never-worked", "Unemployed", "*"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}
	rows, err = ReadHierarchy(strings.NewReader("1,0-4,*\n2,0-4,*\n"), "h.csv", ',')
	if err != nil || len(rows) != 2 || rows[1][1] != "0-4" {
		t.Errorf("comma separator: rows %q, err %v", rows, err)
	}
}

func TestReadHierarchyErrors(t *testing.T) {
	tests := []struct {
		name, in string
		ragged   bool // also an error for ReadRaggedHierarchy
		want     []string
	}{
		{"empty", "", true, []string{"h.csv:1", "empty hierarchy"}},
		{"ragged row", "a;x;*\nb;*\n", false, []string{"h.csv:2", "2 levels, want 3 as on line 1"}},
		{"empty cell", "a;x;*\nb;;*\n", true, []string{"h.csv:2", "column 2", "empty cell"}},
		{"empty leaf", "a;*\n;*\n", true, []string{"h.csv:2", "column 1", "empty cell"}},
		{"empty root", "a;*\nb;\n", true, []string{"h.csv:2", "column 2", "empty cell"}},
		{"repeated leaf", "a;*\nb;*\n\na;*\n", true, []string{"h.csv:4", `leaf "a" already defined on line 1`}},
		{"bad quote", "a;*\n\"b;*\n", true, []string{"h.csv:2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadHierarchy(strings.NewReader(tc.in), "h.csv", ';')
			checkErr(t, err, ErrFormat, tc.want...)
			_, err = ReadRaggedHierarchy(strings.NewReader(tc.in), "h.csv", ';')
			if tc.ragged {
				checkErr(t, err, ErrFormat, tc.want...)
			} else if err != nil {
				t.Errorf("ReadRaggedHierarchy: %v", err)
			}
		})
	}
}

func TestReadHierarchyBadSeparator(t *testing.T) {
	for _, sep := range []rune{0, '"', '\n', '\r', 0xFFFD, -1} {
		if _, err := ReadHierarchy(strings.NewReader("a;*\n"), "h.csv", sep); err == nil {
			t.Errorf("separator %q accepted", sep)
		}
	}
}

func TestReadRaggedHierarchy(t *testing.T) {
	rows, err := ReadRaggedHierarchy(strings.NewReader("Never-married;*\nDivorced;leave;*\n"), "m.txt", ';')
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"Never-married", "*"}, {"Divorced", "leave", "*"}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}
}

// TestARXRealFiles checks the ARX Adult table and hierarchies against the
// facts in the data set's README.
func TestARXRealFiles(t *testing.T) {
	dir := filepath.Dir(sharedFile(t, "adult/arx/adult.csv"))
	header, rows, err := LoadARXTableFile(filepath.Join(dir, "adult.csv"))
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation", "salary-class"}
	if !reflect.DeepEqual(header, wantHeader) {
		t.Fatalf("header = %q, want %q", header, wantHeader)
	}
	if len(rows) != 30162 {
		t.Errorf("%d rows, want 30162", len(rows))
	}
	salary := map[string]int{}
	for _, r := range rows {
		salary[r[8]]++
	}
	if salary["<=50K"] != 22654 || salary[">50K"] != 7508 {
		t.Errorf("salary classes %v, want <=50K 22654 and >50K 7508", salary)
	}

	heights := map[string]int{"sex": 2, "age": 5, "race": 2, "marital-status": 3, "education": 4,
		"native-country": 3, "workclass": 3, "occupation": 3, "salary-class": 2}
	for attr, h := range heights {
		hier, err := LoadHierarchyFile(filepath.Join(dir, "adult_hierarchy_"+attr+".csv"))
		if err != nil {
			t.Errorf("%s: %v", attr, err)
			continue
		}
		if len(hier[0]) != h {
			t.Errorf("%s: height %d, want %d", attr, len(hier[0]), h)
		}
		leaves := map[string]bool{}
		for _, r := range hier {
			leaves[r[0]] = true
			if r[len(r)-1] != "*" {
				t.Errorf("%s: root %q, want *", attr, r[len(r)-1])
			}
		}
		// Every value in the table has a leaf in its hierarchy.
		col := indexOf(header, attr)
		for i, r := range rows {
			if !leaves[r[col]] {
				t.Errorf("%s: row %d value %q has no leaf", attr, i+2, r[col])
				break
			}
		}
	}
	age, _ := LoadHierarchyFile(filepath.Join(dir, "adult_hierarchy_age.csv"))
	nc, _ := LoadHierarchyFile(filepath.Join(dir, "adult_hierarchy_native-country.csv"))
	if len(age) != 100 || len(nc) != 41 {
		t.Errorf("age has %d rows, native-country %d; want 100 and 41", len(age), len(nc))
	}
}

// indexOf returns the index of name in header, or -1.
func indexOf(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

func TestBasicMondrianRealFiles(t *testing.T) {
	dir := filepath.Dir(sharedFile(t, "adult/basic_mondrian/adult_workclass.txt"))
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) != 7 {
		t.Fatalf("found %d basic-Mondrian files (%v), want 7", len(files), err)
	}
	for _, f := range files {
		rows, err := LoadRaggedHierarchyFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, r := range rows {
			if len(r) < 2 || len(r) > 3 || r[len(r)-1] != "*" {
				t.Errorf("%s: row %q, want 2 or 3 levels ending in *", filepath.Base(f), r)
			}
		}
	}
	wc, err := LoadRaggedHierarchyFile(filepath.Join(dir, "adult_workclass.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(wc) != 8 || !reflect.DeepEqual(wc[1], []string{"Self-emp-not-inc", "Self-employ", "*"}) {
		t.Errorf("workclass = %q", wc)
	}
	// The uniform reader rejects the ragged file at its first short row.
	_, err = LoadHierarchyFile(filepath.Join(dir, "adult_workclass.txt"))
	checkErr(t, err, ErrFormat, "adult_workclass.txt:2")
}

// TestHierarchyTestdata reads the ARX and basic-Mondrian files copied into
// testdata, so the real formats are checked without the shared folder.
func TestHierarchyTestdata(t *testing.T) {
	wc, err := LoadHierarchyFile(filepath.Join("testdata", "adult_hierarchy_workclass.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(wc) != 8 || !reflect.DeepEqual(wc[3], []string{"Federal-gov", "Government", "*"}) {
		t.Errorf("workclass = %q", wc)
	}
	age, err := LoadHierarchyFile(filepath.Join("testdata", "adult_hierarchy_age.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(age) != 100 || !reflect.DeepEqual(age[99], []string{"100", "95-99", "90-99", "80-99", "*"}) {
		t.Errorf("age has %d rows, last %q", len(age), age[len(age)-1])
	}
	ms, err := LoadRaggedHierarchyFile(filepath.Join("testdata", "adult_marital_status.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Never-married", "*"},
		{"Married-civ-spouse", "Married", "*"},
		{"Married-AF-spouse", "Married", "*"},
		{"Divorced", "leave", "*"},
		{"Separated", "leave", "*"},
		{"Widowed", "alone", "*"},
		{"Married-spouse-absent", "alone", "*"},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("marital status = %q, want %q", ms, want)
	}
	_, err = LoadHierarchyFile(filepath.Join("testdata", "adult_marital_status.txt"))
	checkErr(t, err, ErrFormat, "adult_marital_status.txt:2", "3 levels, want 2 as on line 1")
	if _, err := LoadHierarchyFile(filepath.Join("testdata", "missing.csv")); err == nil {
		t.Error("missing file accepted")
	}
}
