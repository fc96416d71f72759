package anonymize

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// partTable builds rows (age, disease) with the domain of the whole table.
func partTable(t *testing.T, domain map[string][]string, rows [][]string) *Table {
	t.Helper()
	tb, err := NewTableDomain([]string{"age", "disease"}, domain)
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, tb.AppendRow(r))
	}
	return tb
}

// TestPartMatchesWhole: Mondrian on the lower half of a table, loaded
// with the domain of the whole, generalizes and measures exactly as
// Mondrian on the whole table does below its first cut.
func TestPartMatchesWhole(t *testing.T) {
	var all, low [][]string
	var ages []string
	for i := range 40 {
		a := fmt.Sprint(20 + i)
		ages = append(ages, a)
		all = append(all, []string{a, fmt.Sprint("d", i%3)})
		if i < 20 {
			low = append(low, all[i])
		}
	}
	spec := Spec{QIs: []QI{{Column: "age", Kind: Numeric}}, Sensitive: "disease", K: 5}
	whole, err := NewTable([]string{"age", "disease"})
	require.NoError(t, err)
	for _, r := range all {
		require.NoError(t, whole.AppendRow(r))
	}
	rw, err := Mondrian(whole, spec, nil)
	require.NoError(t, err)
	part := partTable(t, map[string][]string{"age": ages}, low)
	rp, err := Mondrian(part, spec, nil)
	require.NoError(t, err)
	require.Equal(t, 4, rp.Classes)
	for i := range 20 {
		w, _ := rw.Output.Value(i, 0)
		p, _ := rp.Output.Value(i, 0)
		assert.Equal(t, w, p, "row %d", i)
	}
	// NCP against the global span [20, 59]: each class spans 4 of 39.
	rep, err := Verify(part, rp.Output, spec)
	require.NoError(t, err)
	assert.InDelta(t, 100*4.0/39, rep.NCP, 1e-9)
	// Without the domain the span is [20, 39] and the penalty larger.
	alone := partTable(t, nil, low)
	ra, err := Mondrian(alone, spec, nil)
	require.NoError(t, err)
	repA, err := Verify(alone, ra.Output, spec)
	require.NoError(t, err)
	assert.InDelta(t, 100*4.0/19, repA.NCP, 1e-9)
}

// TestReferenceTCloseness: a part whose own sensitive distribution is
// uniform meets t = 0 against itself but not against a skewed reference.
func TestReferenceTCloseness(t *testing.T) {
	rows := [][]string{{"1", "a"}, {"2", "b"}, {"3", "a"}, {"4", "b"}}
	spec := Spec{QIs: []QI{{Column: "age", Kind: Numeric}}, Sensitive: "disease", K: 2,
		T: &TCloseness{T: 0.1, Kind: EqualDistance}}
	_, err := Mondrian(partTable(t, nil, rows), spec, nil)
	require.NoError(t, err)
	_, err = Mondrian(partTable(t, nil, rows), spec, &MondrianOptions{Reference: map[string]float64{"a": 0.9, "b": 0.1}})
	require.ErrorIs(t, err, ErrUnsatisfiable)
}

func TestNewTableDomainErrors(t *testing.T) {
	_, err := NewTableDomain([]string{"a"}, map[string][]string{"b": {"x"}})
	require.True(t, errors.Is(err, ErrColumn))
	assert.Contains(t, err.Error(), `column "b"`)
	_, err = NewTableDomain([]string{"a"}, map[string][]string{"a": {"x", "x"}})
	require.ErrorIs(t, err, ErrColumn)
	assert.Contains(t, err.Error(), `lists "x" twice`)
	_, err = NewTableDomain([]string{"a", "a"}, nil)
	require.ErrorIs(t, err, ErrColumn)
}
