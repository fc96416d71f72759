package kanon

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzLabelWidth: any label either parses into a width in [0, 1] or is
// refused, never a panic.
func FuzzLabelWidth(f *testing.F) {
	for _, s := range []string{"20", "[10..20]", "[x..w]", "[y..z..w]", "[", "[..]", "[10..]", "..", "[1e400..2]", "[NaN..NaN]", "NaN", "-Inf", "[10..NaN]"} {
		f.Add(s)
	}
	d := &Domain{Values: [][]string{{"10", "20", "30"}, {"x", "y..z", "w"}}, Rank: [][]int32{{0, 1, 2}, {0, 1, 2}},
		NVal: []int{3, 3}, Nums: [][]float64{{10, 20, 30}, nil}}
	d.prepare()
	f.Fuzz(func(t *testing.T, lab string) {
		for q := range 2 {
			w, ok := labelWidth(d, q, lab)
			if ok {
				require.True(t, w >= 0 && w <= 1, "%q on QI %d: width %v", lab, q, w)
			}
		}
	})
}
