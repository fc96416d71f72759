package dataset

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
)

// indexed returns a data set whose single feature is the sample's index, with
// counts[c] samples of class c, interleaved.
func indexed(counts ...int) *Dataset {
	d := &Dataset{Name: "indexed", Cols: 1}
	for c := range counts {
		d.ClassNames = append(d.ClassNames, string(rune('a'+c)))
	}
	left := slices.Clone(counts)
	for more := true; more; {
		more = false
		for c := range left {
			if left[c] > 0 {
				left[c]--
				d.X = append(d.X, float64(d.Rows))
				d.Y = append(d.Y, c)
				d.Rows++
				more = true
			}
		}
	}
	return d
}

func TestSplit(t *testing.T) {
	d := indexed(50, 30, 7, 2)
	train, test, err := d.Split(1, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	// The two sides partition the samples, each in the original order,
	// each sample keeping its label.
	seen := make([]int, d.Rows)
	for _, part := range []*Dataset{train, test} {
		if err := part.Validate(); err != nil {
			t.Fatal(err)
		}
		for i := range part.Rows {
			k := int(part.Row(i)[0])
			seen[k]++
			if part.Y[i] != d.Y[k] {
				t.Errorf("sample %d has label %d, want %d", k, part.Y[i], d.Y[k])
			}
			if i > 0 && part.Row(i - 1)[0] >= part.Row(i)[0] {
				t.Errorf("order not kept at %d", i)
			}
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("sample %d appears %d times", k, n)
		}
	}
	// Stratified: round(0.25 * n_c) of each class in the test set.
	if got, want := test.ClassCounts(), []int{13, 8, 2, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("test class counts %v, want %v", got, want)
	}
	// Deterministic in the seed, and the seed matters.
	_, again, _ := d.Split(1, 0.25)
	_, other, _ := d.Split(2, 0.25)
	if !reflect.DeepEqual(again.X, test.X) {
		t.Error("same seed gave a different split")
	}
	if reflect.DeepEqual(other.X, test.X) {
		t.Error("seeds 1 and 2 gave the same split")
	}
	// The split copies: changing it leaves d alone.
	train.X[0] = -1
	if d.X[0] == -1 || d.X[int(test.X[0])] != test.X[0] {
		t.Error("split shares memory with the data set")
	}
}

func TestSplitErrors(t *testing.T) {
	d := indexed(3, 3)
	for _, f := range []float64{0, 1, -0.1, 1.5, math.NaN()} {
		if _, _, err := d.Split(1, f); err == nil {
			t.Errorf("test fraction %v accepted", f)
		}
	}
	if _, _, err := d.Split(1, 0.01); err == nil {
		t.Error("split with an empty test set accepted")
	}
	bad := indexed(2)
	bad.Y[0] = 5
	if _, _, err := bad.Split(1, 0.5); !errors.Is(err, ErrFormat) {
		t.Errorf("label out of range: err %v", err)
	}
}

func TestStandardize(t *testing.T) {
	train := &Dataset{Name: "train", Rows: 4, Cols: 3, Y: make([]int, 4), ClassNames: []string{"x"},
		X: []float64{
			1, 10, 5,
			2, 20, 5,
			3, 30, 5,
			4, 40, 5,
		}}
	test := &Dataset{Name: "test", Rows: 1, Cols: 3, Y: []int{0}, ClassNames: []string{"x"}, X: []float64{5, 0, 6}}
	s, err := Standardize(train, test)
	if err != nil {
		t.Fatal(err)
	}
	sd := math.Sqrt(1.25) // population sd of 1, 2, 3, 4
	if !allClose(s.Mean, []float64{2.5, 25, 5}) || !allClose(s.Std, []float64{sd, 10 * sd, 1}) {
		t.Errorf("mean %v, std %v", s.Mean, s.Std)
	}
	for j := range 3 {
		var sum, sq float64
		for i := range train.Rows {
			v := train.Row(i)[j]
			sum += v
			sq += v * v
		}
		mean, variance := sum/4, sq/4-(sum/4)*(sum/4)
		wantVar := 1.0
		if j == 2 {
			wantVar = 0 // constant feature maps to 0
		}
		if math.Abs(mean) > 1e-12 || math.Abs(variance-wantVar) > 1e-12 {
			t.Errorf("feature %d after scaling: mean %g, variance %g", j, mean, variance)
		}
	}
	// The test set uses the training statistics.
	if want := []float64{2.5 / sd, -25 / (10 * sd), 1}; !allClose(test.X, want) {
		t.Errorf("test = %v, want %v", test.X, want)
	}
	wrong := &Dataset{Name: "wrong", Rows: 1, Cols: 2, X: []float64{1, 2}}
	before := slices.Clone(train.X)
	if _, err := Standardize(train, wrong); err == nil {
		t.Error("mismatched feature count accepted")
	}
	if !reflect.DeepEqual(train.X, before) {
		t.Error("failed Standardize changed the training set")
	}
	if _, err := FitStandardizer(&Dataset{}); err == nil {
		t.Error("empty data set accepted")
	}
}

func allClose(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}

func TestValidate(t *testing.T) {
	good := indexed(2, 2)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(d *Dataset){
		"short X":        func(d *Dataset) { d.X = d.X[:3] },
		"short Y":        func(d *Dataset) { d.Y = d.Y[:3] },
		"label too big":  func(d *Dataset) { d.Y[1] = 2 },
		"negative label": func(d *Dataset) { d.Y[1] = -1 },
		"NaN":            func(d *Dataset) { d.X[2] = math.NaN() },
		"Inf":            func(d *Dataset) { d.X[2] = math.Inf(-1) },
		"feature names":  func(d *Dataset) { d.FeatureNames = []string{"a", "b"} },
	} {
		d := good.Clone()
		mutate(d)
		if err := d.Validate(); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err %v, want ErrFormat", name, err)
		}
	}
}
