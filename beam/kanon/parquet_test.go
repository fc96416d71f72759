package kanon

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// typedParquet encodes rows as a Parquet file whose columns have the given
// types: "int64", "int32", "uint32", "double", "float" or "string"
// (optional columns; a field equal to null is written as a null).
func typedParquet(t testing.TB, cols, types []string, rows [][]string, null string) []byte {
	t.Helper()
	g := parquet.Group{}
	for j, c := range cols {
		var n parquet.Node
		switch types[j] {
		case "int64":
			n = parquet.Int(64)
		case "int32":
			n = parquet.Int(32)
		case "uint32":
			n = parquet.Uint(32)
		case "double":
			n = parquet.Leaf(parquet.DoubleType)
		case "float":
			n = parquet.Leaf(parquet.FloatType)
		default:
			n = parquet.String()
		}
		g[c] = parquet.Optional(n)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[any](&buf, parquet.NewSchema("t", orderedGroup{Group: g, order: cols}))
	for _, rec := range rows {
		r := make(parquet.Row, len(cols))
		for j, s := range rec {
			if s == null {
				r[j] = parquet.NullValue().Level(0, 0, j)
				continue
			}
			var v parquet.Value
			switch types[j] {
			case "int64", "int32", "uint32":
				x, err := strconv.ParseInt(s, 10, 64)
				require.NoError(t, err, "%s = %q", cols[j], s)
				switch types[j] {
				case "int64":
					v = parquet.Int64Value(x)
				case "int32":
					v = parquet.Int32Value(int32(x))
				default:
					v = parquet.Int32Value(int32(uint32(x)))
				}
			case "double", "float":
				x, err := strconv.ParseFloat(s, 64)
				require.NoError(t, err, "%s = %q", cols[j], s)
				if types[j] == "float" {
					v = parquet.FloatValue(float32(x))
				} else {
					v = parquet.DoubleValue(x)
				}
			default:
				v = parquet.ByteArrayValue([]byte(s))
			}
			r[j] = v.Level(0, 1, j)
		}
		_, err := w.WriteRows([]parquet.Row{r})
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// adultTypes gives the Adult columns their natural Parquet types.
func adultTypes(cols []string) []string {
	types := make([]string, len(cols))
	for j, c := range cols {
		switch c {
		case "age", "education-num", "hours-per-week":
			types[j] = "int32"
		case "fnlwgt", "capital-gain", "capital-loss":
			types[j] = "int64"
		default:
			types[j] = "string"
		}
	}
	return types
}

func splitCSV(t testing.TB, lines []string) [][]string {
	t.Helper()
	out := make([][]string, len(lines))
	for i, l := range lines {
		rec, err := splitLine(l, ',')
		require.NoError(t, err)
		out[i] = trim(rec)
	}
	return out
}

// shardParquet writes rows into n Parquet files under dir.
func shardParquet(t *testing.T, dir string, cols, types []string, rows [][]string, n int, null string) []string {
	t.Helper()
	var files []string
	per := (len(rows) + n - 1) / n
	for i := range n {
		f := filepath.Join(dir, fmt.Sprintf("in-%02d.parquet", i))
		require.NoError(t, os.WriteFile(f, typedParquet(t, cols, types, rows[min(i*per, len(rows)):min((i+1)*per, len(rows))], null), 0o644))
		files = append(files, f)
	}
	return files
}

// readParquetFile returns the column names and rows of a Parquet file.
func readParquetFile(t *testing.T, name string) ([]string, [][]string) {
	t.Helper()
	pf, err := openParquet(context.Background(), name)
	require.NoError(t, err)
	defer pf.Close()
	cols := pf.names()
	var rows [][]string
	require.NoError(t, pf.rows(cols, "", func(_ int, f []string) error {
		rows = append(rows, slices.Clone(f))
		return nil
	}))
	return cols, rows
}

// runAny runs the pipeline and returns its report and its output rows
// re-encoded as CSV lines, from CSV or Parquet shards.
func runAny(t *testing.T, cfg Config, files []string) (runOut, error) {
	t.Helper()
	if cfg.OutFormat != FormatParquet {
		return run(t, cfg, files)
	}
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
	shards, err := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	require.NoError(t, err)
	require.NotEmpty(t, shards)
	for _, f := range shards {
		cols, rows := readParquetFile(t, f)
		require.Equal(t, cfg.outColumns(), cols, "shard %s has the output columns in order", f)
		for _, rec := range rows {
			r.rows = append(r.rows, csvLine(rec))
		}
	}
	return r, nil
}

func csvLine(rec []string) string {
	var b strings.Builder
	for j, f := range rec {
		if j > 0 {
			b.WriteByte(',')
		}
		if strings.ContainsAny(f, ",\"\n") {
			f = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
		b.WriteString(f)
	}
	return b.String()
}

// TestParquetRoundTrip: 1000 Adult rows as typed Parquet shards (integers
// as INT32 and INT64, the missing token as nulls) give the release of the
// same rows as CSV, written as CSV and as Parquet.
func TestParquetRoundTrip(t *testing.T) {
	lines := readLines(t, "../../anonymize/testdata/adult_1000.data")
	cfg := adultConfig(10)
	cfg.Levels, cfg.LocalThreshold = 3, 50
	want, err := run(t, cfg, shard(t, t.TempDir(), lines, 3, ""))
	require.NoError(t, err)
	require.True(t, want.rep.Verified)

	rows := splitCSV(t, lines)
	files := shardParquet(t, t.TempDir(), cfg.Columns, adultTypes(cfg.Columns), rows, 3, cfg.Missing)
	for _, out := range []string{FormatCSV, FormatParquet} {
		t.Run("out "+out, func(t *testing.T) {
			pc := cfg
			pc.Format, pc.OutFormat = FormatParquet, out
			got, err := runAny(t, pc, files)
			require.NoError(t, err)
			// The same report; NCP is a sum whose order the runner picks.
			assert.InDelta(t, want.rep.NCPPercent, got.rep.NCPPercent, 1e-9)
			got.rep.NCPPercent = want.rep.NCPPercent
			assert.Equal(t, want.rep, got.rep, "the same report")
			slices.Sort(want.rows)
			slices.Sort(got.rows)
			assert.Equal(t, want.rows, got.rows, "the same release")
		})
	}
}

// splitLine parses one output line.
func splitLine(line string, delim rune) ([]string, error) {
	r := csv.NewReader(strings.NewReader(line))
	r.Comma = delim
	rec, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("output row %q: %w", line, err)
	}
	return rec, nil
}

// TestWriteRecords: elements of one or more CSV lines, quoted fields
// included, become Parquet rows; a row of the wrong width is an error.
func TestWriteRecords(t *testing.T) {
	var buf bytes.Buffer
	pw := newParquetWriter(&buf, []string{"a", "b"})
	require.NoError(t, writeRecords(pw, "1,x\n\"[2..3]\",\"y,z\"\n", ',', 2))
	require.NoError(t, writeRecords(pw, "4;w", ';', 2))
	err := writeRecords(pw, "5,v,extra", ',', 2)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `output row "5,v,extra" has 3 fields, want 2`)
	require.NoError(t, pw.close())
	pf, err := decodeParquet("w.parquet", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	var got [][]string
	require.NoError(t, pf.rows([]string{"a", "b"}, "", func(_ int, f []string) error { got = append(got, slices.Clone(f)); return nil }))
	assert.Equal(t, [][]string{{"1", "x"}, {"[2..3]", "y,z"}, {"4", "w"}}, got)
}

// TestParquetValues: each supported type reads as the CSV reader reads
// its text; a null reads as the missing token.
func TestParquetValues(t *testing.T) {
	cols := []string{"i64", "i32", "u32", "f64", "f32", "s"}
	b := typedParquet(t, cols, []string{"int64", "int32", "uint32", "double", "float", "string"},
		[][]string{{"-9007199254740993", "-7", "4000000000", "0.1", "1.5", " x "}, {"?", "?", "?", "?", "?", "?"}}, "?")
	pf, err := decodeParquet("v.parquet", bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var got [][]string
	require.NoError(t, pf.rows(cols, "NA", func(_ int, f []string) error { got = append(got, slices.Clone(f)); return nil }))
	assert.Equal(t, [][]string{{"-9007199254740993", "-7", "4000000000", "0.1", "1.5", "x"}, {"NA", "NA", "NA", "NA", "NA", "NA"}}, got)
}

func TestParquetErrors(t *testing.T) {
	_, lines := synthetic(4, 1)
	cols := []string{"id", "age", "zip", "cat", "disease"}
	types := []string{"string", "int64", "int64", "string", "string"}
	rows := splitCSV(t, lines)
	pcfg := func(k int) Config {
		c := synthConfig(k)
		c.Header, c.Format = false, FormatParquet
		return c
	}
	t.Run("fewer rows than k", func(t *testing.T) {
		_, err := run(t, pcfg(5), shardParquet(t, t.TempDir(), cols, types, rows, 1, ""))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "k = 5 is larger than the table (4 rows)")
	})
	t.Run("missing column", func(t *testing.T) {
		files := shardParquet(t, t.TempDir(), cols, types, rows, 1, "")
		have, err := ParquetColumns(context.Background(), files[0])
		require.NoError(t, err)
		cfg := pcfg(2)
		cfg.Columns = have
		cfg.QIs = append(cfg.QIs, QI{Column: "height"})
		_, err = run(t, cfg, files)
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), `no column "height" (have id, age, zip, cat, disease)`)
	})
	t.Run("shards with other columns", func(t *testing.T) {
		dir := t.TempDir()
		files := shardParquet(t, dir, cols, types, rows, 1, "")
		other := filepath.Join(dir, "in-01.parquet")
		require.NoError(t, os.WriteFile(other, typedParquet(t, []string{"id", "age", "zip", "cat", "diagnosis"}, types, rows, ""), 0o644))
		_, err := run(t, pcfg(2), append(files, other))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `in-01.parquet: columns "id,age,zip,cat,diagnosis" differ from "id,age,zip,cat,disease"`)
	})
	t.Run("null without a missing token", func(t *testing.T) {
		bad := slices.Clone(rows)
		bad[2] = slices.Clone(bad[2])
		bad[2][3] = "NULL"
		_, err := run(t, pcfg(2), shardParquet(t, t.TempDir(), cols, types, bad, 1, "NULL"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `in-00.parquet: row 3, column "cat": null value (give --missing to read nulls as missing values)`)
	})
	t.Run("not a number", func(t *testing.T) {
		cfg := pcfg(2)
		cfg.QIs[2].Kind = "numeric"
		_, err := run(t, cfg, shardParquet(t, t.TempDir(), cols, types, rows, 1, ""))
		require.Error(t, err)
		assert.Contains(t, err.Error(), fmt.Sprintf(`in-00.parquet:1, column "cat": value %q is not a finite number`, rows[0][3]))
	})
	t.Run("malformed file", func(t *testing.T) {
		dir := t.TempDir()
		good := typedParquet(t, cols, types, rows, "")
		for name, b := range map[string][]byte{
			"text.parquet":      []byte("id,age\n1,2\n"),
			"truncated.parquet": good[:len(good)/2],
			"empty.parquet":     nil,
		} {
			f := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(f, b, 0o644))
			_, err := ParquetColumns(context.Background(), f)
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), name)
			assert.Contains(t, err.Error(), "Parquet file", name)
		}
	})
	t.Run("unsupported type", func(t *testing.T) {
		for name, n := range map[string]parquet.Node{"date": parquet.Date(), "decimal": parquet.Decimal(2, 9, parquet.Int32Type),
			"fixed": parquet.Leaf(parquet.FixedLenByteArrayType(16))} {
			var buf bytes.Buffer
			w := parquet.NewGenericWriter[any](&buf, parquet.NewSchema("t", parquet.Group{"a": parquet.String(), "b": n}))
			require.NoError(t, w.Close())
			_, err := decodeParquet("u.parquet", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), `u.parquet: column "b": unsupported Parquet type`, name)
		}
	})
	t.Run("nested column", func(t *testing.T) {
		var buf bytes.Buffer
		schema := parquet.NewSchema("t", parquet.Group{"a": parquet.String(), "b": parquet.Repeated(parquet.String())})
		w := parquet.NewGenericWriter[any](&buf, schema)
		require.NoError(t, w.Close())
		_, err := decodeParquet("n.parquet", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `n.parquet: column "b" is nested or repeated`)
	})
}

