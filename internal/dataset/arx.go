package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// ARXSeparator is the field separator of ARX's CSV tables and hierarchies.
const ARXSeparator = ';'

// ReadARXTable reads a ';'-separated table with a header line, as ARX writes
// it (for example arx/adult.csv). It returns the header and the data rows;
// every row has as many fields as the header. Fields follow RFC 4180 quoting
// with ';' in place of ','; LF and CRLF line ends are accepted, blank lines
// are skipped, and a gzipped file is detected by its magic bytes. Header
// names must be non-empty and distinct; data cells may be empty.
//
// name is used in error messages only.
func ReadARXTable(r io.Reader, name string) (header []string, rows [][]string, err error) {
	header, err = ReadARXRows(r, name, func(_ int, row []string) error {
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return header, rows, nil
}

// ReadARXRows is the streaming form of [ReadARXTable]: it calls fn with each
// data row and its 1-based line number, in file order, and returns the
// header. Each row is a fresh slice that fn may keep. If fn returns an error,
// reading stops and that error is returned unchanged.
func ReadARXRows(r io.Reader, name string, fn func(line int, row []string) error) (header []string, err error) {
	cr, err := newCSVReader(r, name, ARXSeparator)
	if err != nil {
		return nil, err
	}
	header, err = cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, lineErr(ErrFormat, name, 1, 0, "header", "empty input, want a header line")
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	header[0] = string(trimBOM([]byte(header[0])))
	line, _ := cr.FieldPos(0)
	seen := make(map[string]int, len(header))
	for i, h := range header {
		if h == "" {
			return nil, lineErr(ErrFormat, name, line, i+1, "header", "empty column name")
		}
		if j, dup := seen[h]; dup {
			return nil, lineErr(ErrFormat, name, line, i+1, "header", "column name %s repeats column %d", quote(h), j+1)
		}
		seen[h] = i
	}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return header, nil
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(row) != len(header) {
			return nil, lineErr(ErrFormat, name, line, 0, "", "%d fields, want %d as in the header", len(row), len(header))
		}
		if err := fn(line, row); err != nil {
			return nil, err
		}
	}
}

// ReadHierarchy reads a generalization hierarchy in ARX's form: one line per
// leaf value, "value;level1;...;root" with sep between cells (ARX uses ';').
// Each returned row runs from the leaf (index 0) to the most general value
// (last). All rows must have the same number of cells, no cell may be empty
// and no leaf may appear twice; errors name the file and line. Quoting, line
// ends, blank lines and gzip are handled as in [ReadARXTable].
//
// Whether the rows form a consistent tree (each value with a single parent)
// is left to the caller.
func ReadHierarchy(r io.Reader, name string, sep rune) ([][]string, error) {
	return readHierarchy(r, name, sep, true)
}

// ReadRaggedHierarchy reads a hierarchy whose rows may differ in length, as
// in the basic-Mondrian files ("Never-married;*" beside
// "Divorced;leave;*"): each row lists a leaf, then its ancestors, and ends
// with the root. It checks everything [ReadHierarchy] checks except the
// uniform row length.
func ReadRaggedHierarchy(r io.Reader, name string, sep rune) ([][]string, error) {
	return readHierarchy(r, name, sep, false)
}

func readHierarchy(r io.Reader, name string, sep rune, uniform bool) ([][]string, error) {
	cr, err := newCSVReader(r, name, sep)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	leaves := make(map[string]int)
	firstLine := 0
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rows) == 0 {
			row[0] = string(trimBOM([]byte(row[0])))
			firstLine = line
		}
		if uniform && len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, lineErr(ErrFormat, name, line, 0, "", "%d levels, want %d as on line %d", len(row), len(rows[0]), firstLine)
		}
		for i, c := range row {
			if c == "" {
				return nil, lineErr(ErrFormat, name, line, i+1, "", "empty cell")
			}
		}
		if prev, dup := leaves[row[0]]; dup {
			return nil, lineErr(ErrFormat, name, line, 1, "", "leaf %s already defined on line %d", quote(row[0]), prev)
		}
		leaves[row[0]] = line
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, lineErr(ErrFormat, name, 1, 0, "", "empty hierarchy")
	}
	return rows, nil
}

// LoadARXTableFile opens path and calls [ReadARXTable].
func LoadARXTableFile(path string) (header []string, rows [][]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return ReadARXTable(f, path)
}

// LoadHierarchyFile opens path and calls [ReadHierarchy] with ';'.
func LoadHierarchyFile(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return ReadHierarchy(f, path, ARXSeparator)
}

// LoadRaggedHierarchyFile opens path and calls [ReadRaggedHierarchy] with ';'.
func LoadRaggedHierarchyFile(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return ReadRaggedHierarchy(f, path, ARXSeparator)
}

func newCSVReader(r io.Reader, name string, sep rune) (*csv.Reader, error) {
	if sep == 0 || sep == '"' || sep == '\r' || sep == '\n' || sep == utf8.RuneError || !utf8.ValidRune(sep) {
		return nil, fmt.Errorf("dataset: %s: invalid separator %q", name, sep)
	}
	zr, err := maybeGunzip(r, name)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(zr)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	return cr, nil
}

// csvErr converts an encoding/csv error into a ParseError.
func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, io.ErrUnexpectedEOF) || errors.Is(pe.Err, io.EOF) {
			return readErr(name, pe.Line, -1, io.ErrUnexpectedEOF)
		}
		if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) || errors.Is(pe.Err, csv.ErrFieldCount) {
			return &ParseError{Name: name, Line: pe.Line, Offset: -1,
				Msg: fmt.Sprintf("bad quoting at byte %d of the line", pe.Column), Kind: ErrFormat, Cause: pe.Err}
		}
		return readErr(name, pe.Line, -1, pe.Err)
	}
	return readErr(name, 0, -1, err)
}
