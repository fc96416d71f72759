package study

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/plotter"
)

func TestTableMarkdown(t *testing.T) {
	tab := &Table{Header: []string{"a", "b|c"}}
	tab.Add("x", 0.123456, 7)
	assert.Equal(t, "| a | b\\|c |\n| --- | --- |\n| x | 0.1235 | 7 |\n", tab.Markdown())
}

func TestWriteOutputs(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	r, err := NewRun("s", dir, 3, true, &out)
	require.NoError(t, err)
	_, err = r.WriteMarkdown("T", "cmd", Section{Title: "empty", Table: &Table{Header: []string{"a"}}})
	assert.ErrorContains(t, err, `table "empty" has no rows`)

	tab := &Table{Header: []string{"a"}}
	tab.Add("1")
	p, err := r.WriteMarkdown("T", "go run x", Section{Table: tab, Notes: "note"})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "s-quick.md"), p)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Contains(t, string(b), "seed 3")
	assert.Contains(t, string(b), "GOMAXPROCS=")
	assert.Contains(t, string(b), "go run x")

	png, err := r.WritePNG(".png", Plot{Title: "t", LogX: true, XTicks: []float64{1, 2}, Diagonal: true,
		Series: []Series{{Name: "a", XY: plotter.XYs{{X: 1, Y: 1}, {X: 2, Y: 3}}}, {Name: "b", PointsOnly: true, XY: plotter.XYs{{X: 1, Y: 2}}}}})
	require.NoError(t, err)
	require.NoError(t, CheckPNG(png))
	require.NoError(t, os.WriteFile(png, []byte("\x89PNG broken"), 0o644))
	assert.Error(t, CheckPNG(png))
	assert.Contains(t, out.String(), "wrote")
}

func TestMissingData(t *testing.T) {
	_, err := os.Open(filepath.Join(t.TempDir(), "nope"))
	e := MissingData("Fashion-MNIST", "/x", err)
	assert.ErrorContains(t, e, "Fashion-MNIST not found at /x")
	assert.ErrorIs(t, e, os.ErrNotExist)
	t.Setenv("PRIVML_DATASETS", "/data")
	assert.Equal(t, "/data", DatasetsDir(""))
	assert.Equal(t, "/flag", DatasetsDir("/flag"))
}
