package dataset

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// checkFuzzErr asserts the error contract: a *ParseError naming the file and
// wrapping one of the sentinels.
func checkFuzzErr(t *testing.T, err error, name string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %q (%T) is not a *ParseError", err, err)
	}
	if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMagic) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %q wraps no sentinel", err)
	}
	if !strings.Contains(err.Error(), name) {
		t.Fatalf("error %q does not name the file %q", err, name)
	}
}

func FuzzSklearnCSV(f *testing.F) {
	f.Add([]byte(string(irisCSV[:200])))
	f.Add([]byte("3,2,neg,pos\n1.5,-2,0\n0,1e3,1\n7,8,1\n\n"))
	f.Add([]byte("2,1,a,b\n1,0\n\n1,1\n"))
	f.Add([]byte("1,2,a,b\nNaN,1,0\n"))
	f.Add([]byte("1,2,a,b\n1,2,3,0\n"))
	f.Add([]byte("1,1,a,b\n1,1.0\r\n"))
	f.Add([]byte("0,1,2\n1,2,1\n"))
	f.Add(gz(f, []byte("2,1,a,b\n1,0\n2,1\n")))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadSklearnCSV(bytes.NewReader(data), "f.csv")
		if err != nil {
			checkFuzzErr(t, err, "f.csv")
		} else {
			if err := d.Validate(); err != nil || d.Rows == 0 {
				t.Fatalf("accepted an invalid data set (%d rows): %v", d.Rows, err)
			}
			// Writing the data set back and reading it again gives it back.
			var b strings.Builder
			b.WriteString(strconv.Itoa(d.Rows) + "," + strconv.Itoa(d.Cols) + "," + strings.Join(d.ClassNames, ",") + "\n")
			for i := range d.Rows {
				for _, v := range d.Row(i) {
					b.WriteString(strconv.FormatFloat(v, 'g', -1, 64) + ",")
				}
				b.WriteString(strconv.Itoa(d.Y[i]) + "\n")
			}
			d2, err := ReadSklearnCSV(strings.NewReader(b.String()), "f.csv")
			if err != nil || !reflect.DeepEqual(d, d2) {
				t.Fatalf("round trip: %v\n%+v\n%+v", err, d, d2)
			}
		}
		if d, err := ReadLabeledCSV(bytes.NewReader(data), "g.csv", 2, 3); err != nil {
			checkFuzzErr(t, err, "g.csv")
		} else if err := d.Validate(); err != nil || d.Cols != 2 || len(d.ClassNames) != 3 {
			t.Fatalf("accepted an invalid data set: %v", err)
		}
	})
}

