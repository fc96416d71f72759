package anonymize

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// setCell returns a copy of t with cell (row, column) set to v.
func setCell(t *Table, row int, column, v string) *Table {
	j := t.Index(column)
	old := t.cols[j]
	nc := &Column{Name: old.Name, Dict: append([]string(nil), old.Dict...), index: map[string]int32{}, Codes: append([]int32(nil), old.Codes...)}
	for k, s := range nc.Dict {
		nc.index[s] = int32(k)
	}
	nc.Codes[row] = nc.code(v)
	out := &Table{cols: append([]*Column(nil), t.cols...), byName: t.byName, rows: t.rows}
	out.cols[j] = nc
	return out
}

// dropRow returns a copy of t without row i.
func dropRow(t *Table, i int) *Table {
	keep := make([]bool, t.rows)
	for r := range keep {
		keep[r] = r != i
	}
	out := &Table{byName: t.byName, rows: t.rows - 1}
	for _, c := range t.cols {
		nc := &Column{Name: c.Name, Dict: c.Dict, index: c.index}
		for r, k := range keep {
			if k {
				nc.Codes = append(nc.Codes, c.Codes[r])
			}
		}
		out.cols = append(out.cols, nc)
	}
	return out
}

func TestVerifyCatchesBrokenOutput(t *testing.T) {
	tb := loadAdult(t, filepath.Join("testdata", "adult_1000.data"))
	spec := setupA(10)
	spec.T = &TCloseness{Kind: EqualDistance, T: 0.4}
	res, err := Mondrian(tb, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, err := Verify(tb, res.Output, spec)
	if err != nil {
		t.Fatalf("valid output rejected: %v", err)
	}
	age, _ := tb.Column("age")
	cases := []struct {
		name string
		out  *Table
		spec func(Spec) Spec
		want string
	}{
		{"class below k", setCell(res.Output, 3, "age", colCell(age, 3)), nil, "below k = 10"},
		{"t above the bound", res.Output, func(s Spec) Spec {
			s.T = &TCloseness{Kind: EqualDistance, T: good.TMax / 2}
			return s
		}, "farther than t"},
		{"l above what classes hold", res.Output, func(s Spec) Spec {
			s.L = &LDiversity{Kind: DistinctL, L: 2}
			s.K = 2
			return s
		}, "not distinct 2-diverse"},
		{"sensitive value altered", setCell(res.Output, 5, "salary", "maybe"), nil, "output row 6 is not a generalization"},
		{"generalization that does not cover", setCell(res.Output, 0, "age", "[80..90]"), nil, "output row 1 is not a generalization"},
		{"unparseable label", setCell(res.Output, 0, "workclass", "[nope..never]"), nil, `column "workclass": not a generalized value`},
		{"row lost", dropRow(res.Output, 7), nil, "1 rows suppressed, above the limit of 0"},
	}
	for _, c := range cases {
		s := spec
		if c.spec != nil {
			s = c.spec(spec)
		}
		_, err := Verify(tb, c.out, s)
		if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrVerify containing %q", c.name, err, c.want)
		}
	}
	// A row lost within the suppression limit is accepted and counted.
	s := spec
	s.Suppression = 0.01
	rep, err := Verify(tb, dropRow(res.Output, 7), s)
	if err == nil && rep.Suppressed != 1 {
		t.Errorf("suppressed = %d, want 1", rep.Suppressed)
	}
}

func TestVerifyMetrics(t *testing.T) {
	// Two classes of 2 over one numeric QI with range 0..10.
	in, _ := ReadCSV(strings.NewReader("x,s\n0,a\n2,b\n8,a\n10,b\n"), CSVOptions{})
	out, _ := ReadCSV(strings.NewReader("x,s\n[0..2],a\n[0..2],b\n[8..10],a\n[8..10],b\n"), CSVOptions{})
	spec := Spec{QIs: []QI{{Column: "x", Kind: Numeric}}, Sensitive: "s", K: 2,
		L: &LDiversity{Kind: EntropyL, L: 2}, T: &TCloseness{Kind: OrderedDistance, T: 0}}
	rep, err := Verify(in, out, spec)
	if err != nil {
		t.Fatal(err)
	}
	// NCP: every cell has width 2/10.
	if d := rep.NCP - 20; d > 1e-9 || d < -1e-9 {
		t.Errorf("NCP = %v, want 20", rep.NCP)
	}
	if rep.Discernibility != 8 || rep.CAvg != 1 || rep.Classes != 2 || rep.KMin != 2 {
		t.Errorf("report %+v", rep)
	}
	if rep.LDistinct != 2 || rep.LEntropy < 2-1e-9 || rep.TMax > 1e-12 {
		t.Errorf("l/t: %+v", rep)
	}
	// NUE: each cell covers 2 of 4 rows, its value 1: log2(2) = 1 bit.
	if rep.NonUniformEntropy != 4 {
		t.Errorf("NUE = %v, want 4", rep.NonUniformEntropy)
	}
	if rep.ProsecutorMax != 0.5 || rep.ProsecutorAvg != 0.5 || rep.SampleUniques != 0 {
		t.Errorf("risk: %+v", rep)
	}
}

