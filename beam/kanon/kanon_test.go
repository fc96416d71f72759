package kanon

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/privml/privml/anonymize"
	"github.com/privml/privml/internal/dataset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { ptest.MainWithDefault(m, "prism") }

// adultConfig is the Mondrian reference set-up of `privml anonymize
// --preset adult`.
func adultConfig(k int) Config {
	c := Config{Columns: dataset.AdultColumnNames(), Missing: dataset.AdultMissing, DropMissing: true, K: k,
		Sensitive: "salary", Drop: strings.Split("fnlwgt,education,relationship,capital-gain,capital-loss,hours-per-week", ",")}
	for _, n := range strings.Split("age,education-num", ",") {
		c.QIs = append(c.QIs, QI{Column: n, Kind: "numeric"})
	}
	for _, n := range strings.Split("workclass,marital-status,occupation,race,sex,native-country", ",") {
		c.QIs = append(c.QIs, QI{Column: n, Kind: "ordinal"})
	}
	return c
}

// shard writes lines into n files under dir, in order, optionally each
// with a header, and returns their glob.
func shard(t *testing.T, dir string, lines []string, n int, header string) []string {
	t.Helper()
	var files []string
	per := (len(lines) + n - 1) / n
	for i := range n {
		var b strings.Builder
		if header != "" {
			b.WriteString(header + "\n")
		}
		for _, l := range lines[min(i*per, len(lines)):min((i+1)*per, len(lines))] {
			b.WriteString(l + "\n")
		}
		f := filepath.Join(dir, fmt.Sprintf("in-%02d.csv", i))
		require.NoError(t, os.WriteFile(f, []byte(b.String()), 0o644))
		files = append(files, f)
	}
	return files
}

type runOut struct {
	rep  Report
	rows []string // output rows of every shard, headers removed
}

func run(t *testing.T, cfg Config, files []string) (runOut, error) {
	t.Helper()
	dir := t.TempDir()
	p, s := beam.NewPipelineWithRoot()
	if _, err := Build(s, cfg, files, dir, filepath.Join(dir, "report.json")); err != nil {
		return runOut{}, err
	}
	if err := ptest.Run(p); err != nil {
		return runOut{}, err
	}
	var r runOut
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &r.rep))
	shards, err := filepath.Glob(filepath.Join(dir, "part-*.csv"))
	require.NoError(t, err)
	header := strings.Join(cfg.outColumns(), ",")
	for _, f := range shards {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		require.Equal(t, header, lines[0], "shard %s starts with the header", f)
		r.rows = append(r.rows, lines[1:]...)
	}
	return r, nil
}

