package dataset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// IDX magic numbers of the two unsigned-byte file kinds used by MNIST and
// Fashion-MNIST: 0x0000 then type 0x08 (unsigned byte) then the number of
// dimensions.
const (
	IDXMagicLabels = 0x00000801 // one dimension: count
	IDXMagicImages = 0x00000803 // three dimensions: count, rows, columns
)

// Size limits of the IDX readers, in payload bytes (the product of the
// dimensions). A header over the limit is rejected before anything of that
// size is allocated.
const (
	// DefaultIDXMaxBytes is the limit used when the caller passes 0:
	// 256 MiB, over five times Fashion-MNIST's 47 MB training images.
	DefaultIDXMaxBytes = 1 << 28
	// MaxIDXBytes is the largest limit a caller may ask for, 2 GiB; larger
	// requests are lowered to it.
	MaxIDXBytes = 1 << 31
)

// idxChunk is how much payload the readers allocate before they have seen
// that much data: the buffer then grows as the bytes actually arrive.
const idxChunk = 1 << 20

// Images is a set of grey-scale images of one size, stored as one flat,
// row-major byte slice: pixel (y, x) of image i is
// Pix[i*Rows*Cols + y*Cols + x].
type Images struct {
	Count, Rows, Cols int
	Pix               []uint8
}

// Image returns the pixels of image i, sharing memory with m.Pix.
func (m *Images) Image(i int) []uint8 {
	n := m.Rows * m.Cols
	return m.Pix[i*n : (i+1)*n : (i+1)*n]
}

// ReadIDXImages reads an IDX image file (magic 0x00000803, then the
// big-endian counts of images, rows and columns, then the pixels), gzipped
// or not (detected by its magic bytes). maxBytes bounds count*rows*cols; 0
// means [DefaultIDXMaxBytes]. It rejects a wrong magic number ([ErrMagic]), a
// zero dimension ([ErrFormat]), a size over the limit ([ErrTooLarge]), data
// shorter than the header declares ([ErrTruncated]) and bytes after the
// declared data ([ErrFormat]); the error gives the byte offset in the
// decompressed data. name is used in error messages.
func ReadIDXImages(r io.Reader, name string, maxBytes int64) (*Images, error) {
	dims, data, err := readIDX(r, name, IDXMagicImages, maxBytes)
	if err != nil {
		return nil, err
	}
	return &Images{Count: dims[0], Rows: dims[1], Cols: dims[2], Pix: data}, nil
}

// ReadIDXLabels reads an IDX label file (magic 0x00000801, the big-endian
// count, then one byte per label), with the checks of [ReadIDXImages].
func ReadIDXLabels(r io.Reader, name string, maxBytes int64) ([]uint8, error) {
	_, data, err := readIDX(r, name, IDXMagicLabels, maxBytes)
	return data, err
}

func readIDX(r io.Reader, name string, magic uint32, maxBytes int64) ([]int, []byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultIDXMaxBytes
	}
	maxBytes = min(maxBytes, MaxIDXBytes)
	zr, err := maybeGunzip(r, name)
	if err != nil {
		return nil, nil, err
	}
	ndim := int(magic & 0xff)
	var hdr [4 * 4]byte // magic and at most three dimensions
	hlen := 4 * (1 + ndim)
	if n, err := io.ReadFull(zr, hdr[:4]); err != nil {
		return nil, nil, idxShort(name, 0, 4, n, err, "magic number")
	}
	if got := binary.BigEndian.Uint32(hdr[:4]); got != magic {
		return nil, nil, byteErr(ErrMagic, name, 0, "magic number 0x%08x, want 0x%08x (%s)", got, magic, idxKind(magic))
	}
	if n, err := io.ReadFull(zr, hdr[4:hlen]); err != nil {
		return nil, nil, idxShort(name, 4, hlen-4, n, err, "dimensions")
	}
	dims := make([]int, ndim)
	for i := range dims {
		d := binary.BigEndian.Uint32(hdr[4+4*i:])
		if d == 0 {
			return nil, nil, byteErr(ErrFormat, name, int64(4+4*i), "dimension %d is zero", i+1)
		}
		dims[i] = int(d)
	}
	total := int64(1)
	for _, d := range dims {
		// total <= maxBytes <= 2^31 and d < 2^32, so the product fits in int64.
		total *= int64(d)
		if total > maxBytes {
			return nil, nil, byteErr(ErrTooLarge, name, 4, "dimensions %v declare more than the limit of %d bytes", dims, maxBytes)
		}
	}
	data := make([]byte, 0, min(total, idxChunk))
	for int64(len(data)) < total {
		if len(data) == cap(data) {
			data = slices.Grow(data, int(min(int64(cap(data)), total-int64(len(data)))))
		}
		end := int(min(int64(cap(data)), total))
		n, err := io.ReadFull(zr, data[len(data):end])
		data = data[:len(data)+n]
		if err != nil {
			return nil, nil, idxShort(name, int64(hlen), int(total), len(data), err, "data")
		}
	}
	var one [1]byte
	switch n, err := io.ReadFull(zr, one[:]); {
	case n > 0:
		return nil, nil, byteErr(ErrFormat, name, int64(hlen)+total, "trailing bytes after the %d declared data bytes", total)
	case errors.Is(err, io.EOF):
	default:
		return nil, nil, readErr(name, 0, int64(hlen)+total, err)
	}
	return dims, data, nil
}

