package kanon

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths
)

// ExpandGlob lists the files matching glob (any Beam filesystem: local
// paths, gs://, s3://) in name order; no match is an error.
func ExpandGlob(ctx context.Context, glob string) ([]string, error) {
	fs, err := filesystem.New(ctx, glob)
	if err != nil {
		return nil, fmt.Errorf("kanon: --in %s: %w", glob, err)
	}
	defer fs.Close()
	files, err := fs.List(ctx, glob)
	if err != nil {
		return nil, fmt.Errorf("kanon: --in %s: %w", glob, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("kanon: --in %s: no file matches", glob)
	}
	slices.Sort(files)
	return files, nil
}

// ReadHeader returns the column names on the first line of file.
func ReadHeader(ctx context.Context, file string, delim rune) ([]string, error) {
	rc, err := open(ctx, file)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r := newReader(rc, delim)
	rec, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("kanon: %s: empty file, no header", file)
	}
	if err != nil {
		return nil, fmt.Errorf("kanon: %s: header: %w", file, err)
	}
	return trim(rec), nil
}

func open(ctx context.Context, file string) (io.ReadCloser, error) {
	fs, err := filesystem.New(ctx, file)
	if err != nil {
		return nil, fmt.Errorf("kanon: %s: %w", file, err)
	}
	rc, err := fs.OpenRead(ctx, file)
	if err != nil {
		fs.Close()
		return nil, fmt.Errorf("kanon: %s: %w", file, err)
	}
	return &fileReader{ReadCloser: rc, fs: fs}, nil
}

// fileReader closes the filesystem with the file.
type fileReader struct {
	io.ReadCloser
	fs filesystem.Interface
}

func (r *fileReader) Close() error {
	err := r.ReadCloser.Close()
	if ferr := r.fs.Close(); err == nil {
		err = ferr
	}
	return err
}

func newReader(r io.Reader, delim rune) *csv.Reader {
	br := bufio.NewReaderSize(r, 1<<16)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	if delim != 0 {
		cr.Comma = delim
	}
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	return cr
}

func trim(rec []string) []string {
	out := make([]string, len(rec))
	for i, f := range rec {
		out[i] = strings.TrimSpace(f)
	}
	return out
}

// readFn reads one input file (by index into Files) into Lines.
type readFn struct {
	Cfg   Config
	Files []string

	read, dropped beam.Counter
}

func (f *readFn) Setup() {
	f.read = beam.NewCounter("privml", "rows_read")
	f.dropped = beam.NewCounter("privml", "rows_dropped_missing")
}

func (f *readFn) ProcessElement(ctx context.Context, i int, emit func(Line)) error {
	if f.Cfg.Format == FormatParquet {
		return f.readParquet(ctx, i, emit)
	}
	name := f.Files[i]
	rc, err := open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	c := &f.Cfg
	r := newReader(rc, c.delim())
	first := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("kanon: invalid input: %s: %w", name, err)
		}
		line, _ := r.FieldPos(0)
		fields := trim(rec)
		if first && c.Header {
			first = false
			if !slices.Equal(fields, c.Columns) {
				return fmt.Errorf("kanon: invalid input: %s:%d: header %q differs from %q", name, line, strings.Join(fields, ","), strings.Join(c.Columns, ","))
			}
			continue
		}
		first = false
		if len(fields) != len(c.Columns) {
			return fmt.Errorf("kanon: invalid input: %s:%d: row has %d fields, want %d", name, line, len(fields), len(c.Columns))
		}
		f.read.Inc(ctx, 1)
		if c.Missing != "" && slices.Contains(fields, c.Missing) {
			f.dropped.Inc(ctx, 1)
			continue
		}
		emit(Line{File: i, Line: line, Fields: fields})
	}
}

// writeFn writes one shard, header first, to Dir/part-SSSSS-of-NNNNN.csv,
// or as Parquet to Dir/part-SSSSS-of-NNNNN.parquet; each element holds one
// or more CSV lines.
type writeFn struct {
	Dir    string
	Header string
	Shards int
	// Format is FormatCSV or FormatParquet; Columns and Delimiter
	// describe the lines for Parquet.
	Format    string
	Columns   []string
	Delimiter rune

	written beam.Counter
}

