package kanon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Rows travel through the pipeline in batches, each one element with a
// compact binary coder, not one element per row: a runner's cost per
// element (a call through reflection, a coder, an entry in its element
// manager) then falls on thousands of rows at once, and the bytes moved
// between stages are the row's values, not a structure of Go strings.

// batchRows is the number of rows the reader gathers into one Batch
// (a variable so that tests can make batches small).
var batchRows = 4096

// Batch holds rows of output columns (the input columns minus Drop, in
// input order). Data holds, row after row and column after column, each
// value as its length (uvarint) and bytes. Pos, when not nil, holds each
// row's place in the input (pos(file, line)); only the domain needs it.
type Batch struct {
	N    int
	Pos  []int64
	Data []byte
}

// appendValue appends one value to b.Data.
func (b *Batch) appendValue(v string) {
	b.Data = binary.AppendUvarint(b.Data, uint64(len(v)))
	b.Data = append(b.Data, v...)
}

// rowReader walks the rows of a Batch; Fields holds the values of the
// current row, valid until the next call of next, and Raw its encoding.
type rowReader struct {
	data   []byte
	cols   int
	Fields [][]byte
	Raw    []byte
}

func newRowReader(b *Batch, cols int) *rowReader {
	return &rowReader{data: b.Data, cols: cols, Fields: make([][]byte, cols)}
}

// next decodes the next row; it returns false at the end of the data, an
// error when the data ends inside a row.
func (r *rowReader) next() (bool, error) {
	if len(r.data) == 0 {
		return false, nil
	}
	start := r.data
	for j := range r.cols {
		n, w := binary.Uvarint(r.data)
		if w <= 0 || n > uint64(len(r.data)-w) {
			return false, errBadBatch
		}
		r.Fields[j] = r.data[w : w+int(n)]
		r.data = r.data[w+int(n):]
	}
	r.Raw = start[:len(start)-len(r.data)]
	return true, nil
}

var errBadBatch = errors.New("kanon: internal: malformed row batch")

// The coders below write uvarints; their decoders refuse truncated or
// inconsistent input with an error, never a panic.

func encBatch(b *Batch) ([]byte, error) {
	out := make([]byte, 0, len(b.Data)+8*len(b.Pos)+16)
	out = binary.AppendUvarint(out, uint64(b.N))
	out = binary.AppendUvarint(out, uint64(len(b.Pos)))
	var prev int64
	for _, p := range b.Pos { // consecutive lines: deltas of one byte
		out = binary.AppendVarint(out, p-prev)
		prev = p
	}
	return append(out, b.Data...), nil
}

