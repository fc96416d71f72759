package anonymize

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// csvScanner splits RFC 4180 records with a one-byte delimiter, reusing
// its buffers: fields are slices valid until the next call. Leading
// white space of a field is skipped (like encoding/csv's TrimLeadingSpace),
// quoted fields may hold delimiters, doubled quotes and newlines, and
// empty lines are skipped.
type csvScanner struct {
	r      *bufio.Reader
	delim  byte
	line   int // number of the last line read
	buf    []byte
	ends   []int
	fields [][]byte
	acc    []byte
	bom    bool // a byte order mark may still have to be skipped
}

// errCSV is a syntax error at a line and column (1-based, in bytes).
type errCSV struct {
	line, col int
	msg       string
}

func (e *errCSV) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

// newCSVScanner returns a scanner of r; the first read, which skips a
// UTF-8 byte order mark, happens in next.
func newCSVScanner(r io.Reader, delim byte) *csvScanner {
	return &csvScanner{r: bufio.NewReaderSize(r, 1<<16), delim: delim, bom: true}
}

// readLine returns the next line without its line ending, or io.EOF.
func (s *csvScanner) readLine() ([]byte, error) {
	if s.bom {
		s.bom = false
		skipBOM(s.r)
	}
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.acc = append(s.acc[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = s.r.ReadSlice('\n')
			s.acc = append(s.acc, line...)
		}
		line = s.acc
	}
	if len(line) == 0 && err != nil {
		return nil, err
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	s.line++
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	} else if n > 0 && line[n-1] == '\r' {
		line = line[:n-1] // a final \r without \n ends the line too
	}
	return line, nil
}

// next returns the fields of the next non-empty record and the number of
// the line it starts on.
func (s *csvScanner) next() ([][]byte, int, error) {
	var line []byte
	var err error
	for {
		line, err = s.readLine()
		if err != nil {
			return nil, 0, err
		}
		if len(line) > 0 {
			break
		}
	}
	start := s.line
	s.buf = s.buf[:0]
	s.ends = s.ends[:0]
	pos := 0
	for {
		// one field starting at line[pos]
		for pos < len(line) && line[pos] != s.delim {
			r, n := rune(line[pos]), 1
			if r >= utf8.RuneSelf {
				r, n = utf8.DecodeRune(line[pos:])
			}
			if !unicode.IsSpace(r) {
				break
			}
			pos += n
		}
		if pos < len(line) && line[pos] == '"' {
			pos++
			for {
				i := bytes.IndexByte(line[pos:], '"')
				if i < 0 {
					// the quoted field continues on the next line
					s.buf = append(s.buf, line[pos:]...)
					s.buf = append(s.buf, '\n')
					// line may alias s.acc; copying above keeps the data
					nl, err := s.readLine()
					if err == io.EOF {
						return nil, 0, &errCSV{start, pos + 1, "quoted field not closed"}
					}
					if err != nil {
						return nil, 0, err
					}
					line, pos = nl, 0
					continue
				}
				s.buf = append(s.buf, line[pos:pos+i]...)
				pos += i + 1
				if pos < len(line) && line[pos] == '"' {
					s.buf = append(s.buf, '"')
					pos++
					continue
				}
				break
			}
			if pos < len(line) && line[pos] != s.delim {
				return nil, 0, &errCSV{s.line, pos + 1, `extraneous or missing " in quoted field`}
			}
		} else {
			i := bytes.IndexByte(line[pos:], s.delim)
			f := line[pos:]
			if i >= 0 {
				f = line[pos : pos+i]
			}
			if q := bytes.IndexByte(f, '"'); q >= 0 {
				return nil, 0, &errCSV{s.line, pos + q + 1, `bare " in unquoted field`}
			}
			s.buf = append(s.buf, f...)
			pos += len(f)
		}
		s.ends = append(s.ends, len(s.buf))
		if pos >= len(line) {
			break
		}
		pos++ // delimiter
	}
	s.fields = s.fields[:0]
	prev := 0
	for _, e := range s.ends {
		s.fields = append(s.fields, s.buf[prev:e])
		prev = e
	}
	return s.fields, start, nil
}

// csvBatch is a run of records copied out of the scanner.
type csvBatch struct {
	buf    []byte
	ends   []int // end offset in buf of every field
	nf     []int // fields per record
	lines  []int // first line of every record
	err    error
	fields [][]byte
	// panicked holds the value of a panic raised while reading (by the
	// caller's io.Reader), for the consumer to raise again in its own
	// goroutine: a panic in this one could not be recovered by anyone.
	panicked any
}

const batchRecords = 1024

// scanBatches runs the scanner in its own goroutine and sends batches of
// records on the returned channel, closing it at the end of the input or
// after an error batch. Closing done stops the goroutine early; used
// batches come back through free.
func scanBatches(sc *csvScanner, done <-chan struct{}) (<-chan *csvBatch, chan<- *csvBatch) {
	out := make(chan *csvBatch, 4)
	free := make(chan *csvBatch, 6)
	go func() {
		defer close(out)
		defer func() {
			if p := recover(); p != nil {
				select {
				case out <- &csvBatch{panicked: p}:
				case <-done:
				}
			}
		}()
		for {
			var b *csvBatch
			select {
			case b = <-free:
				b.buf, b.ends, b.nf, b.lines = b.buf[:0], b.ends[:0], b.nf[:0], b.lines[:0]
			default:
				b = &csvBatch{}
			}
			for len(b.lines) < batchRecords {
				rec, line, err := sc.next()
				if err != nil {
					if err != io.EOF {
						b.err = err
					}
					break
				}
				for _, f := range rec {
					b.buf = append(b.buf, f...)
					b.ends = append(b.ends, len(b.buf))
				}
				b.nf = append(b.nf, len(rec))
				b.lines = append(b.lines, line)
			}
			last := len(b.lines) < batchRecords
			select {
			case out <- b:
			case <-done:
				return
			}
			if last {
				return
			}
		}
	}()
	return out, free
}

// each calls f for every record of the batch.
func (b *csvBatch) each(f func(rec [][]byte, line int) error) error {
	fi, prev := 0, 0
	for r, n := range b.nf {
		b.fields = b.fields[:0]
		for k := 0; k < n; k++ {
			e := b.ends[fi]
			b.fields = append(b.fields, b.buf[prev:e])
			prev = e
			fi++
		}
		if err := f(b.fields, b.lines[r]); err != nil {
			return err
		}
	}
	return nil
}
