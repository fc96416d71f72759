// Package anonstudy is the study run by benchmarks/anon-study: it measures what k-anonymity costs on UCI Adult: the
// information loss (NCP, discernibility) of Mondrian against k, with the
// median cut and privml's best cut side by side, with l-diversity and
// t-closeness variants, and the test accuracy of a logistic regression
// predicting salary trained on the anonymized table against one trained on
// the original. It writes benchmarks/results/anon.md, anon-ncp.png and
// anon-accuracy.png.
//
//	go run ./benchmarks/anon-study [-quick] [-data DIR] [-seed 1]
//
// # Set-up
//
// adult.data (from -data, default $PRIVML_DATASETS, else ../shared/datasets
// beside the repository, folder adult; -quick uses 1,000 embedded rows)
// without the rows with a missing value is split 80/20 at random (seeded,
// public). The training part is anonymized with the QIs of `privml
// anonymize --preset adult`: age and education-num numeric; workclass,
// marital-status, occupation, race, sex and native-country ordinal in
// order of first appearance; salary sensitive; the other columns are not
// released. Variants: k-anonymity; plus distinct 2-diversity of salary
// (the most a two-valued column allows); plus 0.1-closeness of salary
// (equal ground distance). Every output is checked by anonymize.Verify,
// which also gives NCP and discernibility.
//
// The classifier sees the 8 QIs. A generalized numeric range is mapped to
// its midpoint; a generalized ordinal range [a..b] to the uniform mixture
// of the one-hot codes of the values from a to b (a single value: its
// one-hot code). Numeric features are standardised with the training
// table's mean and deviation. The model is softmax regression with plain
// mini-batch SGD (5 epochs, batch 64, learning rate 0.1), tested on the
// original (not generalized) test rows.
package anonstudy

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/privml/privml/anonymize"
	"github.com/privml/privml/benchmarks/internal/mlmodel"
	"github.com/privml/privml/benchmarks/internal/study"
	"github.com/privml/privml/internal/dataset"
)

//go:embed data/adult_1000.data
var adultSmall []byte

var (
	qiCols      = []int{dataset.AdultAge, dataset.AdultWorkclass, dataset.AdultEducationNum, dataset.AdultMaritalStatus, dataset.AdultOccupation, dataset.AdultRace, dataset.AdultSex, dataset.AdultNativeCountry}
	numericCols = map[int]bool{dataset.AdultAge: true, dataset.AdultEducationNum: true}
)

// Row is one record: the 8 QI values and the salary.
type Row struct {
	QI     []string
	Salary string
}

// Variant is one privacy model.
type Variant struct {
	Name string
	L    *anonymize.LDiversity
	T    *anonymize.TCloseness
}

var variants = []Variant{
	{Name: "k-anonymity"},
	{Name: "+ distinct 2-diversity", L: &anonymize.LDiversity{Kind: anonymize.DistinctL, L: 2}},
	{Name: "+ 0.1-closeness", T: &anonymize.TCloseness{T: 0.1, Kind: anonymize.EqualDistance}},
}

// Point is one anonymization and its downstream model.
type Point struct {
	Variant, Cut   string
	K, Classes     int
	NCP, Discern   float64
	Accuracy       float64
	MondrianMillis float64
}

func loadRows(path string, quick bool) ([]Row, error) {
	var recs []dataset.AdultRecord
	var err error
	opt := dataset.AdultOptions{DropMissing: true}
	if quick {
		recs, err = dataset.ReadAdultAll(bytes.NewReader(adultSmall), "adult_1000.data", opt)
	} else {
		recs, err = dataset.LoadAdultFile(path, opt)
		err = study.MissingData("adult.data", path, err)
	}
	if err != nil {
		return nil, err
	}
	rows := make([]Row, len(recs))
	for i := range recs {
		rows[i] = Row{QI: recs[i].Select(qiCols), Salary: strings.TrimSuffix(recs[i][dataset.AdultSalary], ".")}
	}
	return rows, nil
}

// encoder maps QI values (plain or generalized) to features.
type encoder struct {
	order  [][]string       // per QI: the ordinal values in order (nil: numeric)
	pos    []map[string]int // per QI: value → index in order
	offset []int            // first feature of each QI
	mean   []float64        // numeric QIs: standardisation
	std    []float64
	width  int
}

