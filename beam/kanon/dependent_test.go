package kanon

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/privml/privml/anonymize"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// localDependences runs the check's combine steps in process, the rows
// split in two halves combined apart and merged, as a runner would.
func localDependences(t *testing.T, cfg Config, rows [][]string) []anonymize.Dependence {
	t.Helper()
	rel := cfg.released()
	kf := &depKeyFn{Cfg: cfg, Released: rel}
	kf.Setup()
	halves := [2]map[string]depGroup{{}, {}}
	for i, r := range rows {
		h := halves[i%2]
		kf.ProcessElement(Line{Fields: r}, func(k string, p []string) { h[k] = depGroupFn{}.AddInput(h[k], p) })
	}
	for k, g := range halves[1] {
		halves[0][k] = depGroupFn{}.MergeAccumulators(halves[0][k], g)
	}
	sf := &depSumFn{Sides: len(rel) + len(cfg.QIs)}
	acc := [2]*depSum{sf.CreateAccumulator(), sf.CreateAccumulator()}
	i := 0
	for k, g := range halves[0] {
		p, err := depPartFn{}.ProcessElement(k, g)
		require.NoError(t, err)
		acc[i%2] = sf.AddInput(acc[i%2], p)
		i++
	}
	return dependences(cfg, rel, sf.MergeAccumulators(acc[0], acc[1]))
}

// coreDependences is anonymize.DependentColumns on the same rows.
func coreDependences(t *testing.T, cfg Config, rows [][]string) []anonymize.Dependence {
	t.Helper()
	tb, err := anonymize.NewTable(cfg.Columns)
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, tb.AppendRow(r))
	}
	spec := anonymize.Spec{Sensitive: cfg.Sensitive, K: cfg.K, Identifiers: cfg.Drop}
	for _, q := range cfg.QIs {
		spec.QIs = append(spec.QIs, anonymize.QI{Column: q.Column})
	}
	deps, err := anonymize.DependentColumns(tb, spec)
	require.NoError(t, err)
	return deps
}

// randomDependentTable draws a table with two QIs and released columns
// that are exact functions of a QI (many-to-one and one-to-one recodings,
// so that both the n/2 rule and the chance rule decide), a function with
// one row broken, an independent column, a unique column and a constant.
func randomDependentTable(rng *rand.Rand) (Config, [][]string) {
	n := 10 + rng.IntN(190)
	c1 := 2 + rng.IntN(n)
	c2 := 1 + rng.IntN(6)
	div := 1 + rng.IntN(4)
	cols := []string{"id", "q1", "q2", "f", "g", "h", "s", "k"}
	rows := make([][]string, n)
	for i := range rows {
		a := rng.IntN(c1)
		// q1 is skewed, so that value counts vary.
		if rng.IntN(3) == 0 {
			a %= 1 + c1/4
		}
		b := rng.IntN(c2)
		g := fmt.Sprint(a / div)
		if i == n/2 && rng.IntN(2) == 0 {
			g = "x" // breaks g ← q1 (and perhaps g → q1)
		}
		rows[i] = []string{fmt.Sprint("r", i), fmt.Sprint("a", a), fmt.Sprint("b", b), fmt.Sprint("f", a*7), g,
			fmt.Sprint(rng.IntN(1 + rng.IntN(n))), fmt.Sprint("s", rng.IntN(3)), "const"}
	}
	cfg := Config{Columns: cols, K: 2, Sensitive: "s", QIs: []QI{{Column: "q1"}, {Column: "q2"}}}
	if rng.IntN(2) == 0 {
		cfg.Drop = []string{"id"}
	}
	return cfg, rows
}

// TestDependencesMatchCore: on random tables the distributed summary
// finds exactly the dependences anonymize.DependentColumns finds, in the
// same order with the same counts.
func TestDependencesMatchCore(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	found, chance := 0, 0
	for trial := range 300 {
		cfg, rows := randomDependentTable(rng)
		want := coreDependences(t, cfg, rows)
		got := localDependences(t, cfg, rows)
		require.Equal(t, want, got, "trial %d: %d rows", trial, len(rows))
		found += len(want)
		for _, d := range want {
			if d.Determines && 2*d.ColumnValues > len(rows) {
				chance++
			}
		}
	}
	// The trials exercise both rules.
	assert.Greater(t, found, 300)
	assert.Greater(t, chance, 10)
}

