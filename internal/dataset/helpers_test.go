package dataset

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// datasetsDir returns the shared data folder, from $PRIVML_DATASETS or
// ../shared/datasets next to the repository root, and skips the test when it
// is missing.
func datasetsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PRIVML_DATASETS")
	if dir == "" {
		root, err := filepath.Abs(".")
		if err != nil {
			t.Skipf("cannot find the repository root: %v", err)
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Skip("no go.mod above the test directory; set PRIVML_DATASETS")
			}
			root = parent
		}
		dir = filepath.Join(root, "..", "shared", "datasets")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared data sets not found at %s (set PRIVML_DATASETS): %v", dir, err)
	}
	return dir
}

// sharedFile returns the path of a file under the shared data folder, and
// skips the test when it is missing.
func sharedFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(datasetsDir(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found: %v", p, err)
	}
	return p
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkErr asserts that err wraps kind, is a *ParseError, and that its
// message contains every one of want.
func checkErr(t *testing.T, err, kind error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q does not wrap %v", err, kind)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Errorf("error %q (%T) is not a *ParseError", err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// failReader returns its data, then a fixed error.
type failReader struct {
	data []byte
	err  error
}

func (r *failReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}
