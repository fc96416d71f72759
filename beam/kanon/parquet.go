package kanon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet input and output (Apache Parquet format specification,
// https://parquet.apache.org/docs/file-format/) through
// github.com/parquet-go/parquet-go. A table is a flat Parquet schema: one
// top-level column per table column, each of a string, integer, float,
// double or boolean type, required or optional. Values are read as the
// strings the CSV reader would give (integers in decimal, floats in the
// shortest form that parses back to the same number), so that a table
// gives the same release from CSV and from Parquet. A null is the
// missing value: with Config.Missing set it reads as that token (and its
// row is dropped under DropMissing); without it, it is an error naming
// the file, the row and the column. The output is written as required
// string columns, since generalized values are labels such as "[30..39]".

// Formats of the input and output files.
const (
	FormatCSV     = "csv"
	FormatParquet = "parquet"
)

// FormatOf returns the format named by the extension of a file name or
// glob: parquet for .parquet, .parq and .pq, csv otherwise.
func FormatOf(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".parquet", ".parq", ".pq":
		return FormatParquet
	}
	return FormatCSV
}

// parquetFile is an open Parquet file with the decoder of each column.
type parquetFile struct {
	name   string
	file   *parquet.File
	cols   []pqColumn
	closer io.Closer
}

// pqColumn decodes one top-level column.
type pqColumn struct {
	name   string
	format func(parquet.Value) string
}

// openParquet opens a Parquet file on any Beam filesystem. Local files are
// read in place; files on a filesystem without random access (gs://,
// s3://) are read into memory first. A file the decoder cannot read, even
// one that makes the decoder panic, is an error naming the file.
func openParquet(ctx context.Context, name string) (pf *parquetFile, err error) {
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("kanon: %s: %w", name, err)
	}
	rc, err := fs.OpenRead(ctx, name)
	if err != nil {
		fs.Close()
		return nil, fmt.Errorf("kanon: %s: %w", name, err)
	}
	file := &fileReader{ReadCloser: rc, fs: fs} // closes both
	var ra io.ReaderAt
	var size int64
	if r, ok := rc.(io.ReaderAt); ok {
		ra = r
		size, err = fs.Size(ctx, name)
	} else {
		var b []byte
		b, err = io.ReadAll(rc)
		ra, size = bytes.NewReader(b), int64(len(b))
	}
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("kanon: %s: %w", name, err)
	}
	pf, err = decodeParquet(name, ra, size)
	if err != nil {
		file.Close()
		return nil, err
	}
	pf.closer = file
	return pf, nil
}

// decodeParquet reads the footer and the schema of a Parquet file.
func decodeParquet(name string, ra io.ReaderAt, size int64) (pf *parquetFile, err error) {
	defer recoverMalformed(name, &err)
	f, err := parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.FileReadMode(parquet.ReadModeSync))
	if err != nil {
		return nil, fmt.Errorf("kanon: invalid input: %s: not a readable Parquet file: %w", name, err)
	}
	cols, err := parquetColumns(name, f.Schema())
	if err != nil {
		return nil, err
	}
	if err := checkPages(name, ra, size, f.Metadata()); err != nil {
		return nil, err
	}
	return &parquetFile{name: name, file: f, cols: cols}, nil
}

// maxPage bounds the decompressed size of one page; larger pages are
// refused as malformed, as is a page whose compressed size runs past its
// column chunk.
const maxPage = 1 << 30

// checkPages walks the page headers of every column chunk and checks
// their sizes against the chunk and the file before the decoder reads a
// page: the decoder allocates the sizes a page header claims, so a
// corrupted header would otherwise cost gigabytes before the short read
// is noticed.
func checkPages(name string, ra io.ReaderAt, size int64, md *format.FileMetaData) error {
	for g, rg := range md.RowGroups {
		for c, cc := range rg.Columns {
			m := &cc.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			end := start + m.TotalCompressedSize
			if start < 4 || m.TotalCompressedSize < 0 || end > size || end < start {
				return fmt.Errorf("kanon: invalid input: %s: malformed Parquet file: row group %d, column %d spans bytes %d to %d of %d", name, g, c, start, end, size)
			}
			if err := checkChunkPages(ra, start, end); err != nil {
				return fmt.Errorf("kanon: invalid input: %s: malformed Parquet file: row group %d, column %d: %w", name, g, c, err)
			}
		}
	}
	return nil
}