// local runs the single-machine anonymize.Mondrian and Verify on the
// concatenated input.
func local(t *testing.T, cfg Config, lines []string, l *anonymize.LDiversity, tc *anonymize.TCloseness, cut anonymize.CutRule) *anonymize.Report {
	t.Helper()
	tb, err := anonymize.ReadCSV(strings.NewReader(strings.Join(lines, "\n")), anonymize.CSVOptions{
		NoHeader: true, Columns: cfg.Columns, Missing: cfg.Missing, DropMissing: cfg.DropMissing})
	require.NoError(t, err)
	spec := anonymize.Spec{Sensitive: cfg.Sensitive, K: cfg.K, Identifiers: cfg.Drop, L: l, T: tc}
	for _, q := range cfg.QIs {
		k := anonymize.Ordinal
		if q.Kind == "numeric" {
			k = anonymize.Numeric
		}
		spec.QIs = append(spec.QIs, anonymize.QI{Column: q.Column, Kind: k})
	}
	res, err := anonymize.Mondrian(tb, spec, &anonymize.MondrianOptions{Cut: cut})
	require.NoError(t, err)
	rep, err := anonymize.Verify(tb, res.Output, spec)
	require.NoError(t, err)
	return rep
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// checkRelease asserts the independent verifier's findings and compares
// with the single-machine run.
func checkRelease(t *testing.T, r runOut, want *anonymize.Report, k int) {
	t.Helper()
	assert.True(t, r.rep.Verified, "problems: %v", r.rep.Problems)
	assert.Equal(t, int64(want.RowsIn), r.rep.RowsIn)
	assert.Equal(t, r.rep.RowsIn, r.rep.RowsOut, "every row conserved")
	assert.Len(t, r.rows, int(r.rep.RowsIn), "every row written")
	assert.GreaterOrEqual(t, r.rep.KMin, int64(k))
	assert.InDelta(t, want.NCP, r.rep.NCPPercent, 0.05*want.NCP, "NCP within 5%% of anonymize.Mondrian")
	assert.Equal(t, int64(want.Classes), r.rep.EquivalenceClasses)
	assert.InDelta(t, want.Discernibility, r.rep.Discernibility, 1e-6)
	assert.InDelta(t, want.CAvg, r.rep.CAvg, 1e-9)
}

// TestAdultMatchesMondrian: three levels cut in the pipeline, the rest
// finished locally, on 1000 Adult rows in three shards.
func TestAdultMatchesMondrian(t *testing.T) {
	lines := readLines(t, "../../anonymize/testdata/adult_1000.data")
	cfg := adultConfig(10)
	cfg.Levels, cfg.LocalThreshold = 3, 50
	files := shard(t, t.TempDir(), lines, 3, "")
	r, err := run(t, cfg, files)
	require.NoError(t, err)
	want := local(t, cfg, lines, nil, nil, anonymize.BestCut)
	checkRelease(t, r, want, 10)
	// The independent check on the written files: classes of ≥ k rows.
	classes := map[string]int{}
	for _, row := range r.rows {
		f := strings.Split(row, ",")
		classes[strings.Join(f[:len(f)-1], ",")]++
	}
	for c, n := range classes {
		require.GreaterOrEqual(t, n, 10, "class %s", c)
	}
}

// synthetic returns n rows of a table with a header: two numeric QIs, one
// ordinal QI, a sensitive column and an identifier.
func synthetic(n int, seed uint64) (header string, lines []string) {
	rng := rand.New(rand.NewPCG(seed, 1))
	cats := []string{"a", "b", "c", "d", "e"}
	for i := range n {
		lines = append(lines, fmt.Sprintf("id%d,%d,%d,%s,s%d", i, 20+rng.IntN(50), rng.IntN(1000), cats[rng.IntN(len(cats))], rng.IntN(4)))
	}
	return "id,age,zip,cat,disease", lines
}

func synthConfig(k int) Config {
	return Config{Columns: []string{"id", "age", "zip", "cat", "disease"}, Header: true, K: k,
		QIs:       []QI{{Column: "age"}, {Column: "zip", Kind: "numeric"}, {Column: "cat"}},
		Sensitive: "disease", Drop: []string{"id"}}
}

// TestSyntheticDiversityMedian: l-diversity, t-closeness and the median
// cut, headers on every shard, kinds detected.
func TestSyntheticDiversityMedian(t *testing.T) {
	header, lines := synthetic(1500, 7)
	cfg := synthConfig(5)
	cfg.LKind, cfg.L, cfg.HasT, cfg.T, cfg.Median = "distinct", 2, true, 0.4, true
	cfg.Levels, cfg.LocalThreshold = 4, 40
	files := shard(t, t.TempDir(), lines, 4, header)
	r, err := run(t, cfg, files)
	require.NoError(t, err)
	cfgNoHeader := cfg
	cfgNoHeader.QIs = []QI{{Column: "age", Kind: "numeric"}, {Column: "zip", Kind: "numeric"}, {Column: "cat", Kind: "ordinal"}}
	want := local(t, cfgNoHeader, lines, &anonymize.LDiversity{Kind: anonymize.DistinctL, L: 2},
		&anonymize.TCloseness{Kind: anonymize.EqualDistance, T: 0.4}, anonymize.MedianCut)
	checkRelease(t, r, want, 5)
	require.NotNil(t, r.rep.LMin)
	assert.GreaterOrEqual(t, *r.rep.LMin, 2.0)
	require.NotNil(t, r.rep.TMax)
	assert.LessOrEqual(t, *r.rep.TMax, 0.4+1e-9)
	assert.InDelta(t, want.LDistinct, *r.rep.LMin, 0)
	assert.InDelta(t, want.TMax, *r.rep.TMax, 1e-9)
}

func TestErrors(t *testing.T) {
	header, lines := synthetic(4, 1)
	dir := t.TempDir()
	t.Run("fewer rows than k", func(t *testing.T) {
		_, err := run(t, synthConfig(5), shard(t, dir, lines, 1, header))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "k = 5 is larger than the table (4 rows)")
	})
	t.Run("missing column", func(t *testing.T) {
		cfg := synthConfig(2)
		cfg.QIs = append(cfg.QIs, QI{Column: "height"})
		_, err := run(t, cfg, shard(t, t.TempDir(), lines, 1, header))
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), `no column "height" (have id, age, zip, cat, disease)`)
	})
	t.Run("malformed row", func(t *testing.T) {
		bad := append(append([]string{}, lines...), "id9,30,100")
		files := shard(t, t.TempDir(), bad, 2, header)
		_, err := run(t, synthConfig(2), files)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "in-01.csv:3: row has 3 fields, want 5")
	})
	t.Run("not a number", func(t *testing.T) {
		cfg := synthConfig(2)
		cfg.QIs[0].Kind = "numeric"
		bad := append(append([]string{}, lines...), "id9,old,100,a,s1")
		_, err := run(t, cfg, shard(t, t.TempDir(), bad, 1, header))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `in-00.csv:6, column "age": value "old" is not a finite number`)
	})
}

