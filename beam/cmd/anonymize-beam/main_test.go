package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { ptest.MainWithDefault(m, "prism") }

func newCmd(t *testing.T, args ...string) *command {
	t.Helper()
	cmd := &command{set: map[string]bool{}}
	fs := flag.NewFlagSet("anonymize-beam", flag.ContinueOnError)
	cmd.define(fs)
	require.NoError(t, fs.Parse(args))
	fs.Visit(func(f *flag.Flag) { cmd.set[f.Name] = true })
	return cmd
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "t.csv")
	require.NoError(t, os.WriteFile(in, []byte("age,zip,disease\n30,100,a\n31,101,b\n"), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--preset", "census", "--in", in, "--out", dir, "--k", "2"}, `unknown preset "census"`},
		{[]string{"--out", dir, "--qi", "age", "--k", "2"}, "--in is required"},
		{[]string{"--in", in, "--qi", "age", "--k", "2"}, "--out is required"},
		{[]string{"--in", in, "--out", dir, "--k", "2"}, "--qi is required"},
		{[]string{"--in", in, "--out", dir, "--qi", "age", "--k", "2", "--t", "0.2", "--t-kind", "ordered"}, "equal ground distance only"},
		{[]string{"--in", in, "--out", dir, "--qi", "age,height", "--k", "2"}, `--qi: unknown or conflicting column: no column "height" (have age, zip, disease)`},
		{[]string{"--in", in, "--out", dir, "--qi", "age", "--sensitive", "disease", "--drop", "disease", "--k", "2"}, `--drop disease: "disease" is the sensitive column`},
		{[]string{"--in", in, "--out", dir, "--qi", "age", "--k", "1"}, "k = 1, must be at least 2"},
		{[]string{"--in", filepath.Join(dir, "none-*.csv"), "--out", dir, "--qi", "age", "--k", "2"}, "no file matches"},
		{[]string{"--in", in, "--out", dir, "--qi", "age", "--k", "2", "--delimiter", "ab"}, `--delimiter "ab"`},
	} {
		_, _, err := newCmd(t, c.args...).config(context.Background())
		require.Error(t, err, "%v", c.args)
		assert.Contains(t, err.Error(), c.want, "%v", c.args)
	}
}

func TestCause(t *testing.T) {
	err := errors.New("job failed:\nplan dump ...\ncaused by:\nkanon: input: a.csv:3: row has 2 fields, want 3\n\terror may be due to ...")
	assert.Equal(t, "input: a.csv:3: row has 2 fields, want 3", Cause(err))
	assert.Equal(t, "other", Cause(errors.New("other")))
}

// TestRunEndToEnd: the command on a small headed table in two shards
// writes verified shards with headers and a report, and prints counters.
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	var a, b strings.Builder
	a.WriteString("name,age,zip,disease\n")
	b.WriteString("name,age,zip,disease\n")
	for i := range 60 {
		w := &a
		if i%2 == 1 {
			w = &b
		}
		w.WriteString(strings.Join([]string{"n" + string(rune('a'+i%26)), strconv.Itoa(20 + i%37), strconv.Itoa(1000 + (i*7)%50), "d" + strconv.Itoa(i%3)}, ",") + "\n")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in-0.csv"), []byte(a.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in-1.csv"), []byte(b.String()), 0o644))
	out, rep := filepath.Join(dir, "out"), filepath.Join(dir, "rep.json")
	cmd := newCmd(t, "--in", filepath.Join(dir, "in-*.csv"), "--out", out, "--qi", "age,zip", "--sensitive", "disease",
		"--identifiers", "name", "--k", "4", "--l", "2", "--local-threshold", "10", "--report", rep)
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, cmd.run(context.Background(), &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "partitions_finished_locally")
	assert.Contains(t, stdout.String(), "rows_written                     60")
	var r struct {
		RowsIn   int  `json:"rows_in"`
		RowsOut  int  `json:"rows_out"`
		KMin     int  `json:"k_min"`
		Verified bool `json:"verified"`
	}
	b2, err := os.ReadFile(rep)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b2, &r))
	assert.True(t, r.Verified)
	assert.Equal(t, 60, r.RowsIn)
	assert.Equal(t, 60, r.RowsOut)
	assert.GreaterOrEqual(t, r.KMin, 4)
	files, err := filepath.Glob(filepath.Join(out, "part-*-of-00002.csv"))
	require.NoError(t, err)
	rows := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		assert.Equal(t, "age,zip,disease", lines[0])
		rows += len(lines) - 1
	}
	assert.Equal(t, 60, rows)
}