// TestDependentColumnsAdult: with education released, the pipeline
// refuses as `privml anonymize` does, passes with --drop education or
// KeepDependent, on 1000 Adult rows in two shards.
func TestDependentColumnsAdult(t *testing.T) {
	lines := readLines(t, "../../anonymize/testdata/adult_1000.data")
	files := shard(t, t.TempDir(), lines, 2, "")
	cfg := adultConfig(10)
	cfg.Levels, cfg.LocalThreshold = 1, 200
	cfg.Drop = []string{"fnlwgt", "relationship", "capital-gain", "capital-loss", "hours-per-week"}

	tb, err := anonymize.ReadCSV(strings.NewReader(strings.Join(lines, "\n")), anonymize.CSVOptions{
		NoHeader: true, Columns: cfg.Columns, Missing: cfg.Missing, DropMissing: true})
	require.NoError(t, err)
	spec := anonymize.Spec{Sensitive: cfg.Sensitive, K: 10, Identifiers: cfg.Drop}
	for _, q := range cfg.QIs {
		spec.QIs = append(spec.QIs, anonymize.QI{Column: q.Column})
	}
	deps, err := anonymize.DependentColumns(tb, spec)
	require.NoError(t, err)
	require.NotEmpty(t, deps)
	var descs []string
	for _, d := range deps {
		descs = append(descs, d.String())
	}
	require.Contains(t, descs, "education ↔ education-num (16 and 16 distinct values)")

	_, err = run(t, cfg, files)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kanon: columns left unchanged reveal a quasi-identifier: "+strings.Join(descs, ", ")+
		"; remove them with --drop education, make them QIs, or release them anyway with --keep-dependent")

	keep := cfg
	keep.KeepDependent = true
	r, err := run(t, keep, files)
	require.NoError(t, err)
	assert.True(t, r.rep.Verified)
	assert.Len(t, r.rows, int(r.rep.RowsIn))

	dropped := cfg
	dropped.Drop = append(dropped.Drop, "education")
	r, err = run(t, dropped, files)
	require.NoError(t, err)
	assert.True(t, r.rep.Verified)
}

// TestDependentColumnsSynthetic: a city determined by the ZIP code QI, a
// high-cardinality recoding of age decided by the chance rule, and
// columns that must not be reported (a unique id, a constant, a noisy
// copy).
func TestDependentColumnsSynthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	header := "age,zip,city,code,id,const,noisy,disease"
	var lines []string
	n := 400
	for i := range n {
		age := 18 + rng.IntN(300) // about 300 values on 400 rows: more than n/2
		zip := 1000 + rng.IntN(20)
		noisy := zip
		if i == 7 {
			noisy = 1000 + (zip-999)%20 // another ZIP code: both directions break
		}
		lines = append(lines, fmt.Sprintf("%d,%d,city%d,c%d,u%d,x,%d,d%d", age, zip, zip/5, age*3, i, noisy, rng.IntN(3)))
	}
	cfg := Config{Columns: strings.Split(header, ","), Header: true, K: 4, Sensitive: "disease",
		QIs: []QI{{Column: "age", Kind: "numeric"}, {Column: "zip", Kind: "numeric"}}, Levels: 1, LocalThreshold: 100}
	rows := make([][]string, n)
	for i, l := range lines {
		rows[i] = strings.Split(l, ",")
	}
	want := coreDependences(t, cfg, rows)
	var descs []string
	for _, d := range want {
		descs = append(descs, d.String())
	}
	require.Equal(t, []string{"city ← zip (4 and 20 distinct values)", "code ↔ age (" + fmt.Sprint(want[1].ColumnValues, " and ", want[1].QIValues) + " distinct values)"}, descs)
	require.Greater(t, 2*want[1].ColumnValues, n, "code is decided by the chance rule")

	_, err := run(t, cfg, shard(t, t.TempDir(), lines, 3, header))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "columns left unchanged reveal a quasi-identifier: "+strings.Join(descs, ", ")+
		"; remove them with --drop city,code, make them QIs, or release them anyway with --keep-dependent")
}