// checkChunkPages checks the page headers between start and end.
func checkChunkPages(ra io.ReaderAt, start, end int64) error {
	for pos := start; pos < end; {
		h, n, err := readPageHeader(ra, pos, end)
		if err != nil {
			return fmt.Errorf("page header at byte %d: %w", pos, err)
		}
		data := pos + n
		if h.CompressedPageSize < 0 || data+int64(h.CompressedPageSize) > end {
			return fmt.Errorf("page at byte %d claims %d bytes, past the chunk's end at %d", pos, h.CompressedPageSize, end)
		}
		if h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPage {
			return fmt.Errorf("page at byte %d claims %d bytes uncompressed", pos, h.UncompressedPageSize)
		}
		pos = data + int64(h.CompressedPageSize)
	}
	return nil
}

// maxPageHeader bounds the size of a page header (statistics included).
const maxPageHeader = 16 << 20

// readPageHeader decodes the page header at pos from a bounded window of
// bytes (64 KiB, grown up to maxPageHeader), so that a length inside a
// corrupted header cannot make the decoder allocate more than the window.
// It returns the header and its length in bytes.
func readPageHeader(ra io.ReaderAt, pos, end int64) (format.PageHeader, int64, error) {
	for window := int64(64 << 10); ; window *= 16 {
		w := min(window, end-pos)
		buf := make([]byte, w)
		if n, err := ra.ReadAt(buf, pos); int64(n) < w {
			return format.PageHeader{}, 0, err
		}
		var h format.PageHeader
		proto := thrift.CompactProtocol{}
		r := proto.NewReaderFromBytes(buf)
		err := thrift.NewDecoder(r).Decode(&h)
		if err == nil {
			if br, ok := r.(interface{ BytesRead() int }); ok {
				return h, int64(br.BytesRead()), nil
			}
			return h, 0, fmt.Errorf("the thrift reader does not count bytes")
		}
		if w == end-pos || window >= maxPageHeader {
			return h, 0, err
		}
	}
}

// recoverMalformed turns a panic of the decoder on a malformed file into
// an error.
func recoverMalformed(name string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("kanon: invalid input: %s: malformed Parquet file (%v)", name, r)
	}
}

// Close closes the underlying file.
func (pf *parquetFile) Close() error {
	if pf.closer == nil {
		return nil
	}
	return pf.closer.Close()
}

// names returns the column names in file order.
func (pf *parquetFile) names() []string {
	out := make([]string, len(pf.cols))
	for i, c := range pf.cols {
		out[i] = c.name
	}
	return out
}

// parquetColumns checks that the schema is flat and of readable types and
// returns a decoder per column, in file order.
func parquetColumns(name string, s *parquet.Schema) ([]pqColumn, error) {
	fields := s.Fields()
	if len(fields) == 0 {
		return nil, fmt.Errorf("kanon: invalid input: %s: the Parquet schema has no columns", name)
	}
	cols := make([]pqColumn, len(fields))
	for i, f := range fields {
		if !f.Leaf() || f.Repeated() {
			return nil, fmt.Errorf("kanon: invalid input: %s: column %q is nested or repeated; a table needs flat columns", name, f.Name())
		}
		dec, err := valueFormat(f.Type())
		if err != nil {
			return nil, fmt.Errorf("kanon: invalid input: %s: column %q: %w", name, f.Name(), err)
		}
		cols[i] = pqColumn{name: f.Name(), format: dec}
	}
	return cols, nil
}

