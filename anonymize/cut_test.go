package anonymize

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func oneColumn(t *testing.T, vals ...int) *Table {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("x\n")
	for _, v := range vals {
		fmt.Fprintf(&sb, "%d\n", v)
	}
	tb, err := ReadCSV(strings.NewReader(sb.String()), CSVOptions{})
	require.NoError(t, err)
	return tb
}

func columnValues(t *testing.T, tb *Table, name string) []string {
	t.Helper()
	c, err := tb.Column(name)
	require.NoError(t, err)
	out := make([]string, tb.Rows())
	for i := range out {
		out[i] = colCell(c, i)
	}
	return out
}

// TestMedianCutKnownAnswer works one table by hand. With values
// 1×3, 2×6, 3×3 and k = 3, the median cut puts the split value at 2 (the
// running count reaches 6 there), giving [1..2]×9 | 3×3, and the left part
// cannot be cut again (no value follows 2 in it). The best cut rule takes
// the first most balanced cut (after 1, 3 | 9, tied with 9 | 3) and then
// cuts 2 | 3, so it generalizes nothing.
func TestMedianCutKnownAnswer(t *testing.T) {
	tb := oneColumn(t, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3)
	spec := Spec{QIs: []QI{{Column: "x", Kind: Numeric}}, K: 3}
	med, err := Mondrian(tb, spec, &MondrianOptions{Cut: MedianCut})
	require.NoError(t, err)
	want := append(slices.Repeat([]string{"[1..2]"}, 9), "3", "3", "3")
	assert.Equal(t, want, columnValues(t, med.Output, "x"))
	assert.Equal(t, 2, med.Classes)
	best, err := Mondrian(tb, spec, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "1", "1", "2", "2", "2", "2", "2", "2", "3", "3", "3"}, columnValues(t, best.Output, "x"))
	assert.Equal(t, 3, best.Classes)
	for _, res := range []*Result{med, best} {
		rep, err := Verify(tb, res.Output, spec)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, rep.KMin, 3)
	}
	_, err = Mondrian(tb, spec, &MondrianOptions{Cut: CutRule(7)})
	assert.ErrorIs(t, err, ErrParameter)
	assert.Equal(t, "median", MedianCut.String())
	assert.Equal(t, "best", BestCut.String())
}

// refMedianMondrian is an independent, plain recursive strict Mondrian
// with the median cut over integer QIs: dimensions by decreasing
// normalized width of the partition (ties by QI order), split value the
// first at which the running count reaches ⌊n/2⌋, next dimension when a
// half is below k or no value follows. It returns each row's label per QI.
func refMedianMondrian(rows [][]int, k int) [][]string {
	d := len(rows[0])
	gmin, gmax := make([]int, d), make([]int, d)
	for q := range d {
		gmin[q], gmax[q] = rows[0][q], rows[0][q]
		for _, r := range rows {
			gmin[q], gmax[q] = min(gmin[q], r[q]), max(gmax[q], r[q])
		}
	}
	labels := make([][]string, len(rows))
	var rec func(part []int)
	rec = func(part []int) {
		lo, hi := make([]int, d), make([]int, d)
		for q := range d {
			lo[q], hi[q] = rows[part[0]][q], rows[part[0]][q]
			for _, i := range part {
				lo[q], hi[q] = min(lo[q], rows[i][q]), max(hi[q], rows[i][q])
			}
		}
		width := func(q int) float64 {
			if gmax[q] == gmin[q] {
				return 0
			}
			return float64(hi[q]-lo[q]) / float64(gmax[q]-gmin[q])
		}
		dims := []int{}
		for q := range d {
			if width(q) > 0 {
				dims = append(dims, q)
			}
		}
		slices.SortStableFunc(dims, func(a, b int) int { return cmp.Compare(width(b), width(a)) })
		for _, q := range dims {
			vals := map[int]int{}
			for _, i := range part {
				vals[rows[i][q]]++
			}
			keys := slices.Sorted(func(yield func(int) bool) {
				for v := range vals {
					if !yield(v) {
						return
					}
				}
			})
			cum, at := 0, -1
			for j, v := range keys {
				cum += vals[v]
				if cum >= len(part)/2 {
					at = j
					break
				}
			}
			if at < 0 || at == len(keys)-1 || cum < k || len(part)-cum < k {
				continue
			}
			var l, r []int
			for _, i := range part {
				if rows[i][q] <= keys[at] {
					l = append(l, i)
				} else {
					r = append(r, i)
				}
			}
			rec(l)
			rec(r)
			return
		}
		for _, i := range part {
			labels[i] = make([]string, d)
			for q := range d {
				if lo[q] == hi[q] {
					labels[i][q] = strconv.Itoa(lo[q])
				} else {
					labels[i][q] = "[" + strconv.Itoa(lo[q]) + ".." + strconv.Itoa(hi[q]) + "]"
				}
			}
		}
	}
	all := make([]int, len(rows))
	for i := range all {
		all[i] = i
	}
	rec(all)
	return labels
}

