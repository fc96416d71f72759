package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// person is a row of the Parquet test table; city is a function of zip.
type person struct {
	Name    string `parquet:"name"`
	Age     int32  `parquet:"age"`
	Zip     int64  `parquet:"zip"`
	City    string `parquet:"city"`
	Disease string `parquet:"disease"`
}

func writePeople(t *testing.T, dir string) {
	t.Helper()
	for s := range 2 {
		var rows []person
		for i := s; i < 60; i += 2 {
			zip := 1000 + (i*7)%10
			rows = append(rows, person{Name: fmt.Sprint("n", i), Age: int32(20 + i%37), Zip: int64(zip),
				City: fmt.Sprint("c", zip/5), Disease: fmt.Sprint("d", i%3)})
		}
		var buf bytes.Buffer
		require.NoError(t, parquet.Write(&buf, rows))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("in-%d.parquet", s)), buf.Bytes(), 0o644))
	}
}

// TestRunParquet: Parquet shards in, the format taken from the extension,
// Parquet shards out; a column that is a function of a QI is refused
// with the error of `privml anonymize`, kept with --keep-dependent and
// removed with --drop.
func TestRunParquet(t *testing.T) {
	dir := t.TempDir()
	writePeople(t, dir)
	in := filepath.Join(dir, "in-*.parquet")
	base := []string{"--in", in, "--qi", "age,zip", "--sensitive", "disease", "--identifiers", "name", "--k", "4", "--local-threshold", "10"}

	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "refused")
	require.Equal(t, 1, newCmd(t, append(base, "--out", out)...).run(context.Background(), &stdout, &stderr))
	assert.Contains(t, stderr.String(), "anonymize-beam: columns left unchanged reveal a quasi-identifier: city ← zip (2 and 10 distinct values); remove them with --drop city, make them QIs, or release them anyway with --keep-dependent")
	parts, _ := filepath.Glob(filepath.Join(out, "part-*"))
	assert.Empty(t, parts, "nothing written")

	for _, extra := range [][]string{{"--keep-dependent"}, {"--drop", "city"}} {
		out := filepath.Join(dir, strings.TrimLeft(extra[0], "-"))
		stdout.Reset()
		stderr.Reset()
		require.Equal(t, 0, newCmd(t, append(append(base, "--out", out), extra...)...).run(context.Background(), &stdout, &stderr), stderr.String())
		assert.Contains(t, stdout.String(), "rows_written                     60")
		parts, err := filepath.Glob(filepath.Join(out, "part-*-of-00002.parquet"))
		require.NoError(t, err)
		require.Len(t, parts, 2)
		rows := 0
		for _, p := range parts {
			f, err := os.Open(p)
			require.NoError(t, err)
			st, err := f.Stat()
			require.NoError(t, err)
			pf, err := parquet.OpenFile(f, st.Size())
			require.NoError(t, err)
			var names []string
			for _, c := range pf.Schema().Fields() {
				names = append(names, c.Name())
			}
			want := []string{"age", "zip", "city", "disease"}
			if extra[0] == "--drop" {
				want = []string{"age", "zip", "disease"}
			}
			assert.Equal(t, want, names)
			rows += int(pf.NumRows())
			f.Close()
		}
		assert.Equal(t, 60, rows)
	}

	// CSV out from Parquet in.
	out = filepath.Join(dir, "csv")
	stdout.Reset()
	stderr.Reset()
	require.Equal(t, 0, newCmd(t, append(base, "--out", out, "--drop", "city", "--out-format", "csv")...).run(context.Background(), &stdout, &stderr), stderr.String())
	b, err := os.ReadFile(filepath.Join(out, "part-00000-of-00002.csv"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "age,zip,disease\n"))
}

func TestFormatFlagErrors(t *testing.T) {
	dir := t.TempDir()
	writePeople(t, dir)
	in := filepath.Join(dir, "in-*.parquet")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--in", in, "--out", dir, "--qi", "age", "--k", "2", "--format", "xml"}, "--format xml: want csv or parquet"},
		{[]string{"--in", in, "--out", dir, "--qi", "age", "--k", "2", "--out-format", "json"}, "--out-format json: want csv or parquet"},
		{[]string{"--in", in, "--out", dir, "--qi", "age", "--k", "2", "--columns", "a,b"}, "--columns: Parquet files name their columns"},
		{[]string{"--in", in, "--out", dir, "--qi", "age,height", "--k", "2"}, `no column "height" (have name, age, zip, city, disease)`},
	} {
		_, _, err := newCmd(t, c.args...).config(context.Background())
		require.Error(t, err, "%v", c.args)
		assert.Contains(t, err.Error(), c.want, "%v", c.args)
	}
}

