package kanon

import (
	"math"
	"slices"
)

const eps = 1e-9

// model tests a candidate partition (its size and sensitive histogram)
// against k, l and t, with the tolerances of package anonymize, so that
// cuts taken in the pipeline are the cuts anonymize.Mondrian takes.
type model struct {
	cfg *Config
	ref []float64 // global sensitive distribution, by sensitive index
}

func (m *model) ok(n int64, hist []int64) bool {
	c := m.cfg
	if n < int64(c.K) {
		return false
	}
	switch c.LKind {
	case "distinct":
		if float64(nonZero(hist)) < c.L {
			return false
		}
	case "entropy":
		h := 0.0
		for _, x := range hist {
			if x > 0 {
				p := float64(x) / float64(n)
				h -= p * math.Log(p)
			}
		}
		if h < math.Log(c.L)-eps {
			return false
		}
	case "recursive":
		var r []float64
		for _, x := range hist {
			if x > 0 {
				r = append(r, float64(x))
			}
		}
		l := int(c.L)
		if len(r) < l {
			return false
		}
		slices.SortFunc(r, func(a, b float64) int {
			switch {
			case a > b:
				return -1
			case a < b:
				return 1
			}
			return 0
		})
		tail := 0.0
		for _, v := range r[l-1:] {
			tail += v
		}
		if !(r[0]/tail < c.C) {
			return false
		}
	}
	if c.HasT {
		d := 0.0
		for i, q := range m.ref {
			var x int64
			if i < len(hist) {
				x = hist[i]
			}
			d += math.Abs(float64(x)/float64(n) - q)
		}
		if d/2 > c.T+eps {
			return false
		}
	}
	return true
}

func nonZero(h []int64) int {
	d := 0
	for _, x := range h {
		if x > 0 {
			d++
		}
	}
	return d
}