// TestLabelWidth checks the verifier's parsing of generalized values
// against the NCP definition, on a domain built by hand.
func TestLabelWidth(t *testing.T) {
	d := &Domain{Values: [][]string{{"10", "20", "30"}, {"x", "y..z", "w"}}, Rank: [][]int32{{0, 1, 2}, {0, 1, 2}},
		NVal: []int{3, 3}, Nums: [][]float64{{10, 20, 30}, nil}}
	d.prepare()
	for _, c := range []struct {
		q    int
		lab  string
		w    float64
		good bool
	}{
		{0, "20", 0, true}, {0, "[10..20]", 0.5, true}, {0, "[10..30]", 1, true}, {0, "[5..20]", 1, false},
		{0, "abc", 1, false}, {1, "x", 0, true}, {1, "[x..w]", 1, true}, {1, "[y..z..w]", 0.5, true},
		{1, "[x..q]", 1, false}, {1, "q", 1, false},
	} {
		w, ok := labelWidth(d, c.q, c.lab)
		assert.Equal(t, c.good, ok, c.lab)
		assert.False(t, math.Abs(w-c.w) > 1e-12, "%s: width %v, want %v", c.lab, w, c.w)
	}
}

func TestAutoLevels(t *testing.T) {
	assert.Equal(t, 0, AutoLevels(1000, 100000))
	assert.Equal(t, 0, AutoLevels(100000, 100000))
	assert.Equal(t, 3, AutoLevels(100001, 100000))      // one halving + 2
	assert.Equal(t, 2+7, AutoLevels(3_016_200, 30_000)) // 3016200/2^7 < 30000 ≤ 3016200/2^6
	header, lines := synthetic(2000, 3)
	files := shard(t, t.TempDir(), lines, 4, header)
	n, err := EstimateRows(context.Background(), files)
	require.NoError(t, err)
	// The ids grow longer down the table, so the first lines of the first
	// shard are shorter than the mean: an estimate within 5 %.
	assert.InEpsilon(t, 2004, float64(n), 0.05, "rows and headers of 4 shards")
}

// TestVerifierCatchesBadReleases feeds the verifier forged outputs: a
// class below k, a class that is not 2-diverse, a label outside the
// domain, and a lost row.
func TestVerifierCatchesBadReleases(t *testing.T) {
	cfg := Config{Columns: []string{"age", "disease"}, QIs: []QI{{Column: "age", Kind: "numeric"}},
		Sensitive: "disease", K: 2, LKind: "distinct", L: 2}
	dom := &Domain{Rows: 5, Values: [][]string{{"10", "20", "30"}}, Rank: [][]int32{{0, 1, 2}}, NVal: []int{3},
		Nums: [][]float64{{10, 20, 30}}, Sens: []string{"a", "b"}, SensFreq: []float64{0.6, 0.4}}
	lines := []string{
		"[10..20],a", "[10..20],b", // fine
		"30,a",                     // below k and not diverse
		"[10..40],a", "[10..40],b", // 40 lies outside the domain
	}
	path := filepath.Join(t.TempDir(), "rep.json")
	p, s := beam.NewPipelineWithRoot()
	verify(s, cfg, beam.CreateList(s, lines), beam.Create(s, dom), path)
	require.NoError(t, ptest.Run(p))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r Report
	require.NoError(t, json.Unmarshal(b, &r))
	assert.False(t, r.Verified)
	assert.Equal(t, int64(5), r.RowsOut)
	assert.Equal(t, int64(1), r.KMin)
	all := strings.Join(r.Problems, "\n")
	assert.Contains(t, all, `has 1 rows, fewer than k = 2`)
	assert.Contains(t, all, `is not distinct 2-diverse`)
	assert.Contains(t, all, `"[10..40]" is not a generalized value of "age"`)

	// The same fine class alone, against an input of 3 rows: a lost row.
	path2 := filepath.Join(t.TempDir(), "rep.json")
	p, s = beam.NewPipelineWithRoot()
	dom3 := *dom
	dom3.Rows = 3
	verify(s, cfg, beam.CreateList(s, lines[:2]), beam.Create(s, &dom3), path2)
	require.NoError(t, ptest.Run(p))
	b, err = os.ReadFile(path2)
	require.NoError(t, err)
	r = Report{}
	require.NoError(t, json.Unmarshal(b, &r))
	assert.False(t, r.Verified)
	assert.Equal(t, []string{"rows in = 3, rows out = 2"}, r.Problems)
	assert.InDelta(t, 100*0.5, r.NCPPercent, 1e-9)
}
