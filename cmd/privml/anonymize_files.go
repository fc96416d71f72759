package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// namedPath is a file the command reads or writes, with the flag that
// named it.
type namedPath struct {
	flag, path string
	write      bool
}

// fileID is where a path leads: the absolute path with every symbolic
// link resolved (for a file that does not exist yet, its folder resolved,
// and a symbolic link to it followed), and the file's info when it exists.
type fileID struct {
	resolved string
	info     fs.FileInfo
	loop     bool // symbolic links that never reach a file
}

// maxLinkHops bounds the symbolic links followed to a missing file.
const maxLinkHops = 40

func identify(path string) fileID {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	for hop := 0; ; hop++ {
		if hop == maxLinkHops {
			return fileID{resolved: abs, loop: true}
		}
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			id := fileID{resolved: r}
			if fi, err := os.Stat(r); err == nil {
				id.info = fi
			}
			return id
		}
		// A link whose target does not exist yet: writing through it
		// creates the target, so the target is where the path leads.
		fi, err := os.Lstat(abs)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			break
		}
		dst, err := os.Readlink(abs)
		if err != nil {
			break
		}
		if !filepath.IsAbs(dst) {
			dst = filepath.Join(filepath.Dir(abs), dst)
		}
		abs = dst
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return fileID{resolved: filepath.Join(d, filepath.Base(abs))}
	}
	return fileID{resolved: abs}
}

// sameFile reports whether two identified paths lead to one file: the
// same resolved path, or the same device and inode (hard links).
func sameFile(a, b fileID) bool {
	if a.resolved == b.resolved {
		return true
	}
	return a.info != nil && b.info != nil && os.SameFile(a.info, b.info)
}

// files lists every file of the run: --in, --out, --report, each
// --hierarchy file and --key-file.
func (cmd *anonymizeCmd) files() []namedPath {
	ps := []namedPath{{flag: "--in", path: cmd.in}, {flag: "--out", path: cmd.out, write: true}}
	if cmd.report != "" {
		ps = append(ps, namedPath{flag: "--report", path: cmd.report, write: true})
	}
	cols := make([]string, 0, len(cmd.hierFile))
	for c := range cmd.hierFile {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		ps = append(ps, namedPath{flag: "--hierarchy " + c, path: cmd.hierFile[c]})
	}
	if cmd.keyFile != "" {
		ps = append(ps, namedPath{flag: "--key-file", path: cmd.keyFile})
	}
	return ps
}

// checkDistinct refuses two flags that name the same file, after
// resolving symbolic links and comparing inodes, so that no output can
// overwrite an input or another output. Two outputs that do not exist yet
// and whose paths differ only in case are refused too: on a
// case-insensitive file system they are one file. An output path ending
// in a slash names a folder and is refused.
func checkDistinct(ps []namedPath) ([]fileID, error) {
	ids := make([]fileID, len(ps))
	for i, p := range ps {
		if p.write && strings.HasSuffix(p.path, string(filepath.Separator)) {
			return nil, usageErr("%s %s: ends in %q, which names a folder; give a file name", p.flag, p.path, filepath.Separator)
		}
		ids[i] = identify(p.path)
		if ids[i].loop {
			return nil, usageErr("%s %s: too many levels of symbolic links", p.flag, p.path)
		}
		for j := range i {
			if sameFile(ids[i], ids[j]) {
				return nil, usageErr("%s %s and %s %s name the same file (%s); give each its own file",
					ps[j].flag, ps[j].path, ps[i].flag, ps[i].path, ids[i].resolved)
			}
			if p.write && ps[j].write && ids[i].info == nil && ids[j].info == nil && strings.EqualFold(ids[i].resolved, ids[j].resolved) {
				return nil, usageErr("%s %s and %s %s differ only in case, so they are one file on a case-insensitive file system; give each its own name",
					ps[j].flag, ps[j].path, ps[i].flag, ps[i].path)
			}
		}
	}
	return ids, nil
}

// pendingFile is an output written to a temporary file in the folder of
// its target and renamed onto the target at commit, so that a failure
// leaves the target as it was.
type pendingFile struct {
	flag, path string // as the user gave them
	target     string // symbolic links resolved
	tmp        *os.File
}

// newPending checks that target can be replaced and creates the
// temporary file beside it. Errors name the user's path, never the
// temporary file.
func newPending(p namedPath, id fileID) (*pendingFile, error) {
	if id.info != nil && !id.info.Mode().IsRegular() {
		what := "not a regular file"
		if id.info.IsDir() {
			what = "a folder"
		}
		return nil, fmt.Errorf("%s %s: is %s", p.flag, p.path, what)
	}
	if id.info != nil {
		// The rename would replace a file the user may not write (a
		// read-only copy): respect its permissions. Opening without
		// O_TRUNC changes nothing.
		w, err := os.OpenFile(id.resolved, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("%s %s: cannot replace it: %w", p.flag, p.path, pathErr(err))
		}
		w.Close()
	}
	dir := filepath.Dir(id.resolved)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%s %s: folder %s: %w", p.flag, p.path, dir, pathErr(err))
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s %s: %s is not a folder", p.flag, p.path, dir)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(id.resolved)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("%s %s: cannot write in folder %s: %w", p.flag, p.path, dir, pathErr(err))
	}
	if id.info != nil {
		// Keep the permissions of the file being replaced.
		tmp.Chmod(id.info.Mode().Perm())
	}
	return &pendingFile{flag: p.flag, path: p.path, target: id.resolved, tmp: tmp}, nil
}

// write fills the temporary file and closes it.
func (f *pendingFile) write(fill func(io.Writer) error) error {
	err := fill(f.tmp)
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", f.flag, f.path, pathErr(err))
	}
	return nil
}

// outputs are the files a run writes; nothing reaches a target before
// commit.
type outputs struct {
	out, report *pendingFile
}

// openOutputs checks every path of the run before any work: no two flags
// name the same file, and each output's folder exists and takes a new
// file (the temporary file that will replace the output).
func (cmd *anonymizeCmd) openOutputs() (*outputs, error) {
	ps := cmd.files()
	ids, err := checkDistinct(ps)
	if err != nil {
		return nil, err
	}
	o := &outputs{}
	for i, p := range ps {
		if !p.write {
			continue
		}
		f, err := newPending(p, ids[i])
		if err != nil {
			o.discard()
			return nil, err
		}
		if p.flag == "--out" {
			o.out = f
		} else {
			o.report = f
		}
	}
	return o, nil
}

// commit renames the written temporary files onto their targets, the
// output first. Each rename is atomic, the pair is not: if the second
// fails (rare within one folder), the output is new and the report old.
func (o *outputs) commit() error {
	for _, f := range []*pendingFile{o.out, o.report} {
		if f == nil {
			continue
		}
		if err := os.Rename(f.tmp.Name(), f.target); err != nil {
			return fmt.Errorf("%s %s: %w", f.flag, f.path, pathErr(err))
		}
	}
	return nil
}

// discard removes the temporary files left (none after a commit).
func (o *outputs) discard() {
	for _, f := range []*pendingFile{o.out, o.report} {
		if f != nil {
			f.tmp.Close()
			os.Remove(f.tmp.Name())
		}
	}
}

// pathErr strips the path from a file-system error, whose path may be a
// temporary file the user never named; callers put the user's path first.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
