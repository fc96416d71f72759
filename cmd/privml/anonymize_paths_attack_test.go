package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAnonymizePathAttacks: colliding paths that the plain resolution
// misses are refused before any work, and nothing is written.
//   - A dangling symbolic link as --out whose target is --report: the
//     link is followed (as for an existing target), so both outputs would
//     land in one file.
//   - A symbolic link chain (two hops) and /proc/self/fd are resolved.
//   - Two new outputs whose names differ only in case are one file on a
//     case-insensitive file system: refused everywhere.
//   - A trailing slash names a folder, never a file.
//   - A loop of symbolic links is refused, not replaced by the output.
func TestAnonymizePathAttacks(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, smallCSV)
	target := filepath.Join(dir, "target.csv")
	dangling := filepath.Join(dir, "dangling.csv")
	require.NoError(t, os.Symlink("target.csv", dangling))
	l1, l2 := filepath.Join(dir, "l1"), filepath.Join(dir, "l2")
	require.NoError(t, os.Symlink("in.csv", l1))
	require.NoError(t, os.Symlink("l1", l2))
	require.NoError(t, os.Symlink("loopB", filepath.Join(dir, "loopA")))
	require.NoError(t, os.Symlink("loopA", filepath.Join(dir, "loopB")))
	f, err := os.Open(in)
	require.NoError(t, err)
	defer f.Close()
	procFD := "/proc/self/fd/" + itoa(int(f.Fd()))
	base := []string{"--qi", "age,zip", "--k", "2"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"dangling link onto report", []string{"--in", in, "--out", dangling, "--report", target}, "same file"},
		{"two-hop link chain", []string{"--in", l2, "--out", in}, "same file"},
		{"case-only difference", []string{"--in", in, "--out", filepath.Join(dir, "Out.csv"), "--report", filepath.Join(dir, "out.CSV")}, "differ only in case"},
		{"trailing slash", []string{"--in", in, "--out", filepath.Join(dir, "o.csv") + "/"}, "folder"},
		{"link loop", []string{"--in", in, "--out", filepath.Join(dir, "loopA")}, "too many levels of symbolic links"},
	}
	if _, err := os.Stat(procFD); err == nil {
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"/proc/self/fd", []string{"--in", in, "--out", procFD}, "same file"})
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, append(c.args, base...)...)
		assert.NotEqual(t, 0, code, "%s: accepted", c.name)
		assert.Contains(t, stderr, c.want, c.name)
		assert.Equal(t, smallCSV, readFile(t, in), c.name)
		_, err := os.Stat(target)
		assert.True(t, os.IsNotExist(err), "%s: wrote %s", c.name, target)
		_, err = os.Stat(filepath.Join(dir, "o.csv"))
		assert.True(t, os.IsNotExist(err), "%s: wrote o.csv", c.name)
		assertNoTemp(t, dir)
		fi, err := os.Lstat(filepath.Join(dir, "loopA"))
		require.NoError(t, err)
		assert.NotZero(t, fi.Mode()&os.ModeSymlink, "%s: the link loop was replaced", c.name)
	}

	// A dangling link as the only output is followed: the output lands in
	// its target and the link stays a link.
	code, _, stderr := runCLI(t, append([]string{"--in", in, "--out", dangling}, base...)...)
	require.Equal(t, 0, code, stderr)
	fi, err := os.Lstat(dangling)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSymlink, fi.Mode()&os.ModeSymlink, "the link was replaced by a file")
	assert.Contains(t, readFile(t, target), "age,zip,disease")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestAnonymizeRespectsReadOnlyOutput: an existing output the user may
// not write is not replaced by the rename (which only needs the folder to
// be writable). Skipped as root, who may write any file.
func TestAnonymizeRespectsReadOnlyOutput(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write a read-only file")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, smallCSV)
	out := filepath.Join(dir, "master.csv")
	writeFile(t, out, "read-only master copy\n")
	require.NoError(t, os.Chmod(out, 0o444))
	code, _, stderr := runCLI(t, "--in", in, "--out", out, "--qi", "age,zip", "--k", "2")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "--out "+out+": cannot replace it")
	assert.Equal(t, "read-only master copy\n", readFile(t, out))
	assertNoTemp(t, dir)
}
