package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Dataset is a labelled numeric data set held row-major in one flat slice:
// feature j of sample i is X[i*Cols+j].
type Dataset struct {
	Name         string    // where it came from (file name), for messages
	X            []float64 // Rows*Cols features, row-major
	Rows, Cols   int       // number of samples and of features
	Y            []int     // Rows labels, each in [0, len(ClassNames))
	FeatureNames []string  // Cols names, or nil when the source has none
	ClassNames   []string  // name of each class label
}

// Row returns the features of sample i, sharing memory with d.X.
func (d *Dataset) Row(i int) []float64 {
	return d.X[i*d.Cols : (i+1)*d.Cols : (i+1)*d.Cols]
}

// NumClasses returns the number of classes, len(d.ClassNames).
func (d *Dataset) NumClasses() int { return len(d.ClassNames) }

// ClassCounts returns how many samples carry each label.
func (d *Dataset) ClassCounts() []int {
	counts := make([]int, len(d.ClassNames))
	for _, y := range d.Y {
		counts[y]++
	}
	return counts
}

// Validate checks the invariants of d: shapes agree, labels are in range and
// every feature is finite. Loaders return only valid data sets; Validate is
// for data sets built by hand.
func (d *Dataset) Validate() error {
	if d.Rows < 0 || d.Cols < 0 || len(d.X) != d.Rows*d.Cols || len(d.Y) != d.Rows {
		return fmt.Errorf("dataset: %s: shape mismatch: %d x %d with %d values and %d labels: %w",
			d.Name, d.Rows, d.Cols, len(d.X), len(d.Y), ErrFormat)
	}
	if d.FeatureNames != nil && len(d.FeatureNames) != d.Cols {
		return fmt.Errorf("dataset: %s: %d feature names for %d features: %w", d.Name, len(d.FeatureNames), d.Cols, ErrFormat)
	}
	for i, y := range d.Y {
		if y < 0 || y >= len(d.ClassNames) {
			return fmt.Errorf("dataset: %s: sample %d: label %d not in [0, %d): %w", d.Name, i, y, len(d.ClassNames), ErrFormat)
		}
	}
	for k, v := range d.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("dataset: %s: sample %d, feature %d: non-finite value: %w", d.Name, k/d.Cols, k%d.Cols, ErrFormat)
		}
	}
	return nil
}

// Subset returns a new data set made of the samples at idx, in that order.
// It copies the features; names are shared. It panics if an index is out of
// range.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{
		Name: d.Name, Rows: len(idx), Cols: d.Cols,
		X: make([]float64, 0, len(idx)*d.Cols), Y: make([]int, 0, len(idx)),
		FeatureNames: d.FeatureNames, ClassNames: d.ClassNames,
	}
	for _, i := range idx {
		s.X = append(s.X, d.Row(i)...)
		s.Y = append(s.Y, d.Y[i])
	}
	return s
}