// TestMedianCutMatchesPlainImplementation compares Mondrian with
// MedianCut, cell by cell, against refMedianMondrian on random tables.
func TestMedianCutMatchesPlainImplementation(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	for trial := range 60 {
		n := 20 + rng.IntN(300)
		d := 1 + rng.IntN(3)
		k := 2 + rng.IntN(6)
		rows := make([][]int, n)
		var sb strings.Builder
		for q := range d {
			if q > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "q%d", q)
		}
		sb.WriteByte('\n')
		spans := []int{1 + rng.IntN(5), 1 + rng.IntN(40), 1 + rng.IntN(200)}
		for i := range rows {
			rows[i] = make([]int, d)
			for q := range d {
				rows[i][q] = rng.IntN(spans[q])
				if q > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(strconv.Itoa(rows[i][q]))
			}
			sb.WriteByte('\n')
		}
		tb, err := ReadCSV(strings.NewReader(sb.String()), CSVOptions{})
		require.NoError(t, err)
		spec := Spec{K: k}
		for q := range d {
			spec.QIs = append(spec.QIs, QI{Column: "q" + strconv.Itoa(q), Kind: Numeric})
		}
		res, err := Mondrian(tb, spec, &MondrianOptions{Cut: MedianCut, Workers: 1 + trial%2})
		require.NoError(t, err)
		want := refMedianMondrian(rows, k)
		for i := range rows {
			for q := range d {
				require.Equal(t, want[i][q], cell(res.Output, i, q), "trial %d (n %d, d %d, k %d), row %d, QI %d", trial, n, d, k, i, q)
			}
		}
		_, err = Verify(tb, res.Output, spec)
		require.NoError(t, err)
	}
}

// TestMedianCutWithLDiversity checks that the median cut is refused when a
// half would break l-diversity, and that the output still verifies.
func TestMedianCutWithLDiversity(t *testing.T) {
	// x 1..8 with s = a a a a b b a b: the median cut (4 | 4) leaves only
	// "a" on the left, so under distinct 2-diversity the median rule cuts
	// nothing, while the cut after 5 keeps both values on both sides.
	var sb strings.Builder
	sb.WriteString("x,s\n")
	for x := 1; x <= 8; x++ {
		s := "a"
		if x == 5 || x == 6 || x == 8 {
			s = "b"
		}
		fmt.Fprintf(&sb, "%d,%s\n", x, s)
	}
	tb, err := ReadCSV(strings.NewReader(sb.String()), CSVOptions{})
	require.NoError(t, err)
	spec := Spec{QIs: []QI{{Column: "x", Kind: Numeric}}, K: 2, Sensitive: "s", L: &LDiversity{Kind: DistinctL, L: 2}}
	res, err := Mondrian(tb, spec, &MondrianOptions{Cut: MedianCut})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Classes)
	_, err = Verify(tb, res.Output, spec)
	require.NoError(t, err)
	// The best rule finds the off-median cuts that keep both values.
	best, err := Mondrian(tb, spec, nil)
	require.NoError(t, err)
	assert.Greater(t, best.Classes, 1)
}
