package anonymize

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// checker tests a class (its size and the histogram of its sensitive
// codes) against the privacy models of a Spec.
type checker struct {
	k     int
	l     *LDiversity
	t     *TCloseness
	m     int       // number of sensitive codes
	q     []float64 // global sensitive distribution, by code
	pos   []int     // OrderedDistance: code → position
	hcode [][]int32 // HierarchicalDistance: hcode[l][code] = node at level l
	hn    []int     // nodes per level
}

const eps = 1e-9

func newChecker(spec Spec, t *Table, scol int, sens []int32, m int) (*checker, error) {
	ck := &checker{k: spec.K, l: spec.L, t: spec.T, m: m}
	if l := spec.L; l != nil {
		if !(l.L >= 1) || math.IsInf(l.L, 0) {
			return nil, fmt.Errorf("%w: l = %v, must be at least 1", ErrParameter, l.L)
		}
		switch l.Kind {
		case DistinctL, EntropyL:
		case RecursiveCL:
			if !(l.C > 0) || math.IsInf(l.C, 0) {
				return nil, fmt.Errorf("%w: c = %v of recursive (c,l)-diversity must be positive", ErrParameter, l.C)
			}
		default:
			return nil, fmt.Errorf("%w: unknown l-diversity kind %d", ErrParameter, l.Kind)
		}
		if l.Kind != EntropyL && l.L != math.Trunc(l.L) {
			return nil, fmt.Errorf("%w: l = %v must be an integer for this l-diversity kind", ErrParameter, l.L)
		}
	}
	if scol >= 0 {
		ck.q = make([]float64, m)
		for _, s := range sens {
			ck.q[s]++
		}
		for i := range ck.q {
			ck.q[i] /= float64(len(sens))
		}
	}
	if tc := spec.T; tc != nil {
		if !(tc.T >= 0 && tc.T <= 1) {
			return nil, fmt.Errorf("%w: t = %v outside [0, 1]", ErrParameter, tc.T)
		}
		col := t.cols[scol]
		switch tc.Kind {
		case EqualDistance:
		case OrderedDistance:
			order, err := sensitiveOrder(col, tc.Order)
			if err != nil {
				return nil, err
			}
			ck.pos = make([]int, m)
			for p, code := range order {
				ck.pos[code] = p
			}
		case HierarchicalDistance:
			h := tc.Hierarchy
			if h == nil {
				return nil, fmt.Errorf("%w: hierarchical t-closeness needs a hierarchy of the sensitive values", ErrParameter)
			}
			ck.hcode = make([][]int32, h.height)
			ck.hn = make([]int, h.height)
			for l := 0; l < h.height; l++ {
				ids := map[string]int32{}
				ck.hcode[l] = make([]int32, m)
				for code, s := range col.Dict {
					li, ok := h.leaf[s]
					if !ok {
						return nil, fmt.Errorf("%w: sensitive value %q is not in hierarchy %s", ErrHierarchy, s, h.name)
					}
					lab := h.rows[li][l]
					id, ok := ids[lab]
					if !ok {
						id = int32(len(ids))
						ids[lab] = id
					}
					ck.hcode[l][code] = id
				}
				ck.hn[l] = len(ids)
			}
		default:
			return nil, fmt.Errorf("%w: unknown t-closeness kind %d", ErrParameter, tc.Kind)
		}
	}
	return ck, nil
}

// sensitiveOrder returns the codes of col in the given order, or in
// numeric order when every value is a number, else first appearance.
func sensitiveOrder(col *Column, order []string) ([]int32, error) {
	if order != nil {
		var out []int32
		seen := map[string]bool{}
		for _, v := range order {
			if seen[v] {
				return nil, fmt.Errorf("%w: sensitive order lists %q twice", ErrParameter, v)
			}
			seen[v] = true
			if c, ok := col.Lookup(v); ok {
				out = append(out, c)
			}
		}
		if len(out) != len(col.Dict) {
			for _, s := range col.Dict {
				if !seen[s] {
					return nil, fmt.Errorf("%w: sensitive value %q is not in the given order", ErrInput, s)
				}
			}
		}
		return out, nil
	}
	out := make([]int32, len(col.Dict))
	vals := make([]float64, len(col.Dict))
	numeric := true
	for i, s := range col.Dict {
		out[i] = int32(i)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			numeric = false
		}
		vals[i] = v
	}
	if numeric {
		slices.SortStableFunc(out, func(a, b int32) int {
			switch {
			case vals[a] < vals[b]:
				return -1
			case vals[a] > vals[b]:
				return 1
			}
			return 0
		})
	}
	return out, nil
}

