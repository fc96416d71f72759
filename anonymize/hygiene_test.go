package anonymize

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadCSVNilReader(t *testing.T) {
	tb, err := ReadCSV(nil, CSVOptions{Name: "in.csv"})
	require.Error(t, err)
	assert.Nil(t, tb)
	assert.ErrorIs(t, err, ErrInput)
	assert.Contains(t, err.Error(), "in.csv")
	_, err = ReadCSV(nil, CSVOptions{Delimiter: '¦'})
	assert.ErrorIs(t, err, ErrInput)
	_, err = ReadHierarchy(nil, "h.csv", ';')
	assert.ErrorIs(t, err, ErrHierarchy)
}

// panicReader panics on its first Read, as a buggy caller's reader might.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("reader broke") }

func TestReadCSVReaderPanicReachesCaller(t *testing.T) {
	// The splitting goroutine must hand the panic to the caller, where it
	// can be recovered; a panic left in that goroutine kills the process.
	require.PanicsWithValue(t, "reader broke", func() {
		_, _ = ReadCSV(panicReader{}, CSVOptions{})
	})
	require.PanicsWithValue(t, "reader broke", func() {
		_, _ = ReadCSV(io.MultiReader(strings.NewReader("a,b\n1,2\n"), panicReader{}), CSVOptions{})
	})
}

func TestReadCSVStripsBOM(t *testing.T) {
	for _, delim := range []rune{',', '¦'} {
		d := string(delim)
		in := "\ufeffage" + d + "zip\n30" + d + "1234\n"
		tb, err := ReadCSV(strings.NewReader(in), CSVOptions{Delimiter: delim})
		require.NoError(t, err, "delimiter %q", delim)
		assert.Equal(t, []string{"age", "zip"}, tb.Names(), "delimiter %q", delim)
		// Without header the BOM must not stick to the first value.
		tb, err = ReadCSV(strings.NewReader("\ufeff30"+d+"1234\n"), CSVOptions{Delimiter: delim, NoHeader: true})
		require.NoError(t, err)
		v, err := tb.Value(0, 0)
		require.NoError(t, err)
		assert.Equal(t, "30", v)
	}
	// A BOM alone, or only inside the data, is kept as data.
	tb, err := ReadCSV(strings.NewReader("a\n\ufeffx\n"), CSVOptions{})
	require.NoError(t, err)
	v, _ := tb.Value(0, 0)
	assert.Equal(t, "\ufeffx", v)
	h, err := ReadHierarchy(strings.NewReader("\ufeff1;*\n2;*\n"), "h", ';')
	require.NoError(t, err)
	g, err := h.Generalize("1", 0)
	require.NoError(t, err, "hierarchy leaf kept its BOM")
	assert.Equal(t, "1", g)
}

func TestIndexOutOfRangeIsAnError(t *testing.T) {
	tb, err := ReadCSV(strings.NewReader("a,b\n1,2\n3,4\n"), CSVOptions{})
	require.NoError(t, err)
	for _, c := range []struct{ i, j int }{{-1, 0}, {2, 0}, {0, -1}, {0, 2}, {1 << 40, 1}} {
		assert.NotPanics(t, func() {
			_, err := tb.Value(c.i, c.j)
			assert.ErrorIs(t, err, ErrIndex, "cell (%d, %d)", c.i, c.j)
		})
	}
	for _, j := range []int{-1, 2} {
		col, err := tb.ColumnAt(j)
		assert.Nil(t, col)
		assert.ErrorIs(t, err, ErrIndex)
	}
	col, err := tb.ColumnAt(1)
	require.NoError(t, err)
	_, err = col.Value(5)
	assert.ErrorIs(t, err, ErrIndex)
	assert.Contains(t, err.Error(), `"b"`)
	v, err := tb.Value(1, 1)
	require.NoError(t, err)
	assert.Equal(t, "4", v)
}

func TestNilTablesAreErrors(t *testing.T) {
	spec := Spec{QIs: []QI{{Column: "a", Kind: Numeric}}, K: 2}
	_, err := Mondrian(nil, spec, nil)
	assert.ErrorIs(t, err, ErrInput)
	_, err = Optimal(nil, spec, nil)
	assert.ErrorIs(t, err, ErrInput)
	tb, err := ReadCSV(strings.NewReader("a\n1\n2\n"), CSVOptions{})
	require.NoError(t, err)
	_, err = Verify(tb, nil, spec)
	assert.ErrorIs(t, err, ErrInput)
	_, err = Verify(nil, tb, spec)
	assert.ErrorIs(t, err, ErrInput)
	var nilTable *Table
	_, err = nilTable.MapColumn("a", func(s string) (string, error) { return s, nil })
	assert.ErrorIs(t, err, ErrInput)
	_, err = EncryptColumn(tb, "a", nil, nil)
	assert.ErrorIs(t, err, ErrInput)
	_, err = DependentColumns(nil, spec)
	assert.ErrorIs(t, err, ErrInput)
	assert.ErrorIs(t, tb.WriteCSV(nil, ','), ErrInput)
}

// TestErrorsHaveOnePrefix checks that no error of the package repeats the
// package prefix, as wrapping one sentinel error inside another would.
func TestErrorsHaveOnePrefix(t *testing.T) {
	cases := map[string]func() error{
		"duplicate header": func() error { _, err := ReadCSV(strings.NewReader("a,a\n1,2\n"), CSVOptions{}); return err },
		"ragged row":       func() error { _, err := ReadCSV(strings.NewReader("a,b\n1\n"), CSVOptions{}); return err },
		"bad quote":        func() error { _, err := ReadCSV(strings.NewReader("a\n\"x\n"), CSVOptions{}); return err },
		"empty":            func() error { _, err := ReadCSV(strings.NewReader(""), CSVOptions{}); return err },
		"hierarchy":        func() error { _, err := ReadHierarchy(strings.NewReader("1;*\n2\n"), "h", ';'); return err },
		"unknown QI": func() error {
			tb, _ := ReadCSV(strings.NewReader("a\n1\n2\n"), CSVOptions{})
			_, err := Mondrian(tb, Spec{QIs: []QI{{Column: "z", Kind: Numeric}}, K: 2}, nil)
			return err
		},
		"not a number": func() error {
			tb, _ := ReadCSV(strings.NewReader("a\n1\nx\n"), CSVOptions{})
			_, err := Mondrian(tb, Spec{QIs: []QI{{Column: "a", Kind: Numeric}}, K: 2}, nil)
			return err
		},
		"verify": func() error {
			tb, _ := ReadCSV(strings.NewReader("a\n1\n2\n"), CSVOptions{})
			_, err := Verify(tb, tb, Spec{QIs: []QI{{Column: "a", Kind: Numeric}}, K: 2})
			return err
		},
	}
	for name, f := range cases {
		err := f()
		require.Error(t, err, name)
		assert.Equal(t, 1, strings.Count(err.Error(), "anonymize:"), "%s: %v", name, err)
		assert.True(t, strings.HasPrefix(err.Error(), "anonymize: "), "%s: %v", name, err)
		assert.True(t, errors.Unwrap(err) != nil || strings.Contains(err.Error(), ": "), name)
	}
}
