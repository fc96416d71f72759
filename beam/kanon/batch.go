package kanon

import (
	"encoding/binary"
	"errors"
	"fmt"
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
// input order), each column coded by a dictionary of the batch: Dict[j]
// lists the distinct values of column j in order of first appearance,
// Codes[i*Cols+j] is row i's index into it. A value repeated down the
// batch is sent once, and per-value work (ranking, parsing) is done once
// per batch. Pos, when not nil, holds each row's place in the input
// (pos(file, line)); only the domain needs it.
type Batch struct {
	N, Cols int
	Pos     []int64
	Dict    [][]string
	Codes   []uint32
}

// check verifies that the batch is consistent, so that readers may index
// it without further tests.
func (b *Batch) check() error {
	if len(b.Dict) != b.Cols || len(b.Codes) != b.N*b.Cols || (b.Pos != nil && len(b.Pos) != b.N) {
		return fmt.Errorf("%w: %d rows, %d columns, %d dictionaries, %d codes, %d positions", errBadBatch, b.N, b.Cols, len(b.Dict), len(b.Codes), len(b.Pos))
	}
	for i, c := range b.Codes {
		if int(c) >= len(b.Dict[i%b.Cols]) {
			return fmt.Errorf("%w: code %d of column %d out of its dictionary", errBadBatch, c, i%b.Cols)
		}
	}
	return nil
}

// batchBuilder gathers rows into a Batch.
type batchBuilder struct {
	b   *Batch
	idx []map[string]uint32
}

func newBatchBuilder(cols, rows int) *batchBuilder {
	bb := &batchBuilder{b: &Batch{Cols: cols, Dict: make([][]string, cols), Codes: make([]uint32, 0, rows*cols)},
		idx: make([]map[string]uint32, cols)}
	for j := range bb.idx {
		bb.idx[j] = map[string]uint32{}
	}
	return bb
}

// add appends a row given by the values of its columns.
func (bb *batchBuilder) add(vals func(j int) string) {
	b := bb.b
	for j := range b.Cols {
		v := vals(j)
		k, ok := bb.idx[j][v]
		if !ok {
			k = uint32(len(b.Dict[j]))
			bb.idx[j][v] = k
			b.Dict[j] = append(b.Dict[j], v)
		}
		b.Codes = append(b.Codes, k)
	}
	b.N++
}

var errBadBatch = errors.New("kanon: internal: malformed row batch")

// The coders below write uvarints; their decoders refuse truncated or
// inconsistent input with an error, never a panic.

func encBatch(b *Batch) ([]byte, error) {
	size := 16 + 2*len(b.Pos) + 2*len(b.Codes)
	for _, d := range b.Dict {
		for _, v := range d {
			size += len(v) + 1
		}
	}
	out := make([]byte, 0, size)
	out = binary.AppendUvarint(out, uint64(b.N))
	out = binary.AppendUvarint(out, uint64(b.Cols))
	out = binary.AppendUvarint(out, uint64(len(b.Pos)))
	var prev int64
	for _, p := range b.Pos { // consecutive lines: deltas of one byte
		out = binary.AppendVarint(out, p-prev)
		prev = p
	}
	for _, d := range b.Dict {
		out = binary.AppendUvarint(out, uint64(len(d)))
		for _, v := range d {
			out = binary.AppendUvarint(out, uint64(len(v)))
			out = append(out, v...)
		}
	}
	for _, c := range b.Codes {
		out = binary.AppendUvarint(out, uint64(c))
	}
	return out, nil
}

func decBatch(buf []byte) (*Batch, error) {
	d := decoder{buf: buf}
	b := &Batch{N: d.count(1), Cols: d.count(1)}
	if d.err == nil && b.Cols > 0 && b.N > len(d.buf)/b.Cols {
		d.err = errBadBatch
	}
	if np := d.count(1); np > 0 {
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
	b.Dict = make([][]string, b.Cols)
	for j := range b.Dict {
		n := d.count(1)
		if d.err != nil {
			return nil, d.err
		}
		b.Dict[j] = make([]string, n)
		for k := range n {
			b.Dict[j][k] = d.str()
		}
	}
	b.Codes = make([]uint32, b.N*b.Cols)
	for i := range b.Codes {
		b.Codes[i] = uint32(d.int32())
	}
	if d.err == nil && len(d.buf) > 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errBadBatch, len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
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

func (d *decoder) str() string {
	n := d.count(0)
	if d.err == nil && n > len(d.buf) {
		d.err = errBadBatch
	}
	if d.err != nil {
		return ""
	}
	v := string(d.buf[:n])
	d.buf = d.buf[n:]
	return v
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

	cur *batchBuilder
}

func (f *batchFn) ProcessElement(l Line, emit func(*Batch)) {
	if f.cur == nil {
		f.cur = newBatchBuilder(len(f.Out), f.Rows)
		f.cur.b.Pos = make([]int64, 0, f.Rows)
	}
	b := f.cur.b
	f.cur.add(func(j int) string { return l.Fields[f.Out[j]] })
	b.Pos = append(b.Pos, pos(l.File, l.Line))
	if b.N >= f.Rows {
		emit(b)
		f.cur = nil
	}
}

func (f *batchFn) FinishBundle(emit func(*Batch)) {
	if f.cur != nil && f.cur.b.N > 0 {
		emit(f.cur.b)
	}
	f.cur = nil
}

// splitter gathers the rows of one batch into one Batch per partition,
// each with the dictionary entries its rows use.
type splitter struct {
	src   *Batch
	parts map[*node]*subBatch
	order []*node
}

type subBatch struct {
	b     *Batch
	remap [][]int32 // code in src → code in b, or -1
}

func (s *splitter) add(n *node, i int) {
	if s.parts == nil {
		s.parts = map[*node]*subBatch{}
	}
	sb, ok := s.parts[n]
	if !ok {
		src := s.src
		sb = &subBatch{b: &Batch{Cols: src.Cols, Dict: make([][]string, src.Cols)}, remap: make([][]int32, src.Cols)}
		for j := range sb.remap {
			sb.remap[j] = make([]int32, len(src.Dict[j]))
			for k := range sb.remap[j] {
				sb.remap[j][k] = -1
			}
		}
		s.parts[n] = sb
		s.order = append(s.order, n)
	}
	b := sb.b
	for j, c := range s.src.Codes[i*b.Cols : (i+1)*b.Cols] {
		k := sb.remap[j][c]
		if k < 0 {
			k = int32(len(b.Dict[j]))
			sb.remap[j][c] = k
			b.Dict[j] = append(b.Dict[j], s.src.Dict[j][c])
		}
		b.Codes = append(b.Codes, uint32(k))
	}
	b.N++
}

// emit sends every partition's rows, in order of first row.
func (s *splitter) emit(emit func(string, *Batch)) {
	for _, n := range s.order {
		emit(n.id, s.parts[n].b)
	}
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
