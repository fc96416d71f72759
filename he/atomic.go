package he

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic writes data to path with mode perm through a temporary
// file in the same folder, synced and renamed over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("he: cannot write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("he: cannot set the mode of %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("he: cannot write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("he: cannot sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("he: cannot close %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("he: cannot rename into %s: %w", path, err)
	}
	return nil
}