func newEncoder(train []Row) *encoder {
	e := &encoder{order: make([][]string, len(qiCols)), pos: make([]map[string]int, len(qiCols)),
		offset: make([]int, len(qiCols)), mean: make([]float64, len(qiCols)), std: make([]float64, len(qiCols))}
	for q, c := range qiCols {
		e.offset[q] = e.width
		if numericCols[c] {
			e.width++
			continue
		}
		e.pos[q] = map[string]int{}
		for _, r := range train {
			if _, ok := e.pos[q][r.QI[q]]; !ok {
				e.pos[q][r.QI[q]] = len(e.order[q])
				e.order[q] = append(e.order[q], r.QI[q])
			}
		}
		e.width += len(e.order[q])
	}
	return e
}

// spec returns the anonymization spec of the preset with the encoder's
// ordinal orders.
func (e *encoder) spec(k int, v Variant) anonymize.Spec {
	names := dataset.AdultColumnNames()
	s := anonymize.Spec{K: k, Sensitive: "salary", L: v.L, T: v.T}
	for q, c := range qiCols {
		qi := anonymize.QI{Column: names[c], Kind: anonymize.Numeric}
		if !numericCols[c] {
			qi.Kind, qi.Order = anonymize.Ordinal, e.order[q]
		}
		s.QIs = append(s.QIs, qi)
	}
	return s
}

// encode writes the features of the QI values vals to a new slice; a value
// may be generalized ("[a..b]").
func (e *encoder) encode(vals []string) ([]float64, error) {
	x := make([]float64, e.width)
	for q, c := range qiCols {
		v := vals[q]
		lo, hi := v, v
		if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			a, b, ok := strings.Cut(v[1:len(v)-1], "..")
			if !ok {
				return nil, fmt.Errorf("QI %s: cannot read generalized value %q", dataset.AdultColumnNames()[c], v)
			}
			lo, hi = a, b
		}
		if numericCols[c] {
			a, err1 := strconv.ParseFloat(lo, 64)
			b, err2 := strconv.ParseFloat(hi, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("QI %s: value %q is not a number or range", dataset.AdultColumnNames()[c], v)
			}
			x[e.offset[q]] = (a + b) / 2
			continue
		}
		i, ok1 := e.pos[q][lo]
		j, ok2 := e.pos[q][hi]
		if !ok1 || !ok2 {
			// A test value unseen in training: all zeros.
			if lo == hi {
				continue
			}
			return nil, fmt.Errorf("QI %s: range %q of values not in the training order", dataset.AdultColumnNames()[c], v)
		}
		for t := i; t <= j; t++ {
			x[e.offset[q]+t] = 1 / float64(j-i+1)
		}
	}
	return x, nil
}

// features encodes rows and standardises the numeric QIs: with fit, the
// mean and deviation are taken from these rows first.
func (e *encoder) features(rows [][]string, fit bool) ([][]float64, error) {
	X := make([][]float64, len(rows))
	for i, r := range rows {
		x, err := e.encode(r)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		X[i] = x
	}
	for q, c := range qiCols {
		if !numericCols[c] {
			continue
		}
		j := e.offset[q]
		if fit {
			var s, s2 float64
			for _, x := range X {
				s += x[j]
				s2 += x[j] * x[j]
			}
			n := float64(len(X))
			e.mean[q] = s / n
			e.std[q] = math.Sqrt(math.Max(s2/n-e.mean[q]*e.mean[q], 1e-12))
		}
		for _, x := range X {
			x[j] = (x[j] - e.mean[q]) / e.std[q]
		}
	}
	return X, nil
}

func labels(rows []Row) []int {
	y := make([]int, len(rows))
	for i, r := range rows {
		if r.Salary == ">50K" {
			y[i] = 1
		}
	}
	return y
}

