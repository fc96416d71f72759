package transport

import (
	"crypto/sha256"
	"hash"
)

// MaxChunkSize is the largest data chunk of an upload stream: 1 MiB.
const MaxChunkSize = 1 << 20

// assembler checks an upload stream's chunks against the size announced
// in its header and either collects them (buf non-nil) or only hashes
// them (a retry of an upload already accepted: the digest tells whether
// it is the same message). It is a pure state machine, fuzzed.
type assembler struct {
	want uint64
	got  uint64
	buf  []byte
	h    hash.Hash
}

// newAssembler starts an upload of total bytes, where the round accepts
// from lo to hi bytes. collect says whether to keep the bytes, in buf if
// its capacity suffices.
func newAssembler(total, lo, hi uint64, collect bool, buf []byte) (*assembler, error) {
	if total > hi {
		return nil, errorf(ErrTooLarge, "upload announces %d bytes, the round's masked input has at most %d", total, hi)
	}
	if total < lo {
		return nil, errorf(ErrUpload, "upload announces %d bytes, the round's masked input has at least %d", total, lo)
	}
	want := total
	a := &assembler{want: want, h: sha256.New()}
	if collect {
		if uint64(cap(buf)) >= want {
			a.buf = buf[:0]
		} else {
			a.buf = make([]byte, 0, want)
		}
	}
	return a, nil
}

// add takes the next chunk.
func (a *assembler) add(chunk []byte) error {
	if len(chunk) == 0 {
		return errorf(ErrUpload, "empty chunk at offset %d", a.got)
	}
	if len(chunk) > MaxChunkSize {
		return errorf(ErrTooLarge, "chunk of %d bytes at offset %d exceeds the %d-byte limit", len(chunk), a.got, MaxChunkSize)
	}
	if uint64(len(chunk)) > a.want-a.got {
		return errorf(ErrTooLarge, "chunk of %d bytes at offset %d runs past the announced %d bytes", len(chunk), a.got, a.want)
	}
	a.h.Write(chunk)
	if a.buf != nil {
		a.buf = append(a.buf, chunk...)
	}
	a.got += uint64(len(chunk))
	return nil
}

// finish checks that the announced size arrived and returns the message
// (nil when not collecting) and its digest.
func (a *assembler) finish() ([]byte, [32]byte, error) {
	var d [32]byte
	if a.got != a.want {
		return nil, d, errorf(ErrUpload, "stream ended after %d of the announced %d bytes", a.got, a.want)
	}
	a.h.Sum(d[:0])
	return a.buf, d, nil
}

// release returns the collecting buffer (masked bytes, so not secret)
// for reuse, or nil.
func (a *assembler) release() []byte {
	b := a.buf
	a.buf = nil
	return b
}
