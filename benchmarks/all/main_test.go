package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuick runs every study on its quick settings in-process, as CI does,
// and relies on Main's own checks of the outputs (a table with rows, PNGs
// that decode).
func TestQuick(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, Main([]string{"-quick", "-out", dir}, &out), out.String())
	t.Logf("quick mode in %v", time.Since(start))
	for _, f := range []string{"fed-quick.md", "fed-quick.png", "dpsgd-quick.md", "dpsgd-quick.png", "anon-quick.md", "anon-quick-ncp.png", "anon-quick-accuracy.png", "he-quick.md", "he-quick.png", "audit-quick.md", "audit-quick.png"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Less(t, fi.Size(), int64(200_000), "%s is not small", f)
	}
}

func TestCheckOutputsCatchesBadFiles(t *testing.T) {
	dir := t.TempDir()
	s := entry{name: "x", outputs: []string{".md", ".png"}}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.md"), []byte("## title\n\n| a |\n| --- |\n"), 0o644))
	assert.ErrorContains(t, checkOutputs(dir, s, false), "no Markdown table with a row")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.md"), []byte("| a |\n| --- |\n| 1 |\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.png"), []byte("not a png"), 0o644))
	assert.ErrorContains(t, checkOutputs(dir, s, false), "x.png")
}

func TestUpdateBenchmarksReplacesBetweenMarkers(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "benchmarks", "results")
	require.NoError(t, os.MkdirAll(res, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(res, "audit.md"), []byte("## Audit\n\n```\n# not a heading\n```\n\n| a |\n| --- |\n| 1 |\n"), 0o644))
	bench := filepath.Join(dir, "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(bench, []byte("# Benchmarks\n\nbefore\n\n"+beginMarker+"\nold\n"+endMarker+"\n\nafter\n"), 0o644))
	require.NoError(t, updateBenchmarks(bench, res, io.Discard))
	b, err := os.ReadFile(bench)
	require.NoError(t, err)
	s := string(b)
	assert.NotContains(t, s, "old")
	assert.Contains(t, s, "before")
	assert.Contains(t, s, "after")
	assert.Contains(t, s, "### Audit")
	assert.Contains(t, s, "\n# not a heading\n")
	assert.Contains(t, s, "](benchmarks/results/audit.png)")
	assert.Equal(t, 1, strings.Count(s, beginMarker))

	// Unpaired markers are an error and leave the file alone.
	require.NoError(t, os.WriteFile(bench, []byte(endMarker+"\n"+beginMarker), 0o644))
	assert.ErrorContains(t, updateBenchmarks(bench, res, io.Discard), "not a pair")
}

func TestSectionOnlyChecksResults(t *testing.T) {
	dir := t.TempDir()
	err := Main([]string{"-section-only", "-only", "audit", "-out", dir, "-benchmarks", filepath.Join(dir, "B.md")}, &bytes.Buffer{})
	assert.ErrorContains(t, err, "audit.md")
	assert.ErrorContains(t, Main([]string{"-section-only", "-quick"}, &bytes.Buffer{}), "full runs only")
}

func TestUnknownStudy(t *testing.T) {
	assert.ErrorContains(t, Main([]string{"-quick", "-only", "conv,audit"}, &bytes.Buffer{}), `unknown study "conv"`)
}
