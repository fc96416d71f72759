package anonymize

import (
	"os"
	"path/filepath"
	"testing"
)

// adultColumns are the UCI names of the adult.data columns.
var adultColumns = []string{"age", "workclass", "fnlwgt", "education", "education-num",
	"marital-status", "occupation", "relationship", "race", "sex", "capital-gain",
	"capital-loss", "hours-per-week", "native-country", "salary"}

// referenceNCP is the NCP (%) of the reference strict Mondrian
// (qiyuangong/Mondrian, mondrian.py anonymize_strict, Python 3.11) on
// set-up A, measured on the full adult.data (30,162 rows).
var referenceNCP = map[int]float64{2: 4.97, 5: 8.30, 10: 11.24, 25: 16.35, 50: 22.16, 100: 30.09}

// adultNotReleased are the columns the Mondrian reference set-up does not
// release; education among them determines education-num, a QI.
var adultNotReleased = []string{"fnlwgt", "education", "relationship", "capital-gain", "capital-loss", "hours-per-week"}

// setupA is the Mondrian reference set-up (qiyuangong/Mondrian): the QIs
// and the class, the other columns removed.
func setupA(k int) Spec {
	return Spec{
		Identifiers: adultNotReleased,
		QIs: []QI{
			{Column: "age", Kind: Numeric},
			{Column: "workclass", Kind: Ordinal},
			{Column: "education-num", Kind: Numeric},
			{Column: "marital-status", Kind: Ordinal},
			{Column: "occupation", Kind: Ordinal},
			{Column: "race", Kind: Ordinal},
			{Column: "sex", Kind: Ordinal},
			{Column: "native-country", Kind: Ordinal},
		},
		Sensitive: "salary",
		K:         k,
	}
}

func loadAdult(t testing.TB, path string) *Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tb, err := ReadCSV(f, CSVOptions{Name: filepath.Base(path), NoHeader: true, Columns: adultColumns, Missing: "?", DropMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func loadHierarchy(t testing.TB, file string) *Hierarchy {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h *Hierarchy
	if filepath.Ext(file) == ".txt" {
		h, err = ReadTreeHierarchy(f, file, ';')
	} else {
		h, err = ReadHierarchy(f, file, ';')
	}
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fullAdult returns the path of the full adult.data, or skips.
func fullAdult(t testing.TB) string {
	dir := os.Getenv("PRIVML_DATASETS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "datasets")
	}
	p := filepath.Join(dir, "adult", "adult.data")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("full Adult data set not found at %s (set PRIVML_DATASETS)", p)
	}
	return p
}

func TestSetupAFull(t *testing.T) {
	if testing.Short() {
		t.Skip("full data set")
	}
	tb := loadAdult(t, fullAdult(t))
	if tb.Rows() != 30162 {
		t.Fatalf("rows = %d, want 30162", tb.Rows())
	}
	for _, k := range []int{2, 5, 10, 25, 50, 100} {
		res, err := Mondrian(tb, setupA(k), nil)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(tb, res.Output, setupA(k))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("k=%d NCP=%.2f%% classes=%d kmin=%d DM=%.0f CAVG=%.3f time=%v", k, rep.NCP, rep.Classes, rep.KMin, rep.Discernibility, rep.CAvg, res.Duration)
		if rep.NCP > referenceNCP[k] {
			t.Errorf("k=%d: NCP %.2f%% above the reference strict Mondrian's %.2f%%", k, rep.NCP, referenceNCP[k])
		}
	}
}

// setupB is the ARX benchmark set-up (arx-deidentifier/anonbench).
func setupB(t testing.TB, dir string, k int) Spec {
	var qis []QI
	for _, a := range []string{"age", "education", "marital-status", "native-country", "race", "salary-class", "sex", "workclass"} {
		f, err := os.Open(filepath.Join(dir, "adult_hierarchy_"+a+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		h, err := ReadHierarchy(f, "adult_hierarchy_"+a+".csv", ';')
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		qis = append(qis, QI{Column: a, Kind: Hierarchical, Hierarchy: h})
	}
	return Spec{QIs: qis, Sensitive: "occupation", K: k}
}

func TestSetupBFull(t *testing.T) {
	if testing.Short() {
		t.Skip("full data set")
	}
	dir := filepath.Join(filepath.Dir(fullAdult(t)), "arx")
	f, err := os.Open(filepath.Join(dir, "adult.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tb, err := ReadCSV(f, CSVOptions{Name: "adult.csv", Delimiter: ';'})
	if err != nil {
		t.Fatal(err)
	}
	spec := setupB(t, dir, 5)
	res, err := Optimal(tb, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(tb, res.Output, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node=%v checked=%d/%d time=%v classes=%d kmin=%d NUE=%.0f NCP=%.2f%%", res.Node, res.NodesChecked, res.NodesTotal, res.Duration, rep.Classes, rep.KMin, rep.NonUniformEntropy, rep.NCP)
}