// valueFormat returns the function printing a value of type t as the CSV
// reader would read it, or an error for a type a table cannot hold.
func valueFormat(t parquet.Type) (func(parquet.Value) string, error) {
	unsigned := false
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.StringType, *format.EnumType, *format.JsonType:
		case *format.IntType:
			unsigned = !v.IsSigned
		default:
			return nil, fmt.Errorf("unsupported Parquet type %s (%s): want strings, integers, floats, doubles or booleans", t.Kind(), lt)
		}
	} else if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json, deprecated.Int8, deprecated.Int16, deprecated.Int32, deprecated.Int64:
		case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
			unsigned = true
		default:
			return nil, fmt.Errorf("unsupported Parquet type %s (converted type %d): want strings, integers, floats, doubles or booleans", t.Kind(), *ct)
		}
	}
	switch t.Kind() {
	case parquet.Boolean:
		return func(v parquet.Value) string { return strconv.FormatBool(v.Boolean()) }, nil
	case parquet.Int32:
		if unsigned {
			return func(v parquet.Value) string { return strconv.FormatUint(uint64(v.Uint32()), 10) }, nil
		}
		return func(v parquet.Value) string { return strconv.FormatInt(int64(v.Int32()), 10) }, nil
	case parquet.Int64:
		if unsigned {
			return func(v parquet.Value) string { return strconv.FormatUint(v.Uint64(), 10) }, nil
		}
		return func(v parquet.Value) string { return strconv.FormatInt(v.Int64(), 10) }, nil
	case parquet.Float:
		return func(v parquet.Value) string { return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32) }, nil
	case parquet.Double:
		return func(v parquet.Value) string { return strconv.FormatFloat(v.Double(), 'g', -1, 64) }, nil
	case parquet.ByteArray:
		return func(v parquet.Value) string { return strings.TrimSpace(string(v.ByteArray())) }, nil
	}
	return nil, fmt.Errorf("unsupported Parquet type %s: want strings, integers, floats, doubles or booleans", t.Kind())
}

// ParquetColumns returns the column names of a Parquet file, in file order.
func ParquetColumns(ctx context.Context, file string) ([]string, error) {
	pf, err := openParquet(ctx, file)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	return pf.names(), nil
}

