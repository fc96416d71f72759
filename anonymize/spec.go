package anonymize

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Kind is the kind of a quasi-identifier.
type Kind int

// Quasi-identifier kinds.
const (
	// Numeric values are generalized to ranges [lo..hi].
	Numeric Kind = iota + 1
	// Ordinal values have a given order (default: first appearance) and are
	// generalized to ranges of that order.
	Ordinal
	// Hierarchical values are generalized to nodes of a [Hierarchy].
	Hierarchical
)

func (k Kind) String() string {
	switch k {
	case Numeric:
		return "numeric"
	case Ordinal:
		return "ordinal"
	case Hierarchical:
		return "hierarchical"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// QI describes one quasi-identifier column.
type QI struct {
	// Column names the column. Required.
	Column string
	// Kind of the attribute. Required.
	Kind Kind
	// Order lists the values of an Ordinal column in order; values of the
	// data missing from it are an error. Nil means order of first
	// appearance in the input.
	Order []string
	// Hierarchy of a Hierarchical column. Required for Hierarchical, and
	// for every QI with the global-recoding algorithm.
	Hierarchy *Hierarchy
}

// LKind selects the l-diversity variant (Machanavajjhala et al. 2007).
type LKind int

// l-diversity variants.
const (
	// DistinctL requires at least L distinct sensitive values per class.
	DistinctL LKind = iota + 1
	// EntropyL requires the entropy of the sensitive values of every class
	// to be at least log(L).
	EntropyL
	// RecursiveCL requires r1 < C·(rL + rL+1 + ... + rm) for the sorted
	// counts r1 ≥ r2 ≥ ... of the sensitive values of every class.
	RecursiveCL
)

// LDiversity is an l-diversity requirement.
type LDiversity struct {
	Kind LKind
	L    float64 // at least 1 (an integer for DistinctL and RecursiveCL)
	C    float64 // RecursiveCL only, positive
}

// TKind selects the ground distance of t-closeness (Li, Li and
// Venkatasubramanian 2007).
type TKind int

// t-closeness ground distances.
const (
	// EqualDistance: EMD = ½·Σ|p_i − q_i| (every pair of values at
	// distance 1).
	EqualDistance TKind = iota + 1
	// OrderedDistance: EMD = Σ_i |Σ_{j≤i}(p_j − q_j)| / (m − 1) over the
	// sensitive values in order.
	OrderedDistance
	// HierarchicalDistance: EMD over a hierarchy of the sensitive values.
	HierarchicalDistance
)

// TCloseness is a t-closeness requirement: the earth mover's distance
// between the sensitive distribution of every class and that of the whole
// table is at most T.
type TCloseness struct {
	T    float64
	Kind TKind
	// Order of the sensitive values for OrderedDistance; nil means numeric
	// order when every value is a number, otherwise first appearance.
	Order []string
	// Hierarchy of the sensitive values for HierarchicalDistance.
	Hierarchy *Hierarchy
}

// Spec is a privacy specification: which columns are quasi-identifiers,
// which one is sensitive, and the models to enforce.
type Spec struct {
	// QIs are the quasi-identifiers. Required.
	QIs []QI
	// Sensitive names the sensitive column; required with L or T.
	Sensitive string
	// Identifiers are removed from the output.
	Identifiers []string
	// K is the k of k-anonymity, at least 2 and at most the table size.
	K int
	// L, if not nil, adds l-diversity of Sensitive.
	L *LDiversity
	// T, if not nil, adds t-closeness of Sensitive.
	T *TCloseness
	// Suppression is the fraction of rows that may be suppressed (removed),
	// in [0, 1]. Mondrian never needs it.
	Suppression float64
	// KeepDependent releases columns that [DependentColumns] reports as
	// functionally dependent on a quasi-identifier. By default [Mondrian],
	// [Optimal] and [Verify] refuse them with an error wrapping
	// [ErrDependent], since such a column undoes the generalization.
	KeepDependent bool
}

// compiled is a Spec bound to a table.
type compiled struct {
	spec  Spec
	n     int
	qcol  []int     // column index of each QI
	kind  []Kind    // kind of each QI
	rank  [][]int32 // rank[q][row], built by buildRanks
	codes [][]int32 // input codes of each QI column
	label [][]string
	num   [][]float64 // Numeric: value of each rank
	nval  []int       // number of ranks
	tree  []*rankTree // Hierarchical
	// code → rank, per QI, indexed by column code
	codeRank [][]int32
	scol     int     // sensitive column or -1
	sens     []int32 // dense sensitive code per row
	nsens    int
	model    *checker
}

// rankTree maps a hierarchy onto the ranks of the leaves present.
type rankTree struct {
	h      *Hierarchy
	nodeAt [][]int32 // nodeAt[l][rank] = node id at level l
	first  []int32   // node id → first rank
	last   []int32   // node id → last rank
	label  []string  // node id → label
}

func (rt *rankTree) lca(a, b int32) int32 {
	for l := range rt.nodeAt {
		if rt.nodeAt[l][a] == rt.nodeAt[l][b] {
			return rt.nodeAt[l][a]
		}
	}
	return rt.nodeAt[len(rt.nodeAt)-1][a]
}

func (rt *rankTree) levelOf(a, b int32) int {
	for l := range rt.nodeAt {
		if rt.nodeAt[l][a] == rt.nodeAt[l][b] {
			return l
		}
	}
	return len(rt.nodeAt) - 1
}

func compile(t *Table, spec Spec, needHier bool) (*compiled, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil table", ErrInput)
	}
	n := t.Rows()
	if n == 0 {
		return nil, fmt.Errorf("%w: the table has no rows", ErrInput)
	}
	if len(spec.QIs) == 0 {
		return nil, fmt.Errorf("%w: no quasi-identifier", ErrParameter)
	}
	if spec.K < 2 {
		return nil, fmt.Errorf("%w: k = %d, must be at least 2", ErrParameter, spec.K)
	}
	if spec.K > n {
		return nil, fmt.Errorf("%w: k = %d is larger than the table (%d rows)", ErrParameter, spec.K, n)
	}
	if !(spec.Suppression >= 0 && spec.Suppression <= 1) {
		return nil, fmt.Errorf("%w: suppression limit %v outside [0, 1]", ErrParameter, spec.Suppression)
	}
	c := &compiled{spec: spec, n: n, scol: -1}
	roles := map[string]string{}
	claim := func(col, role string) error {
		if r, ok := roles[col]; ok {
			return fmt.Errorf("%w: column %q is both %s and %s", ErrColumn, col, r, role)
		}
		roles[col] = role
		if t.Index(col) < 0 {
			_, err := t.Column(col)
			return err
		}
		return nil
	}
	for _, id := range spec.Identifiers {
		if err := claim(id, "identifier"); err != nil {
			return nil, err
		}
	}
	if spec.Sensitive != "" {
		if err := claim(spec.Sensitive, "sensitive"); err != nil {
			return nil, err
		}
		c.scol = t.Index(spec.Sensitive)
	}
	if (spec.L != nil || spec.T != nil) && c.scol < 0 {
		return nil, fmt.Errorf("%w: l-diversity and t-closeness need a sensitive column", ErrParameter)
	}
	for _, q := range spec.QIs {
		if err := claim(q.Column, "quasi-identifier"); err != nil {
			return nil, err
		}
		j := t.Index(q.Column)
		col := t.cols[j]
		kind := q.Kind
		if needHier && q.Hierarchy == nil {
			return nil, fmt.Errorf("%w: quasi-identifier %q has no hierarchy (global recoding needs one for every QI)", ErrParameter, q.Column)
		}
		var order []int32 // rank → code
		var rt *rankTree
		var nums []float64
		switch kind {
		case Numeric:
			vals := make([]float64, len(col.Dict))
			for code, s := range col.Dict {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					row := slices.Index(col.Codes, int32(code)) + 1
					return nil, fmt.Errorf("%w: row %d, column %q: value %q is not a finite number", ErrInput, row, q.Column, s)
				}
				vals[code] = v
			}
			order = make([]int32, len(vals))
			for i := range order {
				order[i] = int32(i)
			}
			slices.SortStableFunc(order, func(a, b int32) int {
				switch {
				case vals[a] < vals[b]:
					return -1
				case vals[a] > vals[b]:
					return 1
				}
				return 0
			})
			// Equal numbers written differently ("1" and "1.0") share a
			// rank, so no cut can fall between them.
			for _, code := range order {
				if v := vals[code]; len(nums) == 0 || v != nums[len(nums)-1] {
					nums = append(nums, v)
				}
			}
		case Ordinal:
			if q.Order == nil {
				order = make([]int32, len(col.Dict))
				for i := range order {
					order[i] = int32(i)
				}
			} else {
				seen := map[string]bool{}
				for _, v := range q.Order {
					if seen[v] {
						return nil, fmt.Errorf("%w: order of %q lists %q twice", ErrParameter, q.Column, v)
					}
					seen[v] = true
					if code, ok := col.Lookup(v); ok {
						order = append(order, code)
					}
				}
				for code, s := range col.Dict {
					if !seen[s] {
						row := slices.Index(col.Codes, int32(code)) + 1
						return nil, fmt.Errorf("%w: row %d, column %q: value %q is not in the given order", ErrInput, row, q.Column, s)
					}
				}
			}
		case Hierarchical:
			if q.Hierarchy == nil {
				return nil, fmt.Errorf("%w: hierarchical quasi-identifier %q has no hierarchy", ErrParameter, q.Column)
			}
		default:
			return nil, fmt.Errorf("%w: quasi-identifier %q has no valid kind (%v)", ErrParameter, q.Column, kind)
		}
		if q.Hierarchy != nil {
			for code, s := range col.Dict {
				if _, ok := q.Hierarchy.leaf[s]; !ok {
					row := slices.Index(col.Codes, int32(code)) + 1
					return nil, fmt.Errorf("%w: row %d, column %q: value %q is not in hierarchy %s", ErrHierarchy, row, q.Column, s, q.Hierarchy.name)
				}
			}
		}
		if kind == Hierarchical {
			h := q.Hierarchy
			leaves := h.dfsOrder(func(s string) bool { _, ok := col.Lookup(s); return ok })
			order = make([]int32, len(leaves))
			for r, li := range leaves {
				order[r], _ = col.Lookup(h.rows[li][0])
			}
			rt = &rankTree{h: h, nodeAt: make([][]int32, h.height)}
			for l := 0; l < h.height; l++ {
				rt.nodeAt[l] = make([]int32, len(leaves))
				ids := map[string]int32{}
				for r, li := range leaves {
					lab := h.rows[li][l]
					id, ok := ids[lab]
					if !ok {
						id = int32(len(rt.label))
						ids[lab] = id
						rt.label = append(rt.label, lab)
						rt.first = append(rt.first, int32(r))
						rt.last = append(rt.last, int32(r))
					}
					rt.last[id] = int32(r)
					rt.nodeAt[l][r] = id
				}
			}
		}
		codeRank := make([]int32, len(col.Dict))
		var labels []string
		if kind == Numeric {
			labels = make([]string, len(nums))
			r := -1
			for i, code := range order {
				if i == 0 || nums[r] != mustNum(col.Dict[code]) {
					r++
					labels[r] = col.Dict[code]
				}
				codeRank[code] = int32(r)
			}
		} else {
			labels = make([]string, len(order))
			for r, code := range order {
				codeRank[code] = int32(r)
				labels[r] = col.Dict[code]
			}
		}
		c.qcol = append(c.qcol, j)
		c.kind = append(c.kind, kind)
		c.codes = append(c.codes, col.Codes)
		c.label = append(c.label, labels)
		c.num = append(c.num, nums)
		c.nval = append(c.nval, len(labels))
		c.tree = append(c.tree, rt)
		c.codeRank = append(c.codeRank, codeRank)
	}
	if c.scol >= 0 {
		col := t.cols[c.scol]
		c.sens = col.Codes
		c.nsens = len(col.Dict)
	}
	m, err := newChecker(spec, t, c.scol, c.sens, c.nsens)
	if err != nil {
		return nil, err
	}
	c.model = m
	return c, nil
}

// buildRanks fills c.rank, one int32 per row and QI (Mondrian's working
// copy, sorted by value order rather than by code).
func (c *compiled) buildRanks() {
	c.rank = make([][]int32, len(c.qcol))
	for q := range c.qcol {
		r := make([]int32, c.n)
		cr := c.codeRank[q]
		for i, code := range c.codes[q] {
			r[i] = cr[code]
		}
		c.rank[q] = r
	}
}

// mustNum parses a value already checked to be a finite number.
func mustNum(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}
