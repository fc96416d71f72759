// Package atomicfile writes files so that a reader (or a process restarted
// after a crash) sees either the old content or the new, never a mix: the
// data goes to a temporary file in the same directory, is flushed to disk,
// and is renamed over the target, after which the directory is flushed
// too (POSIX rename(2) is atomic within one file system).
//
// The temporary file is created with mode 0600 and changed to the
// requested mode before the rename, so a private key is never readable by
// others, not even for an instant.
package atomicfile