// rows calls emit with the fields of every row in the order of columns
// (which must be the file's column names, in any order) and its number,
// counting from 1. A null reads as missing when it is not empty, and is
// an error otherwise.
func (pf *parquetFile) rows(columns []string, missing string, emit func(row int, fields []string) error) (err error) {
	defer recoverMalformed(pf.name, &err)
	have := pf.names()
	if len(have) != len(columns) || !sameSet(have, columns) {
		return fmt.Errorf("kanon: invalid input: %s: columns %q differ from %q", pf.name, strings.Join(have, ","), strings.Join(columns, ","))
	}
	at := make([]int, len(pf.cols)) // file column → table column
	for i, c := range pf.cols {
		at[i] = slices.Index(columns, c.name)
	}
	buf := make([]parquet.Row, 256)
	fields := make([]string, len(columns))
	row := 0
	for _, rg := range pf.file.RowGroups() {
		rr := rg.Rows()
		for {
			n, rerr := rr.ReadRows(buf)
			for _, r := range buf[:n] {
				row++
				if err := pf.fill(r, at, fields, row, missing); err != nil {
					rr.Close()
					return err
				}
				if err := emit(row, fields); err != nil {
					rr.Close()
					return err
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				rr.Close()
				return fmt.Errorf("kanon: invalid input: %s: row %d: %w", pf.name, row+1, rerr)
			}
			if n == 0 {
				rr.Close()
				return fmt.Errorf("kanon: invalid input: %s: row %d: the decoder returned no rows", pf.name, row+1)
			}
		}
		if err := rr.Close(); err != nil {
			return fmt.Errorf("kanon: invalid input: %s: %w", pf.name, err)
		}
	}
	return nil
}

// fill decodes one row into fields.
func (pf *parquetFile) fill(r parquet.Row, at []int, fields []string, row int, missing string) error {
	if len(r) != len(pf.cols) {
		return fmt.Errorf("kanon: invalid input: %s: row %d has %d values, want %d", pf.name, row, len(r), len(pf.cols))
	}
	for _, v := range r {
		j := v.Column()
		if j < 0 || j >= len(pf.cols) {
			return fmt.Errorf("kanon: invalid input: %s: row %d: value of column %d outside the schema", pf.name, row, j)
		}
		c := &pf.cols[j]
		switch {
		case !v.IsNull():
			fields[at[j]] = c.format(v)
		case missing != "":
			fields[at[j]] = missing
		default:
			return fmt.Errorf("kanon: invalid input: %s: row %d, column %q: null value (give --missing to read nulls as missing values)", pf.name, row, c.name)
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// readParquet reads input file i as Parquet into lines.
func (f *readFn) readParquet(ctx context.Context, i int, emit func(Line)) error {
	name := f.Files[i]
	pf, err := openParquet(ctx, name)
	if err != nil {
		return err
	}
	defer pf.Close()
	c := &f.Cfg
	return pf.rows(c.Columns, c.Missing, func(row int, fields []string) error {
		f.read.Inc(ctx, 1)
		if c.DropMissing && c.Missing != "" && slices.Contains(fields, c.Missing) {
			f.dropped.Inc(ctx, 1)
			return nil
		}
		emit(Line{File: i, Line: row, Fields: slices.Clone(fields)})
		return nil
	})
}

// parquetRows estimates the rows of files from the row count of the
// first file's footer and the sizes of the files.
func parquetRows(ctx context.Context, files []string, total int64) (int64, error) {
	pf, err := openParquet(ctx, files[0])
	if err != nil {
		return 0, err
	}
	defer pf.Close()
	size := pf.file.Size()
	if size == 0 {
		return 0, nil
	}
	return total * pf.file.NumRows() / size, nil
}

// orderedGroup is a Parquet group whose fields keep the table's column
// order (parquet.Group orders them by name).
type orderedGroup struct {
	parquet.Group
	order []string
}

func (g orderedGroup) Fields() []parquet.Field {
	fields := g.Group.Fields()
	slices.SortStableFunc(fields, func(a, b parquet.Field) int {
		return slices.Index(g.order, a.Name()) - slices.Index(g.order, b.Name())
	})
	return fields
}

// parquetSchema is the output schema: one required string column per
// output column, in order.
func parquetSchema(cols []string) *parquet.Schema {
	g := parquet.Group{}
	for _, c := range cols {
		g[c] = parquet.String()
	}
	return parquet.NewSchema("release", orderedGroup{Group: g, order: cols})
}

// parquetWriter writes rows of strings as a Parquet file with Snappy
// compression, in row groups of at most rowGroup rows.
type parquetWriter struct {
	w    *parquet.GenericWriter[any]
	rows []parquet.Row
	n    int
}

func newParquetWriter(out io.Writer, cols []string) *parquetWriter {
	w := parquet.NewGenericWriter[any](out, parquetSchema(cols), parquet.Compression(&parquet.Snappy))
	return &parquetWriter{w: w, rows: make([]parquet.Row, 0, 1024)}
}

// write adds one row; its fields are copied.
func (pw *parquetWriter) write(fields []string) error {
	r := make(parquet.Row, len(fields))
	for j, s := range fields {
		r[j] = parquet.ByteArrayValue([]byte(s)).Level(0, 0, j)
	}
	pw.rows = append(pw.rows, r)
	if len(pw.rows) == cap(pw.rows) {
		return pw.flush()
	}
	return nil
}

func (pw *parquetWriter) flush() error {
	if len(pw.rows) == 0 {
		return nil
	}
	n, err := pw.w.WriteRows(pw.rows)
	pw.n += n
	pw.rows = pw.rows[:0]
	return err
}

// close writes the remaining rows and the footer.
func (pw *parquetWriter) close() error {
	if err := pw.flush(); err != nil {
		return err
	}
	return pw.w.Close()
}