// Split divides d into a training and a test set, stratified by label and
// deterministic in seed. From each class it puts round(testFraction * n_c) of
// its n_c samples, chosen by a seeded shuffle, into the test set and the rest
// into the training set; both sets keep the original sample order. The
// shuffle uses a PCG generator seeded with seed: it is meant for repeatable
// experiments, not for anything secret.
//
// testFraction must lie strictly between 0 and 1, and both sets must come
// out non-empty.
func (d *Dataset) Split(seed uint64, testFraction float64) (train, test *Dataset, err error) {
	if !(testFraction > 0 && testFraction < 1) {
		return nil, nil, fmt.Errorf("dataset: split of %s: test fraction %v not in (0, 1)", d.Name, testFraction)
	}
	if len(d.Y) != d.Rows || len(d.X) != d.Rows*d.Cols {
		return nil, nil, fmt.Errorf("dataset: split of %s: shape mismatch: %w", d.Name, ErrFormat)
	}
	byClass := make([][]int, len(d.ClassNames))
	for i, y := range d.Y {
		if y < 0 || y >= len(byClass) {
			return nil, nil, fmt.Errorf("dataset: split of %s: sample %d: label %d out of range: %w", d.Name, i, y, ErrFormat)
		}
		byClass[y] = append(byClass[y], i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	inTest := make([]bool, d.Rows)
	nTest := 0
	for _, idx := range byClass {
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		k := int(math.Round(testFraction * float64(len(idx))))
		for _, i := range idx[:k] {
			inTest[i] = true
		}
		nTest += k
	}
	if nTest == 0 || nTest == d.Rows {
		return nil, nil, fmt.Errorf("dataset: split of %s: %d of %d samples in the test set leaves one side empty", d.Name, nTest, d.Rows)
	}
	trainIdx := make([]int, 0, d.Rows-nTest)
	testIdx := make([]int, 0, nTest)
	for i, t := range inTest {
		if t {
			testIdx = append(testIdx, i)
		} else {
			trainIdx = append(trainIdx, i)
		}
	}
	return d.Subset(trainIdx), d.Subset(testIdx), nil
}

// Standardizer holds per-feature means and standard deviations, learnt from a
// training set, that map each feature to a z-score.
type Standardizer struct {
	Mean []float64 // mean of each feature
	Std  []float64 // population standard deviation of each feature; a zero is replaced by 1
}

// FitStandardizer computes the mean and standard deviation of each feature of
// d (usually the training set). A feature that is constant gets Std 1, so it
// maps to 0 rather than to NaN.
func FitStandardizer(d *Dataset) (*Standardizer, error) {
	if d.Rows == 0 || d.Cols == 0 || len(d.X) != d.Rows*d.Cols {
		return nil, fmt.Errorf("dataset: cannot standardize %s: %d x %d with %d values", d.Name, d.Rows, d.Cols, len(d.X))
	}
	s := &Standardizer{Mean: make([]float64, d.Cols), Std: make([]float64, d.Cols)}
	for i := range d.Rows {
		for j, v := range d.Row(i) {
			s.Mean[j] += v
		}
	}
	n := float64(d.Rows)
	for j := range s.Mean {
		s.Mean[j] /= n
	}
	for i := range d.Rows {
		for j, v := range d.Row(i) {
			dv := v - s.Mean[j]
			s.Std[j] += dv * dv
		}
	}
	for j := range s.Std {
		s.Std[j] = math.Sqrt(s.Std[j] / n)
		if s.Std[j] == 0 || math.IsNaN(s.Std[j]) {
			s.Std[j] = 1
		}
	}
	return s, nil
}

// Transform replaces every feature x of d, in place, with (x - Mean) / Std.
func (s *Standardizer) Transform(d *Dataset) error {
	if d.Cols != len(s.Mean) || len(d.X) != d.Rows*d.Cols {
		return fmt.Errorf("dataset: cannot standardize %s: %d features, standardizer has %d", d.Name, d.Cols, len(s.Mean))
	}
	for i := range d.Rows {
		row := d.Row(i)
		for j := range row {
			row[j] = (row[j] - s.Mean[j]) / s.Std[j]
		}
	}
	return nil
}

// Standardize fits a [Standardizer] on train and applies it, in place, to
// train and to each of the others (such as the test set), so that no
// statistic of the held-out data leaks into the scaling.
func Standardize(train *Dataset, others ...*Dataset) (*Standardizer, error) {
	s, err := FitStandardizer(train)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		if o.Cols != train.Cols || len(o.X) != o.Rows*o.Cols {
			return nil, fmt.Errorf("dataset: cannot standardize %s: %d x %d with %d values, training set has %d features",
				o.Name, o.Rows, o.Cols, len(o.X), train.Cols)
		}
	}
	for _, d := range append([]*Dataset{train}, others...) {
		if err := s.Transform(d); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Clone returns a deep copy of d.
func (d *Dataset) Clone() *Dataset {
	c := *d
	c.X = slices.Clone(d.X)
	c.Y = slices.Clone(d.Y)
	c.FeatureNames = slices.Clone(d.FeatureNames)
	c.ClassNames = slices.Clone(d.ClassNames)
	return &c
}