// ok reports whether a class of size n with sensitive histogram hist (by
// code; may be nil when no sensitive model is set) meets every model.
func (ck *checker) ok(n int, hist []int32, buf []float64) bool {
	if n < ck.k {
		return false
	}
	if ck.l != nil && !ck.lOK(n, hist, buf) {
		return false
	}
	if ck.t != nil && ck.emd(n, hist, buf) > ck.t.T+eps {
		return false
	}
	return true
}

func (ck *checker) lOK(n int, hist []int32, buf []float64) bool {
	switch ck.l.Kind {
	case DistinctL:
		return float64(distinct(hist)) >= ck.l.L
	case EntropyL:
		return entropy(n, hist) >= math.Log(ck.l.L)-eps
	default:
		return recursiveC(hist, int(ck.l.L), buf) < ck.l.C
	}
}

func distinct(hist []int32) int {
	d := 0
	for _, c := range hist {
		if c > 0 {
			d++
		}
	}
	return d
}

func entropy(n int, hist []int32) float64 {
	h := 0.0
	for _, c := range hist {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log(p)
		}
	}
	return h
}

// recursiveC returns r1 / (r_l + ... + r_m) for the counts sorted in
// decreasing order: the class is recursive (c,l)-diverse iff this is
// below c. It is +Inf when fewer than l values occur.
func recursiveC(hist []int32, l int, buf []float64) float64 {
	r := buf[:0]
	for _, c := range hist {
		if c > 0 {
			r = append(r, float64(c))
		}
	}
	if len(r) < l || l < 1 {
		return math.Inf(1)
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
	return r[0] / tail
}

// emd returns the earth mover's distance between the class distribution
// and the global one, under the configured ground distance.
func (ck *checker) emd(n int, hist []int32, buf []float64) float64 {
	inv := 1 / float64(n)
	switch ck.t.Kind {
	case EqualDistance:
		d := 0.0
		for i, c := range hist {
			d += math.Abs(float64(c)*inv - ck.q[i])
		}
		return d / 2
	case OrderedDistance:
		if ck.m < 2 {
			return 0
		}
		diff := buf[:ck.m]
		for i, c := range hist {
			diff[ck.pos[i]] = float64(c)*inv - ck.q[i]
		}
		d, cum := 0.0, 0.0
		for _, v := range diff {
			cum += v
			d += math.Abs(cum)
		}
		return d / float64(ck.m-1)
	default:
		H := len(ck.hcode) - 1
		extra := buf[:0]
		extra = append(extra, make([]float64, ck.m)...)
		for i, c := range hist {
			extra[i] = float64(c)*inv - ck.q[i]
		}
		cost := 0.0
		for l := 1; l <= H; l++ {
			pos := make([]float64, ck.hn[l])
			neg := make([]float64, ck.hn[l])
			// children at level l-1: node ids of level l-1 map to level l
			// through any code below them.
			// extra holds the surplus of every node of level l-1 (node
			// ids of level 0 are the codes themselves).
			child := extra[:ck.hn[l-1]]
			seen := make([]bool, ck.hn[l-1])
			for code := 0; code < ck.m; code++ {
				c := ck.hcode[l-1][code]
				if seen[c] {
					continue
				}
				seen[c] = true
				p := ck.hcode[l][code]
				if child[c] > 0 {
					pos[p] += child[c]
				} else {
					neg[p] -= child[c]
				}
			}
			next := make([]float64, ck.hn[l])
			for p := range next {
				next[p] = pos[p] - neg[p]
				cost += float64(l) / float64(H) * math.Min(pos[p], neg[p])
			}
			extra = append(extra[:0], next...)
		}
		return cost
	}
}
