package dataset

import (
	"bytes"
	"encoding/binary"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

// idxFile builds an IDX file from a magic number, dimensions and payload.
func idxFile(magic uint32, dims []uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

func TestReadIDXImages(t *testing.T) {
	pix := []byte{0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	raw := idxFile(IDXMagicImages, []uint32{3, 2, 2}, pix)
	for name, in := range map[string][]byte{"plain": raw, "gzip": gz(t, raw)} {
		t.Run(name, func(t *testing.T) {
			m, err := ReadIDXImages(bytes.NewReader(in), "img", 0)
			if err != nil {
				t.Fatal(err)
			}
			if m.Count != 3 || m.Rows != 2 || m.Cols != 2 || !bytes.Equal(m.Pix, pix) {
				t.Errorf("got %+v", m)
			}
			if got := m.Image(2); !bytes.Equal(got, []byte{7, 8, 9, 10}) {
				t.Errorf("Image(2) = %v", got)
			}
		})
	}
	labels, err := ReadIDXLabels(bytes.NewReader(idxFile(IDXMagicLabels, []uint32{3}, []byte{9, 0, 4})), "lab", 0)
	if err != nil || !bytes.Equal(labels, []byte{9, 0, 4}) {
		t.Errorf("labels %v, err %v", labels, err)
	}
}

func TestReadIDXErrors(t *testing.T) {
	img := func(dims []uint32, payload []byte) []byte { return idxFile(IDXMagicImages, dims, payload) }
	good := img([]uint32{2, 2, 2}, make([]byte, 8))
	tests := []struct {
		name string
		in   []byte
		max  int64
		kind error
		want []string
	}{
		{"empty input", nil, 0, ErrTruncated, []string{"img: byte 0", "magic number: got 0 of 4 bytes"}},
		{"short magic", []byte{0, 0, 8}, 0, ErrTruncated, []string{"byte 3", "magic number"}},
		{"labels magic", idxFile(IDXMagicLabels, []uint32{2}, []byte{1, 2}), 0, ErrMagic,
			[]string{"byte 0", "0x00000801, want 0x00000803 (images)"}},
		{"garbage magic", []byte("PK\x03\x04 not an idx file"), 0, ErrMagic, []string{"magic number 0x504b0304"}},
		{"short dimensions", good[:9], 0, ErrTruncated, []string{"byte 9", "dimensions: got 5 of 12 bytes"}},
		{"zero dimension", img([]uint32{2, 0, 2}, nil), 0, ErrFormat, []string{"byte 8", "dimension 2 is zero"}},
		{"short data", good[:len(good)-3], 0, ErrTruncated, []string{"byte 21", "data: got 5 of 8 bytes"}},
		{"no data", good[:16], 0, ErrTruncated, []string{"byte 16", "data: got 0 of 8 bytes"}},
		{"trailing byte", append(bytes.Clone(good), 0), 0, ErrFormat, []string{"byte 24", "trailing bytes after the 8"}},
		{"over caller limit", good, 7, ErrTooLarge, []string{"dimensions [2 2 2]", "limit of 7 bytes"}},
		{"over default limit", img([]uint32{1 << 31, 28, 28}, nil), 0, ErrTooLarge, []string{"limit of 268435456"}},
		{"over hard limit", img([]uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil), 1 << 40, ErrTooLarge, []string{"limit of 2147483648"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ReadIDXImages(bytes.NewReader(tc.in), "img", tc.max)
			if m != nil {
				t.Error("got images with the error")
			}
			checkErr(t, err, tc.kind, tc.want...)
		})
	}
	_, err := ReadIDXLabels(bytes.NewReader(good), "lab", 0)
	checkErr(t, err, ErrMagic, "lab", "want 0x00000801 (labels)")
}

func TestReadIDXCorruptGzip(t *testing.T) {
	z := gz(t, idxFile(IDXMagicLabels, []uint32{100}, make([]byte, 100)))
	_, err := ReadIDXLabels(bytes.NewReader(z[:len(z)-5]), "lab.gz", 0)
	checkErr(t, err, ErrTruncated, "lab.gz")
	bad := bytes.Clone(z)
	bad[len(bad)-7] ^= 1 // the CRC-32 of the payload
	_, err = ReadIDXLabels(bytes.NewReader(bad), "lab.gz", 0)
	checkErr(t, err, ErrFormat, "lab.gz", "byte 108", "corrupt gzip")
}

// TestReadIDXAllocatesByData checks that a header claiming far more data
// than the file holds does not make the reader allocate what it claims.
func TestReadIDXAllocatesByData(t *testing.T) {
	in := idxFile(IDXMagicImages, []uint32{(1 << 31) / 784, 28, 28}, make([]byte, 100))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadIDXImages(bytes.NewReader(in), "img", MaxIDXBytes)
	runtime.ReadMemStats(&after)
	checkErr(t, err, ErrTruncated, "data: got 100 of 2147483408 bytes")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("allocated %d bytes for a 116-byte file", grew)
	}
}

func TestCheckPairAndDataset(t *testing.T) {
	m := &Images{Count: 2, Rows: 1, Cols: 2, Pix: []byte{0, 255, 51, 102}}
	if err := CheckPair(m, []uint8{1, 0}, 2); err != nil {
		t.Error(err)
	}
	if err := CheckPair(m, []uint8{1}, 2); err == nil {
		t.Error("count mismatch accepted")
	}
	if err := CheckPair(m, []uint8{1, 2}, 2); err == nil {
		t.Error("label 2 of 2 classes accepted")
	}
	d, err := m.Dataset([]uint8{1, 0}, []string{"a", "b"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 2 || d.Cols != 2 || !reflect.DeepEqual(d.X, []float64{0, 1, 0.2, 0.4}) || !reflect.DeepEqual(d.Y, []int{1, 0}) {
		t.Errorf("got %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Error(err)
	}
	d, err = m.Dataset([]uint8{1, 0}, []string{"a", "b"}, 1)
	if err != nil || d.Rows != 1 || len(d.X) != 2 {
		t.Errorf("first image only: %+v, %v", d, err)
	}
	if got := AppendUnitFloat([]float64{-1}, []uint8{0, 255}); !reflect.DeepEqual(got, []float64{-1, 0, 1}) {
		t.Errorf("AppendUnitFloat = %v", got)
	}
}

func TestFashionMNISTRealFiles(t *testing.T) {
	dir := filepath.Dir(sharedFile(t, "fashion-mnist/train-images-idx3-ubyte.gz"))
	if testing.Short() {
		t.Skip("reads 26 MB in -short mode")
	}
	for _, tc := range []struct {
		split string
		n     int
	}{{"train", 60000}, {"t10k", 10000}} {
		images, labels, err := LoadFashionMNIST(dir, tc.split)
		if err != nil {
			t.Fatal(err)
		}
		if images.Count != tc.n || images.Rows != 28 || images.Cols != 28 || len(images.Pix) != tc.n*784 {
			t.Errorf("%s: %d images of %dx%d, want %d of 28x28", tc.split, images.Count, images.Rows, images.Cols, tc.n)
		}
		counts := make([]int, 10)
		for _, y := range labels {
			counts[y]++
		}
		for c, k := range counts {
			if k != tc.n/10 {
				t.Errorf("%s: class %d has %d images, want %d", tc.split, c, k, tc.n/10)
			}
		}
		// Images are not blank: mean intensity of the training set is
		// about 0.286 (72.9/255), a widely quoted normalisation constant.
		var sum float64
		for _, p := range images.Pix {
			sum += float64(p)
		}
		if mean := sum / float64(len(images.Pix)) / 255; math.Abs(mean-0.286) > 0.005 {
			t.Errorf("%s: mean intensity %.4f, want about 0.286", tc.split, mean)
		}
	}
	if _, _, err := LoadFashionMNIST(dir, "test"); err == nil {
		t.Error(`split "test" accepted`)
	}
}

func BenchmarkReadIDXImages(b *testing.B) {
	data := idxFile(IDXMagicImages, []uint32{1000, 28, 28}, make([]byte, 1000*784))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadIDXImages(bytes.NewReader(data), "img", 0); err != nil {
			b.Fatal(err)
		}
	}
}
