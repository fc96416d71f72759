package transport

import (
	"encoding/binary"
	"hash/maphash"
)

// MaxChunkSize is the largest data chunk of an upload or download stream:
// 1 MiB.
const MaxChunkSize = 1 << 20

// maxPrealloc bounds what a download reserves before its bytes arrive, so
// that a header announcing a large message costs the client nothing until
// the data follow.
const maxPrealloc = 16 * MaxChunkSize

// uploadSeeds key the fingerprints of a server's uploads: two random
// maphash seeds drawn when the server starts, never sent anywhere.
type uploadSeeds [2]maphash.Seed

func newUploadSeeds() uploadSeeds { return uploadSeeds{maphash.MakeSeed(), maphash.MakeSeed()} }

// assembler checks a stream's chunks against the size announced in its
// header and either collects them or only fingerprints them (a retry of an
// upload already accepted: the fingerprint tells whether it is the same
// message). The fingerprint is 128 bits of maphash under the server's
// secret seeds: it only decides whether a client's retry is answered
// "duplicate" or AlreadyExists, and either answer leaves the round as it
// was (a second masked input is never added), so it needs no collision
// resistance against the client beyond what unknown keys give; it costs a
// small fraction of SHA-256 over every masked input. Uploads (client to
// server) and downloads (server to client) follow the same rules: chunks
// of 1 to MaxChunkSize bytes, never past the announced size, which must be
// reached. A collecting assembler without a buffer of the message's size
// starts with one of at most maxPrealloc bytes and grows it (see grow)
// when full, so that its buffers add up to less than twice the message.
// It is a pure state machine, fuzzed.
type assembler struct {
	want    uint64
	got     uint64
	collect bool
	buf     []byte
	spare   []byte           // a buffer for reuse, kept while a chunk is adopted
	fp      *[2]maphash.Hash // nil: no fingerprint (downloads)
	// what names the stream in errors; malformed and tooLarge are the
	// sentinels its errors wrap.
	what                string
	malformed, tooLarge error
}

// newAssembler starts an upload of total bytes, where the round accepts
// from lo to hi bytes. collect says whether to keep the bytes, in buf if
// its capacity suffices (unless the first chunk is the whole message,
// which is kept as it is); seeds key the fingerprint.
func newAssembler(total, lo, hi uint64, collect bool, buf []byte, seeds uploadSeeds) (*assembler, error) {
	if total > hi {
		return nil, errorf(ErrTooLarge, "upload announces %d bytes, the round's masked input has at most %d", total, hi)
	}
	if total < lo {
		return nil, errorf(ErrUpload, "upload announces %d bytes, the round's masked input has at least %d", total, lo)
	}
	a := &assembler{want: total, collect: collect, fp: new([2]maphash.Hash), what: "upload", malformed: ErrUpload, tooLarge: ErrTooLarge}
	a.fp[0].SetSeed(seeds[0])
	a.fp[1].SetSeed(seeds[1])
	if collect && uint64(cap(buf)) >= total {
		a.spare = buf[:0]
	}
	return a, nil
}

// newDownload starts the download of a server message of total bytes,
// where the client accepts at most limit. Its errors wrap ErrDownload.
func newDownload(total, limit uint64) (*assembler, error) {
	if total > limit {
		return nil, errorf(ErrDownload, "the server announces a message of %d bytes, the client accepts at most %d (ClientConfig.MaxDownloadSize)", total, limit)
	}
	return &assembler{want: total, collect: true, what: "download", malformed: ErrDownload, tooLarge: ErrDownload}, nil
}

// add takes the next chunk. A collecting assembler without a buffer keeps
// a chunk that is the whole message as it is, without a copy.
func (a *assembler) add(chunk []byte) error {
	if len(chunk) == 0 {
		return errorf(a.malformed, "empty %s chunk at offset %d", a.what, a.got)
	}
	if len(chunk) > MaxChunkSize {
		return errorf(a.tooLarge, "%s chunk of %d bytes at offset %d exceeds the %d-byte limit", a.what, len(chunk), a.got, MaxChunkSize)
	}
	if uint64(len(chunk)) > a.want-a.got {
		return errorf(a.tooLarge, "%s chunk of %d bytes at offset %d runs past the announced %d bytes", a.what, len(chunk), a.got, a.want)
	}
	if a.fp != nil {
		a.fp[0].Write(chunk)
		a.fp[1].Write(chunk)
	}
	switch {
	case !a.collect:
	case a.buf == nil && uint64(len(chunk)) == a.want:
		a.buf = chunk // the whole message in one chunk: no copy
	default:
		if a.buf == nil {
			if a.spare != nil {
				a.buf, a.spare = a.spare, nil
			} else {
				a.buf = make([]byte, 0, min(a.want, maxPrealloc))
			}
		}
		if n := uint64(len(a.buf)) + uint64(len(chunk)); n > uint64(cap(a.buf)) {
			a.buf = a.grow(n)
		}
		a.buf = append(a.buf, chunk...)
	}
	a.got += uint64(len(chunk))
	return nil
}

// grow returns the buffer with room for n bytes: twice its capacity, or
// the announced size once a doubling would not reach it any more. The
// buffers a message outgrows then add up to less than it (each at most
// half the next, the last below half the message), where append, which
// grows a large slice by a quarter at a time, would allocate about five
// times the message in all.
func (a *assembler) grow(n uint64) []byte {
	c := max(n, 2*uint64(cap(a.buf)))
	if 2*c >= a.want {
		c = a.want
	}
	nb := make([]byte, len(a.buf), c)
	copy(nb, a.buf)
	return nb
}

// finish checks that the announced size arrived and returns the message
// (nil when not collecting, or empty) and its fingerprint (zero for a
// download).
func (a *assembler) finish() ([]byte, [32]byte, error) {
	var d [32]byte
	if a.got != a.want {
		return nil, d, errorf(a.malformed, "%s stream ended after %d of the announced %d bytes", a.what, a.got, a.want)
	}
	if a.fp != nil {
		binary.LittleEndian.PutUint64(d[0:8], a.fp[0].Sum64())
		binary.LittleEndian.PutUint64(d[8:16], a.fp[1].Sum64())
	}
	return a.buf, d, nil
}

// release returns a buffer (masked bytes, so not secret) for reuse: the
// spare one if the message was adopted or never collected, else the one
// that collected it; or nil.
func (a *assembler) release() []byte {
	b := a.spare
	if b == nil {
		b = a.buf
	}
	a.buf, a.spare = nil, nil
	return b
}