func FuzzAdult(f *testing.F) {
	f.Add([]byte(adultRow1 + "\n" + adultRow2 + "\n" + adultRow3 + "\n\n"))
	f.Add([]byte(adultRow1 + "\n\n" + adultRow3 + "\n"))
	f.Add([]byte(adultRow1 + ", extra\n"))
	f.Add([]byte(strings.Replace(adultRow1, "39", "x", 1)))
	f.Add([]byte(strings.ReplaceAll(adultRow2, ", ", ",") + "\r\n"))
	f.Add(gz(f, []byte(adultRow3)))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, drop := range []bool{false, true} {
			var recs []AdultRecord
			st, err := ReadAdult(bytes.NewReader(data), "a.data", AdultOptions{DropMissing: drop},
				func(_ int, rec *AdultRecord) error {
					recs = append(recs, *rec)
					return nil
				})
			if err != nil {
				checkFuzzErr(t, err, "a.data")
				continue
			}
			if st.Rows != len(recs) || (!drop && st.Dropped != 0) {
				t.Fatalf("stats %+v for %d records", st, len(recs))
			}
			var b strings.Builder
			for _, r := range recs {
				if drop && r.HasMissing() {
					t.Fatalf("kept a row with a missing value: %q", r)
				}
				for j, v := range r {
					if v == "" || strings.ContainsAny(v, ",\n") || strings.TrimSpace(v) != v {
						t.Fatalf("bad field %d %q", j, v)
					}
					if _, ok := r.Int(j); adultNumeric[j] && v != AdultMissing && !ok {
						t.Fatalf("numeric field %d %q does not parse", j, v)
					}
				}
				b.WriteString(strings.Join(r[:], ", ") + "\n")
			}
			if len(recs) == 0 {
				continue
			}
			again, err := ReadAdultAll(strings.NewReader(b.String()), "a.data", AdultOptions{})
			if err != nil || !reflect.DeepEqual(again, recs) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

func FuzzARXTable(f *testing.F) {
	f.Add([]byte("sex;age;salary-class\r\nMale;39;<=50K\r\nFemale;50;>50K\r\n\r\n"))
	f.Add([]byte("a;b\n\"x;y\";z\n"))
	f.Add([]byte("a;b;a\n1;2;3\n"))
	f.Add([]byte("a;b;c\n1;2;3\n1;2\n"))
	f.Add([]byte("a;b\n1;x\"y\n"))
	f.Add([]byte("\xEF\xBB\xBFa\n\n"))
	f.Add(gz(f, []byte("a;b\n1;2\n")))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		header, rows, err := ReadARXTable(bytes.NewReader(data), "t.csv")
		if err != nil {
			checkFuzzErr(t, err, "t.csv")
			return
		}
		seen := map[string]bool{}
		for _, h := range header {
			if h == "" || seen[h] {
				t.Fatalf("bad header %q", header)
			}
			seen[h] = true
		}
		for _, r := range rows {
			if len(r) != len(header) {
				t.Fatalf("row %q does not fit header %q", r, header)
			}
		}
		// Writing the table with ';' and reading it back gives it back,
		// where CSV can represent it (not a lone empty field, which is a
		// blank line, nor a carriage return, which is normalised).
		if len(header) == 1 || bytes.ContainsRune(data, '\r') || strings.HasPrefix(header[0], "\uFEFF") {
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = ';'
		if err := w.Write(header); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteAll(rows); err != nil {
			t.Fatal(err)
		}
		h2, r2, err := ReadARXTable(&buf, "t.csv")
		if err != nil || !reflect.DeepEqual(h2, header) || len(r2) != len(rows) || (len(rows) > 0 && !reflect.DeepEqual(r2, rows)) {
			t.Fatalf("round trip: %v\n%q %q\n%q %q", err, header, rows, h2, r2)
		}
	})
}

func FuzzHierarchy(f *testing.F) {
	f.Add([]byte("Private;Non-Government;*\nFederal-gov;Government;*\nNever-worked;Unemployed;*"), false)
	f.Add([]byte("1;0-4;0-9;0-19;*\n2;0-4;0-9;0-19;*\n"), false)
	f.Add([]byte("Never-married;*\nDivorced;leave;*\n"), false)
	f.Add([]byte("a;*\nb;*\n\na;*\n"), false)
	f.Add([]byte("a;x;*\nb;;*\n"), false)
	f.Add([]byte("a,*\n\"b,c\",*\n"), true)
	f.Add(gz(f, []byte("Male;*\nFemale;*\n")), false)
	f.Add([]byte(""), false)
	f.Fuzz(func(t *testing.T, data []byte, comma bool) {
		sep := ';'
		if comma {
			sep = ','
		}
		uniform, err := ReadHierarchy(bytes.NewReader(data), "h.csv", sep)
		if err != nil {
			checkFuzzErr(t, err, "h.csv")
		}
		ragged, rerr := ReadRaggedHierarchy(bytes.NewReader(data), "h.csv", sep)
		if rerr != nil {
			checkFuzzErr(t, rerr, "h.csv")
			if err == nil {
				t.Fatalf("ragged reader rejects what the uniform one accepts: %v", rerr)
			}
			return
		}
		if err == nil && !reflect.DeepEqual(uniform, ragged) {
			t.Fatalf("readers disagree: %q vs %q", uniform, ragged)
		}
		leaves := map[string]bool{}
		for _, r := range ragged {
			if len(r) == 0 || leaves[r[0]] {
				t.Fatalf("bad row %q", r)
			}
			leaves[r[0]] = true
			for _, c := range r {
				if c == "" {
					t.Fatalf("empty cell in %q", r)
				}
			}
			if err == nil && len(r) != len(ragged[0]) {
				t.Fatalf("uniform reader accepted rows of lengths %d and %d", len(ragged[0]), len(r))
			}
		}
	})
}

func FuzzIDX(f *testing.F) {
	img := idxFile(IDXMagicImages, []uint32{3, 2, 2}, []byte{0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	lab := idxFile(IDXMagicLabels, []uint32{3}, []byte{9, 0, 4})
	f.Add(img)
	f.Add(lab)
	f.Add(gz(f, img))
	f.Add(gz(f, lab))
	f.Add(img[:len(img)-1])
	f.Add(append(bytes.Clone(lab), 7))
	f.Add(idxFile(IDXMagicImages, []uint32{1 << 31, 28, 28}, nil))
	f.Add(idxFile(IDXMagicImages, []uint32{2, 0, 2}, nil))
	f.Add([]byte{0, 0, 8})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 16
		gzipped := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
		if m, err := ReadIDXImages(bytes.NewReader(data), "i.idx", limit); err != nil {
			checkFuzzErr(t, err, "i.idx")
		} else {
			n := m.Count * m.Rows * m.Cols
			if n <= 0 || n > limit || len(m.Pix) != n || (!gzipped && len(data) != 16+n) {
				t.Fatalf("accepted %d x %d x %d with %d pixels from %d bytes", m.Count, m.Rows, m.Cols, len(m.Pix), len(data))
			}
			if !gzipped && binary.BigEndian.Uint32(data) != IDXMagicImages {
				t.Fatal("accepted a wrong magic number")
			}
		}
		if l, err := ReadIDXLabels(bytes.NewReader(data), "l.idx", limit); err != nil {
			checkFuzzErr(t, err, "l.idx")
		} else if len(l) == 0 || (!gzipped && len(data) != 8+len(l)) {
			t.Fatalf("accepted %d labels from %d bytes", len(l), len(data))
		}
	})
}
