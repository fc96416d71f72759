package dataset_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/privml/privml/internal/dataset"
)

func ExampleBreastCancer() {
	d, err := dataset.BreastCancer()
	if err != nil {
		panic(err)
	}
	train, test, err := d.Split(42, 0.2)
	if err != nil {
		panic(err)
	}
	// Scale both sets with statistics of the training set only.
	if _, err := dataset.Standardize(train, test); err != nil {
		panic(err)
	}
	fmt.Println(d.Rows, "samples of", d.Cols, "features:", d.ClassNames, d.ClassCounts())
	fmt.Println("train", train.Rows, train.ClassCounts(), "test", test.Rows, test.ClassCounts())
	// Output:
	// 569 samples of 30 features: [malignant benign] [212 357]
	// train 456 [170 286] test 113 [42 71]
}

func ExampleReadSklearnCSV() {
	in := "2,2,no,yes\n0.5,1,0\n2,abc,1\n"
	_, err := dataset.ReadSklearnCSV(strings.NewReader(in), "toy.csv")
	fmt.Println(err)
	fmt.Println(errors.Is(err, dataset.ErrFormat))
	// Output:
	// dataset: toy.csv:3: column 2: not a number: "abc"
	// true
}

func ExampleReadHierarchy() {
	in := "Private;Non-Government;*\nFederal-gov;Government;*\nState-gov;Government;*\n"
	rows, err := dataset.ReadHierarchy(strings.NewReader(in), "workclass.csv", ';')
	if err != nil {
		panic(err)
	}
	for _, r := range rows {
		fmt.Println(strings.Join(r, " -> "))
	}
	// Output:
	// Private -> Non-Government -> *
	// Federal-gov -> Government -> *
	// State-gov -> Government -> *
}

func ExampleReadAdult() {
	in := `39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K
54, ?, 180211, Some-college, 10, Married-civ-spouse, ?, Husband, Asian-Pac-Islander, Male, 0, 0, 60, South, >50K
38, Private, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, White, Male, 0, 0, 40, United-States, <=50K

`
	qi := []int{dataset.AdultAge, dataset.AdultSex, dataset.AdultNativeCountry}
	st, err := dataset.ReadAdult(strings.NewReader(in), "adult.data", dataset.AdultOptions{DropMissing: true},
		func(line int, rec *dataset.AdultRecord) error {
			fmt.Println(line, rec.Select(qi), rec[dataset.AdultSalary])
			return nil
		})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d rows kept, %d dropped\n", st.Rows, st.Dropped)
	// Output:
	// 1 [39 Male United-States] <=50K
	// 3 [38 Male United-States] <=50K
	// 2 rows kept, 1 dropped
}

func ExampleReadIDXImages() {
	// A file of two 2x2 images: magic, count, rows, columns, pixels.
	var b []byte
	for _, v := range []uint32{dataset.IDXMagicImages, 2, 2, 2} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = append(b, 0, 51, 102, 255, 255, 255, 0, 0)
	images, err := dataset.ReadIDXImages(bytes.NewReader(b), "tiny-images", 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(images.Count, images.Rows, images.Cols)
	fmt.Println(dataset.AppendUnitFloat(nil, images.Image(0)))

	// The same header with a pixel missing.
	_, err = dataset.ReadIDXImages(bytes.NewReader(b[:len(b)-1]), "tiny-images", 0)
	fmt.Println(err)
	// Output:
	// 2 2 2
	// [0 0.2 0.4 1]
	// dataset: tiny-images: byte 23: data: got 7 of 8 bytes
}
