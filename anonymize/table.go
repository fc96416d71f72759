package anonymize

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Column is one dictionary-encoded column of a [Table]: row i holds the
// value Dict[Codes[i]]. Codes are assigned in order of first appearance.
// Dict and Codes are shared between tables derived from one another and
// must not be modified.
type Column struct {
	Name  string
	Dict  []string
	Codes []int32
	index map[string]int32
}

// code returns the code of value v, appending v to the dictionary when it
// is new.
func (c *Column) code(v string) int32 {
	if k, ok := c.index[v]; ok {
		return k
	}
	k := int32(len(c.Dict))
	c.Dict = append(c.Dict, v)
	c.index[v] = k
	return k
}

// Lookup returns the code of value v and whether the column holds it.
func (c *Column) Lookup(v string) (int32, bool) {
	k, ok := c.index[v]
	return k, ok
}

// Value returns the value of row i, or an error wrapping [ErrIndex] when
// i is not a row of the column. c must not be nil.
func (c *Column) Value(i int) (string, error) {
	if i < 0 || i >= len(c.Codes) {
		return "", fmt.Errorf("%w: row %d of column %q (it has %d rows)", ErrIndex, i, c.Name, len(c.Codes))
	}
	return c.Dict[c.Codes[i]], nil
}

// Table is a columnar, dictionary-encoded table: every column stores one
// int32 code per row, so a table of r rows and c columns takes about
// 4·r·c bytes plus its dictionaries. A Table is safe for concurrent reads.
type Table struct {
	cols    []*Column
	byName  map[string]int
	rows    int
	dropped int
}

// NewTable returns an empty table with the given column names.
func NewTable(names []string) (*Table, error) {
	t := &Table{byName: make(map[string]int, len(names))}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("%w: column %d has an empty name", ErrColumn, i+1)
		}
		if _, dup := t.byName[n]; dup {
			return nil, fmt.Errorf("%w: column %q appears twice", ErrColumn, n)
		}
		t.byName[n] = i
		t.cols = append(t.cols, &Column{Name: n, index: map[string]int32{}})
	}
	return t, nil
}

// AppendRow appends one row; it must have one value per column.
func (t *Table) AppendRow(values []string) error {
	if len(values) != len(t.cols) {
		return fmt.Errorf("%w: row %d has %d values, want %d", ErrInput, t.rows+1, len(values), len(t.cols))
	}
	for j, v := range values {
		c := t.cols[j]
		c.Codes = append(c.Codes, c.code(v))
	}
	t.rows++
	return nil
}

// Rows returns the number of rows.
func (t *Table) Rows() int { return t.rows }

// DroppedRows returns how many input rows [ReadCSV] dropped because they
// held the missing-value token.
func (t *Table) DroppedRows() int { return t.dropped }

// Names returns the column names in order.
func (t *Table) Names() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.Name
	}
	return out
}

// NumColumns returns the number of columns.
func (t *Table) NumColumns() int { return len(t.cols) }

// ColumnAt returns column j (0-based), or an error wrapping [ErrIndex]
// when the table has no column j. t must not be nil.
func (t *Table) ColumnAt(j int) (*Column, error) {
	if j < 0 || j >= len(t.cols) {
		return nil, fmt.Errorf("%w: column %d (the table has %d columns)", ErrIndex, j, len(t.cols))
	}
	return t.cols[j], nil
}

// Column returns the column with the given name.
func (t *Table) Column(name string) (*Column, error) {
	j, ok := t.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: no column %q (have %s)", ErrColumn, name, strings.Join(t.Names(), ", "))
	}
	return t.cols[j], nil
}

// Index returns the position of the named column, or -1.
func (t *Table) Index(name string) int {
	j, ok := t.byName[name]
	if !ok {
		return -1
	}
	return j
}

// Value returns the value at row i, column j (both 0-based), or an error
// wrapping [ErrIndex] when the table has no such cell. t must not be nil.
func (t *Table) Value(i, j int) (string, error) {
	c, err := t.ColumnAt(j)
	if err != nil {
		return "", err
	}
	return c.Value(i)
}

// CSVOptions configures [ReadCSV]. The zero value reads a comma-separated
// file whose first line is a header, keeping every row.
type CSVOptions struct {
	// Name names the input in error messages (a file name). Defaults to
	// "input".
	Name string
	// Delimiter separates fields. Defaults to ','.
	Delimiter rune
	// NoHeader says the first line is data. Column names then come from
	// Columns, or are "c1", "c2", ... when Columns is empty.
	NoHeader bool
	// Columns names the columns of a file without header. With a header it
	// must be empty.
	Columns []string
	// Missing is the token that marks a missing value (such as "?"). Empty
	// means no token.
	Missing string
	// DropMissing drops rows that hold the Missing token in any column;
	// otherwise the token is kept as an ordinary value.
	DropMissing bool
	// Progress, if not nil, is called every ProgressEvery rows read.
	Progress func(rows int)
	// ProgressEvery defaults to 1,000,000.
	ProgressEvery int
}