// TestErrorParity: the errors `privml anonymize` gives on the same input
// (fewer rows than k, a malformed row, an unknown column), for CSV and
// Parquet input; the pipeline names file and line (or row) where the CLI
// names the row.
func TestErrorParity(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.csv")
	require.NoError(t, os.WriteFile(small, []byte("age,zip,disease\n30,100,a\n31,101,b\n32,102,a\n"), 0o644))
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("age,zip,disease\n30,100,a\n31,101\n32,102,a\n33,103,b\n"), 0o644))
	var buf bytes.Buffer
	require.NoError(t, parquet.Write(&buf, []person{{Name: "a", Age: 30, Zip: 100}, {Name: "b", Age: 31, Zip: 101}, {Name: "c", Age: 32, Zip: 102}}))
	smallPq := filepath.Join(dir, "small.parquet")
	require.NoError(t, os.WriteFile(smallPq, buf.Bytes(), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--in", small, "--qi", "age,zip", "--k", "5"}, "anonymize-beam: invalid parameter: k = 5 is larger than the table (3 rows)\n"},
		{[]string{"--in", smallPq, "--qi", "age,zip", "--drop", "city", "--k", "5"}, "anonymize-beam: invalid parameter: k = 5 is larger than the table (3 rows)\n"},
		{[]string{"--in", bad, "--qi", "age,zip", "--k", "2"}, "anonymize-beam: invalid input: " + bad + ":3: row has 2 fields, want 3\n"},
		{[]string{"--in", small, "--qi", "age,height", "--k", "2"}, `anonymize-beam: --qi: unknown or conflicting column: no column "height" (have age, zip, disease)` + "\n"},
		{[]string{"--in", smallPq, "--qi", "age,height", "--k", "2"}, `anonymize-beam: --qi: unknown or conflicting column: no column "height" (have name, age, zip, city, disease)` + "\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := newCmd(t, append(c.args, "--out", filepath.Join(dir, "out"))...).run(context.Background(), &stdout, &stderr)
		assert.NotZero(t, code, "%v", c.args)
		assert.True(t, strings.HasSuffix(stderr.String(), c.want), "%v: stderr %q", c.args, stderr.String())
	}
}

// adultRow is an Adult row in Parquet with its natural types; the missing
// value "?" becomes a null.
type adultRow struct {
	Age           int32   `parquet:"age"`
	Workclass     *string `parquet:"workclass,optional"`
	Fnlwgt        int64   `parquet:"fnlwgt"`
	Education     string  `parquet:"education"`
	EducationNum  int32   `parquet:"education-num"`
	MaritalStatus string  `parquet:"marital-status"`
	Occupation    *string `parquet:"occupation,optional"`
	Relationship  string  `parquet:"relationship"`
	Race          string  `parquet:"race"`
	Sex           string  `parquet:"sex"`
	CapitalGain   int64   `parquet:"capital-gain"`
	CapitalLoss   int64   `parquet:"capital-loss"`
	HoursPerWeek  int32   `parquet:"hours-per-week"`
	NativeCountry *string `parquet:"native-country,optional"`
	Salary        string  `parquet:"salary"`
}

// TestPresetAdultParquet: --preset adult on Parquet shards of 1000 Adult
// rows (columns named by the schema, nulls read as the preset's missing
// token) prints the counters and writes the report of the same rows as CSV.
func TestPresetAdultParquet(t *testing.T) {
	raw, err := os.ReadFile("../../../anonymize/testdata/adult_1000.data")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	dir := t.TempDir()
	opt := func(s string) *string {
		if s == "?" {
			return nil
		}
		return &s
	}
	num := func(s string) int64 {
		var x int64
		_, err := fmt.Sscan(s, &x)
		require.NoError(t, err)
		return x
	}
	var rows []adultRow
	for _, l := range lines {
		f := strings.Split(l, ",")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		rows = append(rows, adultRow{int32(num(f[0])), opt(f[1]), num(f[2]), f[3], int32(num(f[4])), f[5], opt(f[6]), f[7], f[8], f[9],
			num(f[10]), num(f[11]), int32(num(f[12])), opt(f[13]), f[14]})
	}
	var buf bytes.Buffer
	require.NoError(t, parquet.Write(&buf, rows))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "adult.parquet"), buf.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "adult.csv"), raw, 0o644))

	reports := map[string]string{}
	for _, in := range []string{"adult.parquet", "adult.csv"} {
		var stdout, stderr bytes.Buffer
		rep := filepath.Join(dir, in+".json")
		cmd := newCmd(t, "--preset", "adult", "--in", filepath.Join(dir, in), "--out", filepath.Join(dir, "out-"+in), "--k", "10", "--report", rep)
		require.Equal(t, 0, cmd.run(context.Background(), &stdout, &stderr), stderr.String())
		assert.Contains(t, stdout.String(), "rows_dropped_missing             78", in)
		b, err := os.ReadFile(rep)
		require.NoError(t, err)
		reports[in] = string(b)
	}
	var pq, csv struct {
		RowsIn  int     `json:"rows_in"`
		Classes int     `json:"equivalence_classes"`
		NCP     float64 `json:"ncp_percent"`
	}
	require.NoError(t, json.Unmarshal([]byte(reports["adult.parquet"]), &pq))
	require.NoError(t, json.Unmarshal([]byte(reports["adult.csv"]), &csv))
	assert.Equal(t, 922, pq.RowsIn)
	assert.Equal(t, csv.Classes, pq.Classes)
	assert.InDelta(t, csv.NCP, pq.NCP, 1e-9)
}
