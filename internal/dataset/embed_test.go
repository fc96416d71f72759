package dataset

import (
	"math"
	"reflect"
	"testing"
)

func TestEmbedded(t *testing.T) {
	for _, tc := range []struct {
		name       string
		load       func() (*Dataset, error)
		rows, cols int
		classes    []string
		counts     []int
	}{
		{"breast cancer", BreastCancer, 569, 30, []string{"malignant", "benign"}, []int{212, 357}},
		{"digits", Digits, 1797, 64, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
			[]int{178, 182, 177, 183, 181, 182, 181, 179, 174, 180}},
		{"iris", Iris, 150, 4, []string{"setosa", "versicolor", "virginica"}, []int{50, 50, 50}},
		{"wine", Wine, 178, 13, []string{"class_0", "class_1", "class_2"}, []int{59, 71, 48}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if d.Rows != tc.rows || d.Cols != tc.cols || len(d.FeatureNames) != tc.cols {
				t.Errorf("%d x %d with %d feature names, want %d x %d", d.Rows, d.Cols, len(d.FeatureNames), tc.rows, tc.cols)
			}
			if !reflect.DeepEqual(d.ClassNames, tc.classes) || !reflect.DeepEqual(d.ClassCounts(), tc.counts) {
				t.Errorf("classes %q with counts %v, want %q with %v", d.ClassNames, d.ClassCounts(), tc.classes, tc.counts)
			}
			// Each call returns a fresh copy.
			d.X[0], d.FeatureNames[0] = -1, "changed"
			again, _ := tc.load()
			if again.X[0] == -1 || again.FeatureNames[0] == "changed" {
				t.Error("embedded data set shared between calls")
			}
		})
	}
}

func TestEmbeddedValues(t *testing.T) {
	bc, _ := BreastCancer()
	// First sample of the UCI file: mean radius 17.99, worst fractal
	// dimension 0.1189, malignant.
	if r := bc.Row(0); r[0] != 17.99 || r[29] != 0.1189 || bc.Y[0] != 0 || bc.FeatureNames[29] != "worst fractal dimension" {
		t.Errorf("first breast-cancer row %v, label %d", r, bc.Y[0])
	}
	dg, _ := Digits()
	for _, v := range dg.X {
		if v < 0 || v > 16 || v != math.Trunc(v) {
			t.Fatalf("digit pixel %v not an integer in 0..16", v)
		}
	}
	if dg.FeatureNames[63] != "pixel_7_7" {
		t.Errorf("last digit feature %q", dg.FeatureNames[63])
	}
}
