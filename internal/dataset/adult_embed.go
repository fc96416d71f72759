package dataset

import (
	"bytes"
	_ "embed" // for the embedded Adult data
	"fmt"
	"math"
	"slices"
)

//go:embed data/adult.data.gz
var adultDataGz []byte

// AdultEmbedded returns the rows of the UCI Adult training file
// (adult.data, 32,561 rows), embedded gzipped in the package, read with
// [ReadAdultAll] and opt. With DropMissing it keeps 30,162 rows. See
// data/README.md for its source and licence (CC BY 4.0).
func AdultEmbedded(opt AdultOptions) ([]AdultRecord, error) {
	return ReadAdultAll(bytes.NewReader(adultDataGz), "adult.data.gz", opt)
}

// adultCategorical are the categorical columns one-hot encoded by
// [AdultNumeric], in this order.
var adultCategorical = []int{
	AdultWorkclass, AdultEducation, AdultMaritalStatus, AdultOccupation,
	AdultRelationship, AdultRace, AdultSex, AdultNativeCountry,
}

// adultNumericCols are the numeric columns kept by [AdultNumeric]; the
// census weight fnlwgt is left out (it describes the sampling, not the
// person). Capital gain and loss are log1p-transformed.
var adultNumericCols = []int{AdultAge, AdultEducationNum, AdultCapitalGain, AdultCapitalLoss, AdultHoursPerWeek}

// AdultNumeric turns Adult records into a numeric [Dataset] for binary
// classification: the numeric columns age, education-num, log(1+capital-gain),
// log(1+capital-loss) and hours-per-week, then one 0/1 indicator per value of
// each categorical column (workclass, education, marital-status, occupation,
// relationship, race, sex, native-country) seen in recs, in sorted order; a
// missing value sets no indicator of its column. Labels are 0 for "<=50K"
// and 1 for ">50K" (a trailing "." as in UCI's test file is accepted). The
// features are not standardized; use [Standardize]. The error names the
// first row whose label or numeric field is unusable.
func AdultNumeric(recs []AdultRecord) (*Dataset, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: no Adult records", ErrFormat)
	}
	values := make([][]string, len(adultCategorical))
	for c, col := range adultCategorical {
		seen := map[string]bool{}
		for i := range recs {
			if v := recs[i][col]; v != AdultMissing && !seen[v] {
				seen[v] = true
				values[c] = append(values[c], v)
			}
		}
		slices.Sort(values[c])
	}
	names := make([]string, 0, 128)
	for _, col := range adultNumericCols {
		names = append(names, adultNames[col])
	}
	offset := make([]map[string]int, len(adultCategorical))
	for c, col := range adultCategorical {
		offset[c] = make(map[string]int, len(values[c]))
		for _, v := range values[c] {
			offset[c][v] = len(names)
			names = append(names, adultNames[col]+"="+v)
		}
	}
	d := &Dataset{Name: "adult", Rows: len(recs), Cols: len(names), FeatureNames: names,
		ClassNames: []string{"<=50K", ">50K"}, X: make([]float64, len(recs)*len(names)), Y: make([]int, len(recs))}
	for i := range recs {
		if err := adultRow(d, i, &recs[i], offset); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func adultRow(d *Dataset, i int, r *AdultRecord, offset []map[string]int) error {
	row := d.Row(i)
	for j, col := range adultNumericCols {
		v, ok := r.Int(col)
		if !ok {
			v = 0 // a missing numeric value: Adult has none, encode as 0
		}
		x := float64(v)
		if col == AdultCapitalGain || col == AdultCapitalLoss {
			x = math.Log1p(x)
		}
		row[j] = x
	}
	for c, col := range adultCategorical {
		if k, ok := offset[c][r[col]]; ok {
			row[k] = 1
		}
	}
	switch r[AdultSalary] {
	case "<=50K", "<=50K.":
		d.Y[i] = 0
	case ">50K", ">50K.":
		d.Y[i] = 1
	default:
		return fmt.Errorf("%w: adult row %d: salary %s, want <=50K or >50K", ErrFormat, i+1, quote(r[AdultSalary]))
	}
	return nil
}