// mutate changes b at random: bytes overwritten, two bytes inserted, or a
// run of 0xff (a huge varint length) written.
func mutate(rng *rand.Rand, good []byte) []byte {
	b := bytes.Clone(good)
	switch rng.IntN(3) {
	case 0:
		for range 1 + rng.IntN(8) {
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
	case 1:
		p := rng.IntN(len(b))
		b = append(b[:p:p], append([]byte{byte(rng.IntN(256)), byte(rng.IntN(256))}, b[p:]...)...)
	default:
		p := rng.IntN(len(b) - 8)
		for j := range 4 {
			b[p+j] = 0xff
		}
		b[p+4] = byte(rng.IntN(256))
	}
	return b
}

// TestParquetMutations: 20000 randomly mutated files decode or fail with
// an error naming the file, none panics; among them two files that made
// the decoder allocate about 2 GB, a page header claiming a 2 GB page
// (testdata/page-size-2gb.parquet) and one claiming 2 GB of statistics
// bytes (testdata/page-header-bytes-2gb.parquet), are refused before any
// page is read.
func TestParquetMutations(t *testing.T) {
	for _, name := range []string{"page-size-2gb.parquet", "page-header-bytes-2gb.parquet"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		_, err = decodeParquet("f.parquet", bytes.NewReader(b), int64(len(b)))
		require.Error(t, err, name)
		assert.Regexp(t, `f.parquet: malformed Parquet file: row group 0, column \d: page`, err.Error(), name)
	}

	good := typedParquet(t, []string{"a", "b", "c"}, []string{"int64", "double", "string"}, [][]string{{"1", "2.5", "x"}, {"?", "3", "?"}, {"4", "?", "y"}}, "?")
	rng := rand.New(rand.NewPCG(1, 2))
	failed := 0
	for range 20000 {
		b := mutate(rng, good)
		pf, err := decodeParquet("f.parquet", bytes.NewReader(b), int64(len(b)))
		if err == nil {
			names := pf.names()
			err = pf.rows(names, "?", func(_ int, f []string) error {
				require.Len(t, f, len(names))
				return nil
			})
		}
		if err != nil {
			failed++
			require.Contains(t, err.Error(), "f.parquet")
		}
	}
	assert.Greater(t, failed, 1000, "many mutations are caught")
}

// FuzzParquetDecode: any bytes either decode into rows of the schema's
// width or give an error naming the file, never a panic.
func FuzzParquetDecode(f *testing.F) {
	cols := []string{"a", "b", "c"}
	good := typedParquet(f, cols, []string{"int64", "double", "string"}, [][]string{{"1", "2.5", "x"}, {"?", "3", "?"}, {"4", "?", "y"}}, "?")
	f.Add(good)
	f.Add(good[:len(good)-9])
	f.Add(good[len(good)/2:])
	f.Add([]byte("PAR1PAR1"))
	for _, name := range []string{"page-size-2gb.parquet", "page-header-bytes-2gb.parquet"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := decodeParquet("f.parquet", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			require.Contains(t, err.Error(), "f.parquet")
			return
		}
		names := pf.names()
		err = pf.rows(names, "?", func(_ int, fields []string) error {
			require.Len(t, fields, len(names))
			return nil
		})
		if err != nil {
			require.Contains(t, err.Error(), "f.parquet")
		}
	})
}
