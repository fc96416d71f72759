package anonymize

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func loadARXSlice(t testing.TB) *Table {
	f, err := os.Open(filepath.Join("testdata", "arx_adult_500.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tb, err := ReadCSV(f, CSVOptions{Name: "arx_adult_500.csv", Delimiter: ';'})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// TestOptimalMatchesExhaustive checks that the Flash search with
// predictive tagging finds the same node as checking all 4,320 nodes, and
// checks fewer.
func TestOptimalMatchesExhaustive(t *testing.T) {
	tb := loadARXSlice(t)
	for _, c := range []struct {
		k      int
		sup    float64
		metric Metric
		l      *LDiversity
	}{
		{5, 0, NonUniformEntropyMetric, nil},
		{2, 0, LossMetric, nil},
		{10, 0.05, NonUniformEntropyMetric, nil},
		{5, 0.02, DiscernibilityMetric, nil},
		{3, 0, NonUniformEntropyMetric, &LDiversity{Kind: DistinctL, L: 2}},
	} {
		spec := setupB(t, "testdata", c.k)
		spec.Suppression = c.sup
		spec.L = c.l
		fast, err := Optimal(tb, spec, &OptimalOptions{Metric: c.metric})
		if err != nil {
			t.Fatal(err)
		}
		full, err := Optimal(tb, spec, &OptimalOptions{Metric: c.metric, Exhaustive: true})
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(fast.Node, full.Node) {
			t.Errorf("k=%d sup=%v metric=%d: Flash node %v, exhaustive %v", c.k, c.sup, c.metric, fast.Node, full.Node)
		}
		if fast.NodesChecked >= full.NodesChecked {
			t.Errorf("Flash checked %d of %d nodes", fast.NodesChecked, full.NodesChecked)
		}
		rep, err := Verify(tb, fast.Output, spec)
		if err != nil {
			t.Fatalf("k=%d: %v", c.k, err)
		}
		if rep.Suppressed != fast.Suppressed || rep.Classes != fast.Classes {
			t.Errorf("verifier: %d suppressed, %d classes; algorithm: %d, %d", rep.Suppressed, rep.Classes, fast.Suppressed, fast.Classes)
		}
		// Minimality: lowering any QI of the chosen node by one level must
		// break the model or not lower the loss.
		g := newGlobal(tb, mustCompile(t, tb, spec), c.metric)
		lv := append([]int(nil), fast.Node...)
		ok, fail, sup, _ := g.evaluate(lv)
		if !ok {
			t.Fatal("chosen node not anonymous")
		}
		best := g.loss(lv, fail, sup)
		for q := range lv {
			if lv[q] == 0 {
				continue
			}
			lv[q]--
			if ok, fail, sup, _ := g.evaluate(lv); ok && g.loss(lv, fail, sup) < best-1e-9 {
				t.Errorf("predecessor %v is anonymous with smaller loss", lv)
			}
			lv[q]++
		}
	}
}

func mustCompile(t testing.TB, tb *Table, spec Spec) *compiled {
	c, err := compile(tb, spec, true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOptimalErrors(t *testing.T) {
	tb := loadARXSlice(t)
	spec := setupB(t, "testdata", 5)
	spec.QIs[0].Hierarchy = nil
	spec.QIs[0].Kind = Numeric
	if _, err := Optimal(tb, spec, nil); !errors.Is(err, ErrParameter) {
		t.Errorf("QI without hierarchy: %v", err)
	}
	spec = setupB(t, "testdata", 5)
	spec.L = &LDiversity{Kind: DistinctL, L: 20}
	if _, err := Optimal(tb, spec, nil); !errors.Is(err, ErrUnsatisfiable) {
		t.Errorf("l = 20 over 14 occupations: %v", err)
	}
}