// idxShort reports a read of want bytes at off that stopped after got.
func idxShort(name string, off int64, want, got int, err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &ParseError{Name: name, Offset: off + int64(got), Kind: ErrTruncated,
			Msg: fmt.Sprintf("%s: got %d of %d bytes", what, got, want)}
	}
	return readErr(name, 0, off+int64(got), err)
}

func idxKind(magic uint32) string {
	if magic == IDXMagicImages {
		return "images"
	}
	return "labels"
}

// CheckPair checks that images and labels go together: as many labels as
// images, and every label below numClasses.
func CheckPair(images *Images, labels []uint8, numClasses int) error {
	if images.Count != len(labels) {
		return fmt.Errorf("dataset: %d images but %d labels: %w", images.Count, len(labels), ErrFormat)
	}
	for i, y := range labels {
		if int(y) >= numClasses {
			return fmt.Errorf("dataset: label %d of image %d not in [0, %d): %w", y, i, numClasses, ErrFormat)
		}
	}
	return nil
}

// AppendUnitFloat appends the pixels of src to dst, scaled from 0..255 to
// [0, 1], and returns the extended slice.
func AppendUnitFloat(dst []float64, src []uint8) []float64 {
	dst = slices.Grow(dst, len(src))
	for _, p := range src {
		dst = append(dst, float64(p)/255)
	}
	return dst
}

// Dataset returns the first n images (all when n <= 0 or n > Count) as a
// [Dataset] with pixels scaled to [0, 1], labelled by labels and named by
// classNames. It checks the pair with [CheckPair] first.
func (m *Images) Dataset(labels []uint8, classNames []string, n int) (*Dataset, error) {
	if err := CheckPair(m, labels, len(classNames)); err != nil {
		return nil, err
	}
	if n <= 0 || n > m.Count {
		n = m.Count
	}
	pix := m.Rows * m.Cols
	d := &Dataset{Rows: n, Cols: pix, ClassNames: slices.Clone(classNames),
		X: AppendUnitFloat(make([]float64, 0, n*pix), m.Pix[:n*pix]), Y: make([]int, n)}
	for i := range n {
		d.Y[i] = int(labels[i])
	}
	return d, nil
}

// LoadIDXImages opens path and calls [ReadIDXImages] with the default limit.
func LoadIDXImages(path string) (*Images, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return ReadIDXImages(f, path, 0)
}

// LoadIDXLabels opens path and calls [ReadIDXLabels] with the default limit.
func LoadIDXLabels(path string) ([]uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	return ReadIDXLabels(f, path, 0)
}

// FashionMNISTClassNames returns the names of the 10 Fashion-MNIST classes,
// indexed by label.
func FashionMNISTClassNames() []string {
	return []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
		"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
}

// LoadFashionMNIST reads one split of Fashion-MNIST from dir, which holds the
// four original gzipped IDX files. split is "train" (60,000 images) or
// "t10k" (10,000 images). It checks that images and labels pair up and that
// every label is a class.
func LoadFashionMNIST(dir, split string) (*Images, []uint8, error) {
	if split != "train" && split != "t10k" {
		return nil, nil, fmt.Errorf("dataset: Fashion-MNIST split %q, want \"train\" or \"t10k\"", split)
	}
	images, err := LoadIDXImages(filepath.Join(dir, split+"-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	labels, err := LoadIDXLabels(filepath.Join(dir, split+"-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	if err := CheckPair(images, labels, 10); err != nil {
		return nil, nil, err
	}
	return images, labels, nil
}
