package anonymize

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Hierarchy is a generalization hierarchy of uniform height: every value
// (leaf, level 0) has one ancestor at each level 1 … Height()-1, and the
// top level holds a single root (usually "*"). A Hierarchy is immutable
// and safe for concurrent use.
type Hierarchy struct {
	name   string
	rows   [][]string // rows[i][l] is the ancestor of leaf i at level l
	leaf   map[string]int
	height int
}

// ReadHierarchy reads a hierarchy in the ARX CSV form, one leaf per line:
// value;level1;...;root. Every line must have the same number of fields.
// name is used in error messages (a file name); sep is the field
// separator (';' when zero).
func ReadHierarchy(r io.Reader, name string, sep rune) (*Hierarchy, error) {
	return readHierarchy(r, name, sep, false)
}

// ReadTreeHierarchy reads a hierarchy in the leaf;parent;...;root form in
// which branches may have different depths (as in the Basic Mondrian
// files). Shorter lines are padded to the common height by repeating the
// leaf just above itself, so "Private;*" next to
// "Self-emp-inc;Self-employ;*" becomes "Private;Private;*".
func ReadTreeHierarchy(r io.Reader, name string, sep rune) (*Hierarchy, error) {
	return readHierarchy(r, name, sep, true)
}

func readHierarchy(r io.Reader, name string, sep rune, pad bool) (*Hierarchy, error) {
	if name == "" {
		name = "hierarchy"
	}
	if sep == 0 {
		sep = ';'
	}
	if r == nil {
		return nil, fmt.Errorf("%w: %s: nil reader", ErrHierarchy, name)
	}
	br := bufio.NewReader(r)
	skipBOM(br)
	cr := csv.NewReader(br)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var rows [][]string
	var lines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%w: %s:%d:%d: %v", ErrHierarchy, name, pe.Line, pe.Column, pe.Err)
			}
			return nil, fmt.Errorf("%w: %s: %v", ErrHierarchy, name, err)
		}
		line, _ := cr.FieldPos(0)
		row := make([]string, len(rec))
		for i, v := range rec {
			row[i] = strings.TrimSpace(v)
			if row[i] == "" {
				return nil, fmt.Errorf("%w: %s:%d: field %d is empty", ErrHierarchy, name, line, i+1)
			}
		}
		rows = append(rows, row)
		lines = append(lines, line)
	}
	if pad {
		h := 0
		for _, row := range rows {
			h = max(h, len(row))
		}
		for i, row := range rows {
			if len(row) < h {
				p := make([]string, 0, h)
				p = append(p, row[0])
				for len(p)+len(row)-1 < h {
					p = append(p, row[0])
				}
				rows[i] = append(p, row[1:]...)
			}
		}
	}
	return newHierarchy(name, rows, lines)
}

// NewHierarchy builds a hierarchy from rows of the form
// [value, level1, ..., root]; it validates it as [ReadHierarchy] does.
func NewHierarchy(name string, rows [][]string) (*Hierarchy, error) {
	lines := make([]int, len(rows))
	cp := make([][]string, len(rows))
	for i := range rows {
		lines[i] = i + 1
		cp[i] = slices.Clone(rows[i])
	}
	return newHierarchy(name, cp, lines)
}

func newHierarchy(name string, rows [][]string, lines []int) (*Hierarchy, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: %s: no values", ErrHierarchy, name)
	}
	h := len(rows[0])
	if h < 2 {
		return nil, fmt.Errorf("%w: %s:%d: a hierarchy needs at least two levels (value and root)", ErrHierarchy, name, lines[0])
	}
	hy := &Hierarchy{name: name, rows: rows, leaf: make(map[string]int, len(rows)), height: h}
	parent := make([]map[string]string, h)
	for l := range parent {
		parent[l] = map[string]string{}
	}
	root := rows[0][h-1]
	for i, row := range rows {
		if len(row) != h {
			return nil, fmt.Errorf("%w: %s:%d: %d levels, line %d has %d (heights must be uniform)", ErrHierarchy, name, lines[i], len(row), lines[0], h)
		}
		for _, v := range row {
			if v == "" {
				return nil, fmt.Errorf("%w: %s:%d: empty label", ErrHierarchy, name, lines[i])
			}
		}
		if j, dup := hy.leaf[row[0]]; dup {
			return nil, fmt.Errorf("%w: %s:%d: value %q already listed on line %d", ErrHierarchy, name, lines[i], row[0], lines[j])
		}
		hy.leaf[row[0]] = i
		if row[h-1] != root {
			return nil, fmt.Errorf("%w: %s:%d: root %q differs from root %q of line %d (a hierarchy has one root)", ErrHierarchy, name, lines[i], row[h-1], root, lines[0])
		}
		for l := 0; l < h-1; l++ {
			if p, ok := parent[l][row[l]]; ok && p != row[l+1] {
				return nil, fmt.Errorf("%w: %s:%d: %q at level %d has two parents, %q and %q", ErrHierarchy, name, lines[i], row[l], l, p, row[l+1])
			}
			parent[l][row[l]] = row[l+1]
		}
	}
	return hy, nil
}

// Name returns the name given when the hierarchy was read or built.
func (h *Hierarchy) Name() string { return h.name }

// Height returns the number of levels, counting the values (level 0) and
// the root.
func (h *Hierarchy) Height() int { return h.height }

// Len returns the number of values (leaves).
func (h *Hierarchy) Len() int { return len(h.rows) }

// Values returns the leaves in file order.
func (h *Hierarchy) Values() []string {
	out := make([]string, len(h.rows))
	for i, r := range h.rows {
		out[i] = r[0]
	}
	return out
}

// Generalize returns the ancestor of value at the given level.
func (h *Hierarchy) Generalize(value string, level int) (string, error) {
	i, ok := h.leaf[value]
	if !ok {
		return "", fmt.Errorf("%w: value %q is not in hierarchy %s", ErrHierarchy, value, h.name)
	}
	if level < 0 || level >= h.height {
		return "", fmt.Errorf("%w: level %d outside 0..%d of hierarchy %s", ErrHierarchy, level, h.height-1, h.name)
	}
	return h.rows[i][level], nil
}

// Covers reports whether label is value itself or one of its ancestors.
func (h *Hierarchy) Covers(label, value string) bool {
	i, ok := h.leaf[value]
	if !ok {
		return false
	}
	for _, a := range h.rows[i] {
		if a == label {
			return true
		}
	}
	return false
}

// dfsOrder returns the leaves (restricted to keep, when not nil) sorted so
// that every node of the tree covers a contiguous run: leaves are ordered
// by the first appearance of their ancestors from the top level down.
func (h *Hierarchy) dfsOrder(keep func(string) bool) []int {
	first := make([]map[string]int, h.height)
	for l := range first {
		first[l] = map[string]int{}
	}
	var idx []int
	for i, row := range h.rows {
		for l, v := range row {
			if _, ok := first[l][v]; !ok {
				first[l][v] = len(first[l])
			}
		}
		if keep == nil || keep(row[0]) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		for l := h.height - 2; l >= 0; l-- {
			fa, fb := first[l][h.rows[a][l]], first[l][h.rows[b][l]]
			if fa != fb {
				return fa - fb
			}
		}
		return 0
	})
	return idx
}