func (f *writeFn) Setup() { f.written = beam.NewCounter("privml", "rows_written") }

func (f *writeFn) ProcessElement(ctx context.Context, shard int, lines func(*string) bool) error {
	ext := FormatCSV
	if f.Format == FormatParquet {
		ext = FormatParquet
	}
	name := fmt.Sprintf("%s/part-%05d-of-%05d.%s", strings.TrimSuffix(f.Dir, "/"), shard, f.Shards, ext)
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return fmt.Errorf("kanon: --out %s: %w", name, err)
	}
	defer fs.Close()
	wc, err := fs.OpenWrite(ctx, name)
	if err != nil {
		return fmt.Errorf("kanon: --out %s: %w", name, err)
	}
	if f.Format == FormatParquet {
		return f.writeParquet(ctx, name, wc, lines)
	}
	w := bufio.NewWriterSize(wc, 1<<16)
	_, _ = w.WriteString(f.Header + "\n")
	var l string
	var n int64
	for lines(&l) {
		_, _ = w.WriteString(l)
		_ = w.WriteByte('\n')
		n += csvRows(l)
	}
	if err := w.Flush(); err != nil {
		wc.Close()
		return fmt.Errorf("kanon: --out %s: %w", name, err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("kanon: --out %s: %w", name, err)
	}
	f.written.Inc(ctx, n)
	return nil
}

// writeParquet writes the lines of one shard, parsed back into fields, as
// a Parquet file. Each element may hold one or more CSV lines.
func (f *writeFn) writeParquet(ctx context.Context, name string, wc io.WriteCloser, lines func(*string) bool) error {
	bw := bufio.NewWriterSize(wc, 1<<16)
	pw := newParquetWriter(bw, f.Columns)
	var l string
	for lines(&l) {
		if err := writeRecords(pw, l, f.Delimiter, len(f.Columns)); err != nil {
			wc.Close()
			return fmt.Errorf("kanon: --out %s: %w", name, err)
		}
	}
	err := pw.close()
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		wc.Close()
		return fmt.Errorf("kanon: --out %s: %w", name, err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("kanon: --out %s: %w", name, err)
	}
	f.written.Inc(ctx, int64(pw.n))
	return nil
}

// writeRecords parses the CSV lines of text and writes them to pw.
func writeRecords(pw *parquetWriter, text string, delim rune, width int) error {
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = delim
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("output rows %.40q...: %w", text, err)
		}
		if len(rec) != width {
			return fmt.Errorf("output row %q has %d fields, want %d", strings.Join(rec, string(delim)), len(rec), width)
		}
		if err := pw.write(rec); err != nil {
			return err
		}
	}
}

// EstimateRows estimates the number of input rows from the size of the
// files and the mean length of the first lines of the first file (for
// Parquet files, the row count in the first file's footer). It only
// sizes the pipeline (see AutoLevels); nothing depends on it being exact.
func EstimateRows(ctx context.Context, files []string) (int64, error) {
	var total int64
	for _, f := range files {
		fs, err := filesystem.New(ctx, f)
		if err != nil {
			return 0, fmt.Errorf("kanon: %s: %w", f, err)
		}
		n, err := fs.Size(ctx, f)
		fs.Close()
		if err != nil {
			return 0, fmt.Errorf("kanon: %s: %w", f, err)
		}
		total += n
	}
	rc, err := open(ctx, files[0])
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	if magic, err := br.Peek(4); err == nil && string(magic) == "PAR1" {
		return parquetRows(ctx, files, total)
	}
	var lines, bytes int64
	for lines < 1000 {
		l, err := br.ReadString('\n')
		bytes += int64(len(l))
		if len(l) > 0 {
			lines++
		}
		if err != nil {
			break
		}
	}
	if lines == 0 || bytes == 0 {
		return 0, nil
	}
	return total * lines / bytes, nil
}

// AutoLevels returns the levels to cut in the pipeline so that balanced
// halving brings rows below threshold, plus two for unbalanced cuts.
// Levels past the need cost a pass each but cut nothing.
func AutoLevels(rows int64, threshold int) int {
	levels := 0
	for n := rows; n > int64(max(threshold, 1)); n /= 2 {
		levels++
	}
	if levels == 0 {
		return 0
	}
	return levels + 2
}
