package anonymize

import (
	"fmt"
	"math"
	"strings"
)

// Dependence is a functional dependence, on the rows of a table, between
// a column released unchanged and a quasi-identifier. Either direction
// undoes generalization:
//   - Column → QI: every output row keeps the value that fixes its
//     original QI value, so anyone who knows (or learns from the output)
//     the map recovers the QI exactly (education and education-num in
//     the Adult data);
//   - QI → Column: an adversary who knows a target's QI value knows its
//     Column value too, so Column acts as an ungeneralized QI and splits
//     the equivalence classes (a ZIP code determining the city).
type Dependence struct {
	// Column is the column released unchanged; QI the quasi-identifier.
	Column, QI string
	// Determines: each value of Column occurs with one value of QI.
	Determines bool
	// DeterminedBy: each value of QI occurs with one value of Column.
	DeterminedBy bool
	// ColumnValues and QIValues count the distinct values of each.
	ColumnValues, QIValues int
}

func (d Dependence) String() string {
	arrow := "→"
	switch {
	case d.Determines && d.DeterminedBy:
		arrow = "↔"
	case d.DeterminedBy:
		arrow = "←"
	}
	return fmt.Sprintf("%s %s %s (%d and %d distinct values)", d.Column, arrow, d.QI, d.ColumnValues, d.QIValues)
}

// DependentColumns lists the columns that a release of t under spec
// would copy unchanged (every column but the quasi-identifiers and the
// identifiers, the sensitive column included) and that are functionally
// dependent on a single quasi-identifier, in either direction (see
// [Dependence]). X → Y counts when all of these hold on the rows of t:
//   - every value of X occurs with exactly one value of Y;
//   - Y takes at least two distinct values (a constant column is
//     determined by anything and reveals nothing);
//   - the rows support it: X takes at most half as many distinct values as
//     t has rows (each X value is seen twice on average), or, for an X with
//     more values, the rows that repeat an X value and agree on Y would
//     all agree with probability below 2^-20 if Y were independent of X
//     with its observed frequencies (Π over X values of Σ_y p_y^size).
//     A dependence of a unique X (a row number) holds by accident of the
//     sample and is not reported, nor is one of a nearly unique X with few
//     repeats; a column joining two QIs ("34|10002") or renaming a QI of
//     high cardinality repeats its values often enough to be reported.
//
// Only dependences on one QI are checked, not on combinations of QIs (a
// column determining a combination determines each QI in it and is
// caught; one that is a lossy function of several, like a sum, is not),
// and only exact ones: a single row breaking the map hides it. Each pair
// of columns costs one pass over the rows. [Mondrian], [Optimal] and [Verify]
// refuse a spec with a dependent column unless Spec.KeepDependent is set.
func DependentColumns(t *Table, spec Spec) ([]Dependence, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil table", ErrInput)
	}
	skip := map[string]bool{}
	var qcols []*Column
	for _, q := range spec.QIs {
		c, err := t.Column(q.Column)
		if err != nil {
			return nil, err
		}
		skip[q.Column] = true
		qcols = append(qcols, c)
	}
	for _, id := range spec.Identifiers {
		if _, err := t.Column(id); err != nil {
			return nil, err
		}
		skip[id] = true
	}
	var out []Dependence
	for _, c := range t.cols {
		if skip[c.Name] {
			continue
		}
		for _, q := range qcols {
			fwd, back := determines(c, q, t.rows), determines(q, c, t.rows)
			if fwd || back {
				out = append(out, Dependence{Column: c.Name, QI: q.Name, Determines: fwd, DeterminedBy: back,
					ColumnValues: len(c.Dict), QIValues: len(q.Dict)})
			}
		}
	}
	return out, nil
}

// determines reports whether x → y counts as a dependence on n rows (see
// [DependentColumns]).
func determines(x, y *Column, n int) bool {
	if len(y.Dict) < 2 {
		return false
	}
	img := make([]int32, len(x.Dict))
	for i := range img {
		img[i] = -1
	}
	for i, cx := range x.Codes {
		cy := y.Codes[i]
		switch img[cx] {
		case -1:
			img[cx] = cy
		case cy:
		default:
			return false
		}
	}
	return 2*len(x.Dict) <= n || log2ChanceAgreement(x, y) <= -dependenceEvidenceBits
}

// dependenceEvidenceBits is how unlikely (in bits) a dependence of an X
// with more than n/2 values must be by chance to be reported.
const dependenceEvidenceBits = 20

// log2ChanceAgreement returns log2 of the probability that every group of
// rows sharing an X value is constant in Y when Y is drawn independently
// of X with its observed frequencies p: Σ_groups log2 Σ_y p_y^size.
func log2ChanceAgreement(x, y *Column) float64 {
	size := make([]int, len(x.Dict))
	for _, c := range x.Codes {
		size[c]++
	}
	freq := make([]float64, len(y.Dict))
	for _, c := range y.Codes {
		freq[c]++
	}
	for i := range freq {
		freq[i] /= float64(len(y.Codes))
	}
	bySize := map[int]float64{}
	var total float64
	for _, s := range size {
		if s < 2 {
			continue
		}
		l, ok := bySize[s]
		if !ok {
			var agree float64
			for _, p := range freq {
				agree += math.Pow(p, float64(s))
			}
			l = math.Log2(agree)
			bySize[s] = l
		}
		total += l
	}
	return total
}

// checkDependent returns an error wrapping [ErrDependent] naming every
// dependence of spec on t, unless spec.KeepDependent is set.
func checkDependent(t *Table, spec Spec) error {
	if spec.KeepDependent {
		return nil
	}
	deps, err := DependentColumns(t, spec)
	if err != nil || len(deps) == 0 {
		return err
	}
	return fmt.Errorf("%w: %s; drop those columns (Spec.Identifiers), make them quasi-identifiers, or set Spec.KeepDependent", ErrDependent, describeDependences(deps))
}

func describeDependences(deps []Dependence) string {
	s := make([]string, len(deps))
	for i, d := range deps {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}
