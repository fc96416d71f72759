package anonymize

import "fmt"

// NewTableDomain returns an empty table with the given columns whose
// dictionaries start with the values of domain[name], in that order; rows
// appended later reuse those codes. [Mondrian] and [Verify] take the value
// domain of a quasi-identifier from its column's dictionary, so a part of
// a larger table loaded this way is generalized and measured against the
// domain of the whole table: numeric ranges are normalized by the global
// minimum and maximum, ordinal values keep their global order (the order
// of domain[name] when the QI has no explicit Order), and the widest
// dimension is chosen as it would be on the whole table. With
// [MondrianOptions].Reference this lets a distributed pipeline finish
// each partition of a Mondrian tree locally with the result Mondrian gives
// on the whole table. A value listed twice, or a domain for a column not
// in names, is an error wrapping [ErrColumn].
func NewTableDomain(names []string, domain map[string][]string) (*Table, error) {
	t, err := NewTable(names)
	if err != nil {
		return nil, err
	}
	for name, vals := range domain {
		j := t.Index(name)
		if j < 0 {
			return nil, fmt.Errorf("%w: domain given for column %q, which the table does not have", ErrColumn, name)
		}
		c := t.cols[j]
		for _, v := range vals {
			if _, dup := c.index[v]; dup {
				return nil, fmt.Errorf("%w: domain of column %q lists %q twice", ErrColumn, name, v)
			}
			c.code(v)
		}
	}
	return t, nil
}
