package anonymize

import (
	"errors"
	"strings"
	"testing"
)

func TestARXHierarchies(t *testing.T) {
	heights := map[string]int{"sex": 2, "age": 5, "race": 2, "marital-status": 3, "education": 4,
		"native-country": 3, "workclass": 3, "occupation": 3, "salary-class": 2}
	for a, want := range heights {
		h := loadHierarchy(t, "adult_hierarchy_"+a+".csv")
		if h.Height() != want {
			t.Errorf("%s: height %d, want %d", a, h.Height(), want)
		}
		for _, v := range h.Values() {
			top, err := h.Generalize(v, h.Height()-1)
			if err != nil || top != "*" {
				t.Errorf("%s: root of %q = %q, %v", a, v, top, err)
			}
			if !h.Covers(v, v) || !h.Covers("*", v) {
				t.Errorf("%s: %q not covered by itself and the root", a, v)
			}
		}
	}
	if h := loadHierarchy(t, "adult_hierarchy_native-country.csv"); h.Len() != 41 {
		t.Errorf("native-country has %d values, want 41", h.Len())
	}
	age := loadHierarchy(t, "adult_hierarchy_age.csv")
	if g, _ := age.Generalize("39", 2); g != "30-39" {
		t.Errorf("age 39 at level 2 = %q", g)
	}
}

func TestTreeHierarchyPadding(t *testing.T) {
	h := loadHierarchy(t, "adult_workclass.txt")
	if h.Height() != 3 {
		t.Fatalf("height %d, want 3", h.Height())
	}
	if g, _ := h.Generalize("Private", 1); g != "Private" {
		t.Errorf("padded Private at level 1 = %q", g)
	}
	if g, _ := h.Generalize("State-gov", 1); g != "gov" {
		t.Errorf("State-gov at level 1 = %q", g)
	}
	if _, err := ReadHierarchy(strings.NewReader("Private;*\nState-gov;gov;*\n"), "w.txt", ';'); err == nil || !strings.Contains(err.Error(), "w.txt:2") {
		t.Errorf("strict reader accepted uneven heights: %v", err)
	}
}

func TestHierarchyErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a;x;*\nb;y;*\na;y;*\n", `h.csv:3: value "a" already listed on line 1`},
		{"a;x;*\nb;y;ALL\n", `h.csv:2: root "ALL" differs`},
		{"a;x;*\nb;x;*\nc;y;*\nd;z\n", "h.csv:4: 2 levels, line 1 has 3"},
		{"a;x;p;*\nb;x;q;*\n", `h.csv:2: "x" at level 1 has two parents`},
		{"a;;*\n", "h.csv:1: field 2 is empty"},
		{"a\n", "at least two levels"},
		{"", "no values"},
		{"a;\"x;*\n", "h.csv:1:"},
	}
	for _, c := range cases {
		_, err := ReadHierarchy(strings.NewReader(c.in), "h.csv", ';')
		if err == nil || !errors.Is(err, ErrHierarchy) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want ErrHierarchy containing %q", c.in, err, c.want)
		}
	}
}

func TestHierarchyMustCoverData(t *testing.T) {
	tb, err := ReadCSV(strings.NewReader("sex,age\nMale,1\nFemale,2\nOther,3\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := loadHierarchy(t, "adult_hierarchy_sex.csv")
	_, err = Mondrian(tb, Spec{K: 2, QIs: []QI{{Column: "sex", Kind: Hierarchical, Hierarchy: h}}}, nil)
	if !errors.Is(err, ErrHierarchy) || !strings.Contains(err.Error(), `row 3, column "sex": value "Other" is not in hierarchy adult_hierarchy_sex.csv`) {
		t.Fatalf("err = %v", err)
	}
}

func TestIntervalHierarchy(t *testing.T) {
	bottom, top := 20.0, 80.0
	h, err := IntervalHierarchy("age", []string{"17", "23", "39", "40", "85"}, IntervalSpec{Widths: []float64{5, 10, 20}, Bottom: &bottom, Top: &top})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"17": {"17", "<20", "<20", "<20", "*"},
		"23": {"23", "[20, 25[", "[20, 30[", "[20, 40[", "*"},
		"39": {"39", "[35, 40[", "[30, 40[", "[20, 40[", "*"},
		"40": {"40", "[40, 45[", "[40, 50[", "[40, 60[", "*"},
		"85": {"85", ">=80", ">=80", ">=80", "*"},
	}
	for v, levels := range want {
		for l, w := range levels {
			if g, _ := h.Generalize(v, l); g != w {
				t.Errorf("%s level %d = %q, want %q", v, l, g, w)
			}
		}
	}
	if _, err := IntervalHierarchy("x", []string{"1"}, IntervalSpec{Widths: []float64{5, 7}}); !errors.Is(err, ErrHierarchy) {
		t.Errorf("non-multiple widths: %v", err)
	}
	if _, err := IntervalHierarchy("x", []string{"abc"}, IntervalSpec{Widths: []float64{5}}); !errors.Is(err, ErrHierarchy) {
		t.Errorf("non-number: %v", err)
	}
}

func TestMaskingAndDateHierarchies(t *testing.T) {
	h, err := MaskingHierarchy("zip", []string{"81667", "81675"}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	for l, w := range []string{"81667", "8166*", "816**", "81***", "*"} {
		if g, _ := h.Generalize("81667", l); g != w {
			t.Errorf("level %d = %q, want %q", l, g, w)
		}
	}
	d, err := DateHierarchy("birth", []string{"1987-05-17", "1991-12-01"}, "2006-01-02", Month, Quarter, Year, Decade)
	if err != nil {
		t.Fatal(err)
	}
	for l, w := range []string{"1987-05-17", "1987-05", "1987-Q2", "1987", "1980s", "*"} {
		if g, _ := d.Generalize("1987-05-17", l); g != w {
			t.Errorf("date level %d = %q, want %q", l, g, w)
		}
	}
	if _, err := DateHierarchy("b", []string{"17/05/1987"}, "2006-01-02", Year); !errors.Is(err, ErrHierarchy) {
		t.Errorf("bad date: %v", err)
	}
}

func FuzzReadHierarchy(f *testing.F) {
	f.Add("a;x;*\nb;x;*\n", false)
	f.Add("Private;*\nState-gov;gov;*\n", true)
	f.Add("a;x;p;*\nb;x;q;*\n", false)
	f.Fuzz(func(t *testing.T, in string, tree bool) {
		read := ReadHierarchy
		if tree {
			read = ReadTreeHierarchy
		}
		h, err := read(strings.NewReader(in), "fuzz", ';')
		if err != nil {
			if !errors.Is(err, ErrHierarchy) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		root := ""
		for _, v := range h.Values() {
			r, err := h.Generalize(v, h.Height()-1)
			if err != nil {
				t.Fatal(err)
			}
			if root == "" {
				root = r
			}
			if r != root {
				t.Fatalf("two roots %q and %q", root, r)
			}
			for l := 0; l < h.Height(); l++ {
				g, _ := h.Generalize(v, l)
				if !h.Covers(g, v) {
					t.Fatalf("level %d ancestor %q does not cover %q", l, g, v)
				}
			}
		}
	})
}