func TestEMDKinds(t *testing.T) {
	// Global distribution of 4 ordered values: uniform.
	in, _ := ReadCSV(strings.NewReader("x,s\n1,1\n2,2\n3,3\n4,4\n"), CSVOptions{})
	h, _ := NewHierarchy("s", [][]string{{"1", "low", "*"}, {"2", "low", "*"}, {"3", "high", "*"}, {"4", "high", "*"}})
	class := []int32{2, 0, 0, 0} // all mass on value "1" (code 0) in a class of 2
	for _, c := range []struct {
		tc   TCloseness
		want float64
	}{
		{TCloseness{Kind: EqualDistance}, 0.75},
		// ordered: cumulative differences .75, .5, .25 over m-1 = 3
		{TCloseness{Kind: OrderedDistance}, 0.5},
		// hierarchical: leaves under "low": +.75 and -.25, min .25 at
		// height 1/2; root: +.5 vs -.5, .5 at height 2/2
		{TCloseness{Kind: HierarchicalDistance, Hierarchy: h}, 0.625},
	} {
		tc := c.tc
		ck, err := newChecker(Spec{K: 2, T: &tc}, in, 1, in.cols[1].Codes, 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := ck.emd(2, class, make([]float64, 5)); got < c.want-1e-12 || got > c.want+1e-12 {
			t.Errorf("kind %d: EMD = %v, want %v", tc.Kind, got, c.want)
		}
	}
}

func TestRecursiveCL(t *testing.T) {
	// counts 5,3,2: (c,2): 5 < c·(3+2) iff c > 1
	if r := recursiveC([]int32{3, 5, 2}, 2, make([]float64, 4)); r != 1 {
		t.Fatalf("ratio = %v, want 1", r)
	}
	if r := recursiveC([]int32{3, 0, 0}, 2, make([]float64, 4)); r < 1e300 {
		t.Fatalf("one value: ratio %v, want +Inf", r)
	}
}

// FuzzVerify feeds arbitrary "anonymized" tables to the verifier: it must
// never panic, and whatever it accepts must keep every input row's
// non-QI values and meet k.
func FuzzVerify(f *testing.F) {
	in, err := ReadCSV(strings.NewReader("age,colour,s\n30,red,a\n31,blue,b\n40,red,a\n45,blue,b\n"), CSVOptions{})
	if err != nil {
		f.Fatal(err)
	}
	spec := Spec{QIs: []QI{{Column: "age", Kind: Numeric}, {Column: "colour", Kind: Ordinal}}, Sensitive: "s", K: 2}
	f.Add("age,colour,s\n[30..31],[red..blue],a\n[30..31],[red..blue],b\n[40..45],[red..blue],a\n[40..45],[red..blue],b\n")
	f.Add("age,colour,s\n30,red,a\n")
	f.Add("age,colour,s\n[30....31],[red..],a\n")
	f.Fuzz(func(t *testing.T, text string) {
		out, err := ReadCSV(strings.NewReader(text), CSVOptions{})
		if err != nil {
			return
		}
		rep, err := Verify(in, out, spec)
		if err != nil {
			if !errors.Is(err, ErrVerify) {
				t.Fatalf("error wraps no ErrVerify: %v", err)
			}
			return
		}
		if rep.KMin < 2 || rep.Suppressed != 0 || out.Rows() != in.Rows() {
			t.Fatalf("accepted an output that breaks the spec: %+v", rep)
		}
		s, _ := out.Column("s")
		for i := 0; i < out.Rows(); i++ {
			if colCell(s, i) != cell(in, i, 2) {
				t.Fatalf("accepted an altered sensitive value at row %d", i+1)
			}
		}
	})
}
