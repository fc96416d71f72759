package prg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/privml/privml/internal/vec"
)

// SeedSize is the length in bytes of a seed: an AES-256 key.
const SeedSize = 32

// ErrShortRead reports that a randomness source could not supply a full seed.
var ErrShortRead = errors.New("prg: randomness source failed")

// chunkWords is the number of 64-bit words of keystream generated per chunk:
// 8 KiB, small enough for L1 and large enough to amortise the call overhead
// of the AES-CTR assembly.
const chunkWords = 1024

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// zeros is the all-zero plaintext that the keystream is XORed onto. It is
// never written.
var zeros [chunkWords * 8]byte

// zeroIV is the initial counter block used for every seed. Each seed keys
// exactly one stream, so a fixed counter block never repeats a (key,
// counter) pair across streams.
var zeroIV [aes.BlockSize]byte

// NewSeed returns a fresh uniformly random seed read from rand, or from
// crypto/rand when rand is nil.
func NewSeed(rand io.Reader) ([SeedSize]byte, error) {
	var s [SeedSize]byte
	if rand == nil {
		rand = cryptoRand
	}
	if _, err := io.ReadFull(rand, s[:]); err != nil {
		clear(s[:])
		return s, fmt.Errorf("%w: cannot read a %d-byte seed: %w", ErrShortRead, SeedSize, err)
	}
	return s, nil
}

var cryptoRand = rand.Reader

// newStream returns the AES-256-CTR keystream generator keyed by seed with
// the initial counter block iv (big-endian 128-bit counter, NIST SP 800-38A
// section 6.5 with the standard incrementing function).
func newStream(seed *[SeedSize]byte, iv *[aes.BlockSize]byte) cipher.Stream {
	b, err := aes.NewCipher(seed[:])
	if err != nil {
		// A 32-byte key is always valid for AES.
		panic("prg: AES-256 key setup failed: " + err.Error())
	}
	return cipher.NewCTR(b, iv[:])
}

// reader is the keystream of one seed. It is not safe for concurrent use.
type reader struct {
	s cipher.Stream
}

// NewReader returns the raw keystream of seed: AES-256 in counter mode with
// an all-zero initial counter block, as an io.Reader that never fails. The
// masks of [ExpandAddMod32] and the other Expand functions are the first
// bytes of this stream. The reader is not safe for concurrent use.
func NewReader(seed *[SeedSize]byte) io.Reader {
	return &reader{s: newStream(seed, &zeroIV)}
}

// Read fills p with the next len(p) bytes of the keystream. It always
// returns len(p), nil.
func (r *reader) Read(p []byte) (int, error) {
	for q := p; len(q) > 0; {
		n := min(len(q), len(zeros))
		r.s.XORKeyStream(q[:n], zeros[:n])
		q = q[n:]
	}
	return len(p), nil
}

// ExpandAddMod32 adds the mask expanded from seed to dst modulo 2^bits:
// dst[i] = (dst[i] + mask[i]) mod 2^bits, where mask[i] is the i-th
// little-endian 4-byte word of the keystream of [NewReader] masked to its
// low bits bits. It panics unless 1 <= bits <= 32.
func ExpandAddMod32(dst []uint32, seed *[SeedSize]byte, bits uint) {
	expand32(dst, seed, bits, vec.AddMod32)
}

// ExpandSubMod32 subtracts the mask of [ExpandAddMod32] from dst modulo
// 2^bits, undoing it. It panics unless 1 <= bits <= 32.
func ExpandSubMod32(dst []uint32, seed *[SeedSize]byte, bits uint) {
	expand32(dst, seed, bits, vec.SubMod32)
}

// ExpandAddMod64 adds the mask expanded from seed to dst modulo 2^bits,
// where mask[i] is the i-th little-endian 8-byte word of the keystream of
// [NewReader] masked to its low bits bits. It panics unless 1 <= bits <= 64.
func ExpandAddMod64(dst []uint64, seed *[SeedSize]byte, bits uint) {
	expand64(dst, seed, bits, vec.AddMod64)
}

// ExpandSubMod64 subtracts the mask of [ExpandAddMod64] from dst modulo
// 2^bits, undoing it. It panics unless 1 <= bits <= 64.
func ExpandSubMod64(dst []uint64, seed *[SeedSize]byte, bits uint) {
	expand64(dst, seed, bits, vec.SubMod64)
}

// Adding or subtracting the full keystream word modulo 2^bits is the same
// as adding the word masked to bits bits, since 2^bits divides 2^32 and 2^64;
// the kernels apply the mask.

func expand32(dst []uint32, seed *[SeedSize]byte, bits uint, op func(dst, src []uint32, bits uint)) {
	if bits < 1 || bits > 32 {
		panic("prg: bits out of range [1,32]")
	}
	if len(dst) == 0 {
		return
	}
	apply32(dst, newStream(seed, &zeroIV), bits, op)
}

// apply32 applies op to dst and the next 4*len(dst) bytes of s, read as
// little-endian words, chunk by chunk.
func apply32(dst []uint32, s cipher.Stream, bits uint, op func(dst, src []uint32, bits uint)) {
	buf := chunkPool.Get().(*chunk)
	for len(dst) > 0 {
		n := min(len(dst), 2*chunkWords)
		op(dst[:n], buf.fill32(s, n), bits)
		dst = dst[n:]
	}
	buf.wipe()
	chunkPool.Put(buf)
}

func expand64(dst []uint64, seed *[SeedSize]byte, bits uint, op func(dst, src []uint64, bits uint)) {
	if bits < 1 || bits > 64 {
		panic("prg: bits out of range [1,64]")
	}
	if len(dst) == 0 {
		return
	}
	apply64(dst, newStream(seed, &zeroIV), bits, op)
}

// apply64 is apply32 for 8-byte words.
func apply64(dst []uint64, s cipher.Stream, bits uint, op func(dst, src []uint64, bits uint)) {
	buf := chunkPool.Get().(*chunk)
	for len(dst) > 0 {
		n := min(len(dst), chunkWords)
		op(dst[:n], buf.fill64(s, n), bits)
		dst = dst[n:]
	}
	buf.wipe()
	chunkPool.Put(buf)
}
