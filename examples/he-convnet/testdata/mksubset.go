//go:build ignore

// mksubset writes the first -n images and labels of the Fashion-MNIST test
// split as gzipped IDX files with the original names, so that the
// he-convnet test runs without the shared data folder. From the
// repository root:
//
//	go run ./examples/he-convnet/testdata/mksubset.go \
//	    -in ../shared/datasets/fashion-mnist -out examples/he-convnet/testdata -n 200
//
// The output is deterministic (gzip without name or time stamp) for a given
// Go release; README.md records the sha256 of the committed files.
package main

import (
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/privml/privml/internal/dataset"
)

func main() {
	in := flag.String("in", "../shared/datasets/fashion-mnist", "folder with the original t10k-*-ubyte.gz files")
	out := flag.String("out", "examples/he-convnet/testdata", "output folder")
	n := flag.Int("n", 200, "number of leading test images to keep")
	flag.Parse()
	if err := run(*in, *out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "mksubset:", err)
		os.Exit(1)
	}
}

func run(in, out string, n int) error {
	images, labels, err := dataset.LoadFashionMNIST(in, "t10k")
	if err != nil {
		return err
	}
	if n < 1 || n > images.Count {
		return fmt.Errorf("-n = %d, want 1..%d", n, images.Count)
	}
	pix := images.Rows * images.Cols
	hdr := binary.BigEndian.AppendUint32(nil, dataset.IDXMagicImages)
	for _, d := range []int{n, images.Rows, images.Cols} {
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	if err := writeGz(filepath.Join(out, "t10k-images-idx3-ubyte.gz"), hdr, images.Pix[:n*pix]); err != nil {
		return err
	}
	hdr = binary.BigEndian.AppendUint32(nil, dataset.IDXMagicLabels)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(n))
	return writeGz(filepath.Join(out, "t10k-labels-idx1-ubyte.gz"), hdr, labels[:n])
}

func writeGz(path string, parts ...[]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		f.Close()
		return err
	}
	for _, p := range parts {
		if _, err := zw.Write(p); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
