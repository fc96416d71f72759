package dataset

import (
	"bytes"
	_ "embed" // for the embedded data sets
	"fmt"
)

var (
	//go:embed data/breast_cancer.csv
	breastCancerCSV []byte
	//go:embed data/digits.csv.gz
	digitsCSVGz []byte
	//go:embed data/iris.csv
	irisCSV []byte
	//go:embed data/wine_data.csv
	wineCSV []byte
)

// BreastCancer returns the Breast Cancer Wisconsin (Diagnostic) data set,
// embedded in the package: 569 samples of 30 real features, labelled 0
// (malignant, 212 samples) or 1 (benign, 357 samples). Each call returns a
// fresh copy that the caller may modify.
func BreastCancer() (*Dataset, error) {
	return embedded(breastCancerCSV, "breast_cancer.csv", breastCancerFeatures, -1)
}

// Digits returns the optical handwritten digits data set, embedded in the
// package: 1797 images of 8x8 pixels with integer values 0..16, flattened
// row by row into 64 features, labelled with the digit 0..9.
func Digits() (*Dataset, error) {
	return embedded(digitsCSVGz, "digits.csv.gz", digitsFeatures(), 10)
}

// Iris returns Fisher's iris data set, embedded in the package: 150 samples
// of 4 features (sepal and petal length and width, in cm), 3 classes
// (setosa, versicolor, virginica) of 50 each.
func Iris() (*Dataset, error) {
	return embedded(irisCSV, "iris.csv", irisFeatures, -1)
}

// Wine returns the UCI wine recognition data set, embedded in the package:
// 178 samples of 13 features from a chemical analysis, 3 classes (class_0,
// class_1, class_2) of 59, 71 and 48 samples.
func Wine() (*Dataset, error) {
	return embedded(wineCSV, "wine_data.csv", wineFeatures, -1)
}

func embedded(data []byte, name string, features []string, numClasses int) (*Dataset, error) {
	var d *Dataset
	var err error
	if numClasses < 0 {
		d, err = ReadSklearnCSV(bytes.NewReader(data), name)
	} else {
		d, err = ReadLabeledCSV(bytes.NewReader(data), name, len(features), numClasses)
	}
	if err != nil {
		return nil, err
	}
	if len(features) != d.Cols {
		return nil, fmt.Errorf("dataset: embedded %s has %d features, want %d: %w", name, d.Cols, len(features), ErrFormat)
	}
	d.FeatureNames = append([]string(nil), features...)
	return d, nil
}

// Feature names as scikit-learn gives them.
var (
	breastCancerFeatures = []string{
		"mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
		"mean compactness", "mean concavity", "mean concave points", "mean symmetry", "mean fractal dimension",
		"radius error", "texture error", "perimeter error", "area error", "smoothness error",
		"compactness error", "concavity error", "concave points error", "symmetry error", "fractal dimension error",
		"worst radius", "worst texture", "worst perimeter", "worst area", "worst smoothness",
		"worst compactness", "worst concavity", "worst concave points", "worst symmetry", "worst fractal dimension",
	}
	irisFeatures = []string{"sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"}
	wineFeatures = []string{
		"alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
		"nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280/od315_of_diluted_wines", "proline",
	}
)

func digitsFeatures() []string {
	names := make([]string, 64)
	for i := range names {
		names[i] = fmt.Sprintf("pixel_%d_%d", i/8, i%8)
	}
	return names
}