func decBatch(buf []byte) (*Batch, error) {
	d := decoder{buf: buf}
	b := &Batch{N: d.count(1)}
	if np := d.count(1); np > 0 {
		if np != b.N {
			return nil, fmt.Errorf("%w: %d positions for %d rows", errBadBatch, np, b.N)
		}
		b.Pos = make([]int64, np)
		var prev int64
		for i := range b.Pos {
			prev += d.varint()
			b.Pos[i] = prev
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	b.Data = d.buf
	return b, nil
}

// KeyBatch holds the quasi-identifier ranks of a batch of rows: Ranks[i*D+q]
// is the rank of row i on QI q; Sens, when not nil, each row's sensitive
// index. The levels of the tree read only these.
type KeyBatch struct {
	N, D  int
	Ranks []int32
	Sens  []int32
}

func encKeyBatch(b *KeyBatch) ([]byte, error) {
	out := make([]byte, 0, 2*len(b.Ranks)+2*len(b.Sens)+16)
	out = binary.AppendUvarint(out, uint64(b.N))
	out = binary.AppendUvarint(out, uint64(b.D))
	hasSens := uint64(0)
	if b.Sens != nil {
		hasSens = 1
	}
	out = binary.AppendUvarint(out, hasSens)
	for _, r := range b.Ranks {
		out = binary.AppendUvarint(out, uint64(uint32(r)))
	}
	for _, s := range b.Sens {
		out = binary.AppendUvarint(out, uint64(uint32(s)))
	}
	return out, nil
}

func decKeyBatch(buf []byte) (*KeyBatch, error) {
	d := decoder{buf: buf}
	b := &KeyBatch{N: d.count(1), D: d.count(0)}
	hasSens := d.uvarint()
	if d.err == nil && (hasSens > 1 || (b.D > 0 && b.N > len(d.buf)/b.D)) {
		d.err = errBadBatch
	}
	if d.err != nil {
		return nil, d.err
	}
	b.Ranks = make([]int32, b.N*b.D)
	for i := range b.Ranks {
		b.Ranks[i] = d.int32()
	}
	if hasSens == 1 {
		b.Sens = make([]int32, b.N)
		for i := range b.Sens {
			b.Sens[i] = d.int32()
		}
	}
	if d.err == nil && len(d.buf) > 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errBadBatch, len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	return b, nil
}

func encHistAcc(a *histAcc) ([]byte, error) {
	out := make([]byte, 0, 8*(len(a.C)+len(a.S))+16)
	out = binary.AppendUvarint(out, uint64(a.N))
	for _, m := range []map[uint64]int64{a.C, a.S} {
		out = binary.AppendUvarint(out, uint64(len(m)))
		for k, v := range m {
			out = binary.AppendUvarint(out, k)
			out = binary.AppendUvarint(out, uint64(v))
		}
	}
	return out, nil
}

func decHistAcc(buf []byte) (*histAcc, error) {
	d := decoder{buf: buf}
	a := &histAcc{N: int64(d.count(0))}
	for _, m := range []*map[uint64]int64{&a.C, &a.S} {
		n := d.count(2)
		*m = make(map[uint64]int64, n)
		for range n {
			k := d.uvarint()
			if _, dup := (*m)[k]; dup && d.err == nil {
				d.err = fmt.Errorf("%w: key %d twice", errBadBatch, k)
			}
			(*m)[k] = int64(d.count(0))
		}
	}
	if d.err == nil && len(d.buf) > 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errBadBatch, len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	return a, nil
}

// decoder reads uvarints from buf, keeping the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, w := binary.Uvarint(d.buf)
	if w <= 0 {
		d.err = errBadBatch
		return 0
	}
	d.buf = d.buf[w:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, w := binary.Varint(d.buf)
	if w <= 0 {
		d.err = errBadBatch
		return 0
	}
	d.buf = d.buf[w:]
	return v
}

// count reads a non-negative count; with per > 0 it must not exceed the
// bytes left divided by per (each counted item takes at least per bytes),
// which bounds allocations by the input's length.
func (d *decoder) count(per int) int {
	v := d.uvarint()
	if d.err != nil {
		return 0
	}
	if v > 1<<62 || (per > 0 && v > uint64(len(d.buf)/per)) {
		d.err = errBadBatch
		return 0
	}
	return int(v)
}

func (d *decoder) int32() int32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.err = errBadBatch
	}
	return int32(uint32(v))
}

// batchFn gathers input rows into Batches of the output columns, so that
// from here on the runner handles a few thousand rows as one element.
type batchFn struct {
	Out  []int // input column of each output column
	Rows int   // rows per batch

	cur *Batch
}

func (f *batchFn) ProcessElement(l Line, emit func(*Batch)) {
	if f.cur == nil {
		f.cur = &Batch{Pos: make([]int64, 0, f.Rows), Data: make([]byte, 0, 64*f.Rows)}
	}
	b := f.cur
	for _, j := range f.Out {
		b.appendValue(l.Fields[j])
	}
	b.Pos = append(b.Pos, pos(l.File, l.Line))
	b.N++
	if b.N >= f.Rows {
		emit(b)
		f.cur = nil
	}
}

func (f *batchFn) FinishBundle(emit func(*Batch)) {
	if f.cur != nil && f.cur.N > 0 {
		emit(f.cur)
	}
	f.cur = nil
}

// splitter gathers the rows of one batch into one Batch per partition.
type splitter struct {
	parts map[*node]*Batch
	order []*node
}

func (s *splitter) add(n *node, raw []byte) {
	if s.parts == nil {
		s.parts = map[*node]*Batch{}
	}
	b, ok := s.parts[n]
	if !ok {
		b = &Batch{}
		s.parts[n] = b
		s.order = append(s.order, n)
	}
	b.Data = append(b.Data, raw...)
	b.N++
}

// emit sends every partition's rows, in order of first row.
func (s *splitter) emit(emit func(string, *Batch)) {
	for _, n := range s.order {
		emit(n.id, s.parts[n])
	}
	s.parts, s.order = nil, slices.Delete(s.order, 0, len(s.order))
}

// csvRows counts the rows of CSV text written by encoding/csv without a
// final line break: the line breaks outside quoted fields, plus one.
func csvRows(text string) int64 {
	n := int64(1)
	quoted := false
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '"':
			quoted = !quoted
		case '\n':
			if !quoted {
				n++
			}
		}
	}
	return n
}