// ReadCSV reads a delimited text table from r in one streaming pass: rows
// are decoded one at a time and appended to the columns' code arrays, so
// memory grows with the encoded table, not with the text. Fields are
// trimmed of surrounding spaces; empty lines are skipped. A row with the
// wrong number of fields is an error naming the input and its line. A
// UTF-8 byte order mark at the start of the input is skipped. A nil r is
// an error wrapping [ErrInput]; a panic of r.Read is raised again in the
// caller's goroutine, where it can be recovered.
func ReadCSV(r io.Reader, opt CSVOptions) (*Table, error) {
	name := opt.Name
	if name == "" {
		name = "input"
	}
	if r == nil {
		return nil, fmt.Errorf("%w: %s: nil reader", ErrInput, name)
	}
	delim := opt.Delimiter
	if delim == 0 {
		delim = ','
	}
	if delim == '"' || delim == '\r' || delim == '\n' {
		return nil, fmt.Errorf("%w: %s: invalid delimiter %q", ErrInput, name, delim)
	}
	if !opt.NoHeader && len(opt.Columns) > 0 {
		return nil, fmt.Errorf("%w: %s: column names given for a file with a header", ErrInput, name)
	}
	every := opt.ProgressEvery
	if every <= 0 {
		every = 1_000_000
	}
	var t *Table
	if len(opt.Columns) > 0 {
		var err error
		if t, err = NewTable(opt.Columns); err != nil {
			return nil, err
		}
	}
	first := true
	missing := []byte(opt.Missing)
	handle := func(rec [][]byte, line int) error {
		for i := range rec {
			rec[i] = bytes.TrimSpace(rec[i])
		}
		if first {
			first = false
			if t == nil {
				names := make([]string, len(rec))
				for i := range rec {
					if opt.NoHeader {
						names[i] = fmt.Sprintf("c%d", i+1)
					} else {
						names[i] = string(rec[i])
					}
				}
				var err error
				if t, err = NewTable(names); err != nil {
					return fmt.Errorf("%w (header of %s:%d)", err, name, line)
				}
				if !opt.NoHeader {
					return nil
				}
			}
		}
		if len(rec) != len(t.cols) {
			return fmt.Errorf("%w: %s:%d: row has %d fields, want %d", ErrInput, name, line, len(rec), len(t.cols))
		}
		if len(missing) > 0 && opt.DropMissing {
			for _, f := range rec {
				if bytes.Equal(f, missing) {
					t.dropped++
					return nil
				}
			}
		}
		for j, f := range rec {
			c := t.cols[j]
			k, ok := c.index[string(f)]
			if !ok {
				k = c.code(string(f))
			}
			c.Codes = append(c.Codes, k)
		}
		t.rows++
		if opt.Progress != nil && t.rows%every == 0 {
			opt.Progress(t.rows)
		}
		return nil
	}
	if delim < utf8.RuneSelf {
		// Splitting runs in its own goroutine, dictionary encoding here.
		done := make(chan struct{})
		defer close(done)
		batches, free := scanBatches(newCSVScanner(r, byte(delim)), done)
		for b := range batches {
			if b.panicked != nil {
				panic(b.panicked)
			}
			if err := b.each(handle); err != nil {
				return nil, err
			}
			if b.err != nil {
				var ce *errCSV
				if errors.As(b.err, &ce) {
					return nil, fmt.Errorf("%w: %s:%v", ErrInput, name, ce)
				}
				return nil, fmt.Errorf("%w: %s: %v", ErrInput, name, b.err)
			}
			select {
			case free <- b:
			default:
			}
		}
	} else {
		br := bufio.NewReaderSize(r, 1<<16)
		skipBOM(br)
		cr := csv.NewReader(br)
		cr.Comma = delim
		cr.TrimLeadingSpace = true
		cr.FieldsPerRecord = -1
		var fields [][]byte
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					return nil, fmt.Errorf("%w: %s:%d:%d: %v", ErrInput, name, pe.Line, pe.Column, pe.Err)
				}
				return nil, fmt.Errorf("%w: %s: %v", ErrInput, name, err)
			}
			line, _ := cr.FieldPos(0)
			fields = fields[:0]
			for _, f := range rec {
				fields = append(fields, []byte(f))
			}
			if err := handle(fields, line); err != nil {
				return nil, err
			}
		}
	}
	if t == nil {
		return nil, fmt.Errorf("%w: %s: no rows", ErrInput, name)
	}
	return t, nil
}

// utf8BOM is the UTF-8 encoding of U+FEFF, which some editors write at the
// start of a text file.
const utf8BOM = "\xef\xbb\xbf"

// skipBOM discards a UTF-8 byte order mark at the start of br.
func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		br.Discard(len(utf8BOM))
	}
}

// WriteCSV writes the table with a header line, separating fields with
// delim (',' when zero). Fields holding the delimiter, a quote, a line
// break or leading white space are quoted (RFC 4180). Each dictionary
// value is encoded once, so writing costs one copy per cell.
func (t *Table) WriteCSV(w io.Writer, delim rune) error {
	if w == nil {
		return fmt.Errorf("%w: nil writer", ErrInput)
	}
	if delim == 0 {
		delim = ','
	}
	if delim == '"' || delim == '\r' || delim == '\n' || !utf8.ValidRune(delim) {
		return fmt.Errorf("%w: invalid delimiter %q", ErrInput, delim)
	}
	d := string(delim)
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := make([][][]byte, len(t.cols))
	for j, c := range t.cols {
		if j > 0 {
			bw.WriteString(d)
		}
		bw.Write(csvField(c.Name, d))
		enc[j] = make([][]byte, len(c.Dict))
		for k, v := range c.Dict {
			enc[j][k] = csvField(v, d)
		}
	}
	bw.WriteByte('\n')
	for i := 0; i < t.rows; i++ {
		for j, c := range t.cols {
			if j > 0 {
				bw.WriteString(d)
			}
			bw.Write(enc[j][c.Codes[i]])
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// csvField quotes v when a reader would otherwise split or trim it.
func csvField(v, delim string) []byte {
	need := v != "" && (strings.ContainsAny(v, "\"\r\n") || strings.Contains(v, delim) ||
		strings.TrimSpace(v) != v || v == `\.`)
	if !need {
		return []byte(v)
	}
	return []byte(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
}