// accuracy trains on (trainQI, trainY) and tests on the original test rows.
func accuracy(e *encoder, trainQI [][]string, trainY []int, test []Row, seed uint64) (float64, error) {
	X, err := e.features(trainQI, true)
	if err != nil {
		return 0, err
	}
	testQI := make([][]string, len(test))
	for i, r := range test {
		testQI[i] = r.QI
	}
	TX, err := e.features(testQI, false)
	if err != nil {
		return 0, err
	}
	m := mlmodel.NewSoftmax(e.width, 2)
	mlmodel.TrainSGD(m, X, trainY, 5, 64, 0.1, seed)
	return mlmodel.Accuracy(m, TX, labels(test)), nil
}

// anonymizeTrain runs Mondrian on the training rows and returns the
// generalized QI values (rows in input order) and the verified report.
func anonymizeTrain(train []Row, spec anonymize.Spec, cut anonymize.CutRule) ([][]string, *anonymize.Report, *anonymize.Result, error) {
	names := dataset.AdultColumnNames()
	cols := make([]string, 0, len(qiCols)+1)
	for _, c := range qiCols {
		cols = append(cols, names[c])
	}
	cols = append(cols, "salary")
	t, err := anonymize.NewTable(cols)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, r := range train {
		if err := t.AppendRow(append(append([]string{}, r.QI...), r.Salary)); err != nil {
			return nil, nil, nil, err
		}
	}
	res, err := anonymize.Mondrian(t, spec, &anonymize.MondrianOptions{Cut: cut})
	if err != nil {
		return nil, nil, nil, err
	}
	rep, err := anonymize.Verify(t, res.Output, spec)
	if err != nil {
		return nil, nil, nil, err
	}
	if res.Output.Rows() != len(train) {
		return nil, nil, nil, fmt.Errorf("mondrian suppressed %d rows", len(train)-res.Output.Rows())
	}
	out := make([][]string, len(train))
	for i := range out {
		out[i] = make([]string, len(qiCols))
		for q := range qiCols {
			if out[i][q], err = res.Output.Value(i, q); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return out, rep, res, nil
}

func split(rows []Row, seed uint64) (train, test []Row) {
	perm := rand.New(rand.NewPCG(seed, 0x616e6f6e)).Perm(len(rows))
	nTest := len(rows) / 5
	for i, p := range perm {
		if i < nTest {
			test = append(test, rows[p])
		} else {
			train = append(train, rows[p])
		}
	}
	return train, test
}

// Main runs the study with the command-line args, printing progress to out.
func Main(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("anon-study", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "tiny settings: 1,000 embedded rows, k in {2, 10}")
	data := fs.String("data", "", "folder of the shared data sets (default: $PRIVML_DATASETS, else ../shared/datasets beside the repository)")
	seed := fs.Uint64("seed", 1, "seed of the train/test split and of SGD")
	dir := fs.String("out", study.ResultsDir(), "results folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	run, err := study.NewRun("anon", *dir, *seed, *quick, out)
	if err != nil {
		return err
	}
	rows, err := loadRows(filepath.Join(study.DatasetsDir(*data), "adult", "adult.data"), *quick)
	if err != nil {
		return err
	}
	ks := []int{2, 5, 10, 25, 50, 100}
	if *quick {
		ks = []int{2, 10}
	}
	train, test := split(rows, *seed)
	run.Progress("Adult: %d rows without missing values, %d train, %d test", len(rows), len(train), len(test))
	enc := newEncoder(train)
	trainQI := make([][]string, len(train))
	for i, r := range train {
		trainQI[i] = r.QI
	}
	y := labels(train)
	base, err := accuracy(enc, trainQI, y, test, *seed)
	if err != nil {
		return err
	}
	run.Progress("original table: test accuracy %.4f", base)
	var pts []Point
	for _, v := range variants {
		for _, cut := range []anonymize.CutRule{anonymize.MedianCut, anonymize.BestCut} {
			for _, k := range ks {
				gen, rep, res, err := anonymizeTrain(train, enc.spec(k, v), cut)
				if err != nil {
					return fmt.Errorf("%s, %v cut, k = %d: %w", v.Name, cut, k, err)
				}
				acc, err := accuracy(enc, gen, y, test, *seed)
				if err != nil {
					return fmt.Errorf("%s, %v cut, k = %d: %w", v.Name, cut, k, err)
				}
				p := Point{Variant: v.Name, Cut: cut.String(), K: k, Classes: rep.Classes, NCP: rep.NCP, Discern: rep.Discernibility,
					Accuracy: acc, MondrianMillis: float64(res.Duration.Microseconds()) / 1000}
				run.Progress("%-22s %-6s k %3d: %5d classes, NCP %6.2f %%, test accuracy %.4f", v.Name, p.Cut, k, p.Classes, p.NCP, acc)
				pts = append(pts, p)
			}
		}
	}
	return write(run, pts, base, len(train), len(test))
}

// kTicks returns the distinct k of the points, in order of appearance.
func kTicks(pts []Point) []float64 {
	var out []float64
	for _, p := range pts {
		if !slices.Contains(out, float64(p.K)) {
			out = append(out, float64(p.K))
		}
	}
	return out
}

func write(run *study.Run, pts []Point, base float64, nTrain, nTest int) error {
	t := &study.Table{Header: []string{"model", "cut", "k", "classes", "NCP %", "discernibility", "test accuracy", "vs original"}}
	t.Add("original (no anonymization)", "", "1", "", "0", "", fmt.Sprintf("%.2f %%", 100*base), "")
	ncp := map[string]plotter.XYs{}
	acc := map[string]plotter.XYs{}
	var names []string
	for _, p := range pts {
		t.Add(p.Variant, p.Cut, p.K, p.Classes, fmt.Sprintf("%.2f", p.NCP), fmt.Sprintf("%.0f", p.Discern),
			fmt.Sprintf("%.2f %%", 100*p.Accuracy), fmt.Sprintf("%+.2f", 100*(p.Accuracy-base)))
		name := p.Variant + ", " + p.Cut
		if _, ok := ncp[name]; !ok {
			names = append(names, name)
		}
		ncp[name] = append(ncp[name], plotter.XY{X: float64(p.K), Y: p.NCP})
		acc[name] = append(acc[name], plotter.XY{X: float64(p.K), Y: 100 * p.Accuracy})
	}
	var sn, sa []study.Series
	for _, n := range names {
		sn = append(sn, study.Series{Name: n, XY: ncp[n]})
		sa = append(sa, study.Series{Name: n, XY: acc[n]})
	}
	if len(pts) > 0 {
		lo, hi := float64(pts[0].K), float64(pts[0].K)
		for _, p := range pts {
			lo, hi = math.Min(lo, float64(p.K)), math.Max(hi, float64(p.K))
		}
		sa = append(sa, study.Series{Name: "original", XY: plotter.XYs{{X: lo, Y: 100 * base}, {X: hi, Y: 100 * base}}, Dashed: true})
	}
	cmd := "go run ./benchmarks/anon-study"
	if run.Quick {
		cmd += " -quick"
	}
	notes := fmt.Sprintf(`Adult without missing values, %d training rows anonymized, %d test rows kept original; QIs of
--preset adult (age, education-num numeric; workclass, marital-status, occupation, race, sex,
native-country ordinal), salary sensitive; every output verified by anonymize.Verify (which gives NCP
and discernibility). Classifier: softmax regression on the 8 QIs (ranges to midpoints, ordinal ranges
to uniform one-hot mixtures), SGD 5 epochs, batch 64, learning rate 0.1. Accuracy is one run (one
split, one seed); differences under about half a point are within the spread of such runs.`, nTrain, nTest)
	if _, err := run.WriteMarkdown("Anonymization cost on Adult (Mondrian)", cmd, study.Section{Table: t, Notes: notes}); err != nil {
		return err
	}
	if _, err := run.WritePNG("-ncp.png", study.Plot{Title: "Mondrian on Adult: information loss against k", X: "k (log scale)", Y: "NCP %", LogX: true, XTicks: kTicks(pts), Series: sn}); err != nil {
		return err
	}
	_, err := run.WritePNG("-accuracy.png", study.Plot{Title: "Logistic regression on anonymized Adult", X: "k (log scale)", Y: "test accuracy %", LogX: true, XTicks: kTicks(pts), LegendBottomRight: true, Series: sa})
	return err
}
