package dataset

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned for bad input wraps exactly one of
// them, so callers can test the kind with [errors.Is]; the message says which
// file, line and field (or byte offset) was wrong.
var (
	// ErrFormat reports malformed content: a wrong field count, a value that
	// does not parse, a non-finite number, a label out of range, a header that
	// disagrees with the data, an empty cell where one is required, trailing
	// bytes after the declared data, or a corrupt gzip stream.
	ErrFormat = errors.New("dataset: malformed input")
	// ErrTruncated reports input that ends before the data it declares, such
	// as an IDX file shorter than its header says or a cut gzip stream.
	ErrTruncated = errors.New("dataset: truncated input")
	// ErrMagic reports an IDX file whose magic number is not the expected one.
	ErrMagic = errors.New("dataset: bad magic number")
	// ErrTooLarge reports input over a size limit: a line longer than
	// [MaxLineBytes] or an IDX payload larger than the caller's limit.
	ErrTooLarge = errors.New("dataset: input exceeds size limit")
)

// MaxLineBytes is the longest line, in bytes, that the text loaders accept.
const MaxLineBytes = 1 << 20

// ParseError describes bad input: where it is and what is wrong. It wraps one
// of the sentinel errors ([ErrFormat], [ErrTruncated], [ErrMagic],
// [ErrTooLarge]) and, when the problem came from the reader or the gzip layer,
// that underlying error too.
type ParseError struct {
	Name   string // file name as given by the caller
	Line   int    // 1-based line number; 0 when not line-oriented or unknown
	Column int    // 1-based field number; 0 when the whole line is meant
	Field  string // field name (such as "age" or "label"), when known
	Offset int64  // byte offset into the (decompressed) data for binary formats; -1 otherwise
	Msg    string // what is wrong
	Kind   error  // the sentinel error
	Cause  error  // underlying error, or nil
}

// Error formats the error as "dataset: name:line: column N (field): msg".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("dataset: ")
	b.WriteString(e.Name)
	switch {
	case e.Line > 0:
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	case e.Offset >= 0:
		b.WriteString(": byte ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
	}
	b.WriteString(": ")
	if e.Column > 0 {
		b.WriteString("column ")
		b.WriteString(strconv.Itoa(e.Column))
		if e.Field != "" {
			b.WriteString(" (")
			b.WriteString(e.Field)
			b.WriteString(")")
		}
		b.WriteString(": ")
	} else if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel kind and, if any, the underlying cause.
func (e *ParseError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// lineErr builds a ParseError for a text format.
func lineErr(kind error, name string, line, col int, field, format string, args ...any) *ParseError {
	return &ParseError{Name: name, Line: line, Column: col, Field: field, Offset: -1,
		Msg: fmt.Sprintf(format, args...), Kind: kind}
}

// byteErr builds a ParseError for a binary format.
func byteErr(kind error, name string, off int64, format string, args ...any) *ParseError {
	return &ParseError{Name: name, Offset: off, Msg: fmt.Sprintf(format, args...), Kind: kind}
}

// readErr classifies an error from the reader (or the gzip layer below it)
// met at the given line (text) or offset (binary; pass line 0).
func readErr(name string, line int, off int64, err error) error {
	kind := ErrFormat
	msg := "cannot read"
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		kind, msg = ErrTruncated, "unexpected end of data"
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		msg = "corrupt gzip stream"
	case errors.Is(err, bufio.ErrTooLong):
		return lineErr(ErrTooLarge, name, line, 0, "", "line longer than %d bytes", MaxLineBytes)
	default:
		// An I/O failure of the underlying reader, not bad content: keep it
		// as is, with the place it happened.
		if line > 0 {
			return fmt.Errorf("dataset: %s:%d: %w", name, line, err)
		}
		return fmt.Errorf("dataset: %s: %w", name, err)
	}
	if line > 0 {
		off = -1
	}
	return &ParseError{Name: name, Line: line, Offset: off, Msg: msg, Kind: kind, Cause: err}
}

// quote returns s quoted for an error message, cut to a short prefix so that a
// huge or hostile field cannot flood the message.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// maybeGunzip returns a reader of the decompressed data when r starts with
// the gzip magic bytes 1f 8b, and a buffered r otherwise.
func maybeGunzip(r io.Reader, name string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, readErr(name, 0, 0, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, readErr(name, 0, 0, err)
		}
		return zr, nil
	}
	return br, nil
}

// lineScanner reads the lines of a (possibly gzipped) text file, dropping the
// line terminator (LF or CRLF) and a leading UTF-8 byte-order mark.
type lineScanner struct {
	sc   *bufio.Scanner
	name string
	line int
}

func newLineScanner(r io.Reader, name string) (*lineScanner, error) {
	zr, err := maybeGunzip(r, name)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	return &lineScanner{sc: sc, name: name}, nil
}

// next returns the next line; ok is false at the end of input or on error.
// The returned bytes are valid until the following call.
func (s *lineScanner) next() (line []byte, ok bool) {
	if !s.sc.Scan() {
		return nil, false
	}
	s.line++
	b := s.sc.Bytes()
	if s.line == 1 {
		b = trimBOM(b)
	}
	return b, true
}

// err returns the reading error, if any, classified.
func (s *lineScanner) err() error {
	if err := s.sc.Err(); err != nil {
		return readErr(s.name, s.line+1, -1, err)
	}
	return nil
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}

// isBlank reports whether a line holds only spaces and tabs.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}
