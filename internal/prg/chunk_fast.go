//go:build !purego

package prg

import (
	"crypto/cipher"
	"math/bits"
	"unsafe"
)

// chunk is a reusable keystream buffer, kept as uint64 words so that it is
// 8-byte aligned and its bytes can be read in place as little-endian
// uint32 or uint64 words.
type chunk [chunkWords]uint64

// littleEndian reports whether the machine stores words little-endian, in
// which case the keystream bytes are already the little-endian words.
var littleEndian = func() bool {
	x := uint16(1)
	// #nosec G103 -- reads the first byte of a local uint16.
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func (c *chunk) bytes() []byte {
	// #nosec G103 -- views the chunk's 8*chunkWords bytes; the slice does not outlive c.
	return unsafe.Slice((*byte)(unsafe.Pointer(&c[0])), 8*chunkWords)
}

// fill32 writes the next 4n keystream bytes of s into c and returns them
// as n little-endian words. n <= 2*chunkWords.
func (c *chunk) fill32(s cipher.Stream, n int) []uint32 {
	s.XORKeyStream(c.bytes()[:4*n], zeros[:4*n])
	// #nosec G103 -- views the first 4n bytes of the chunk as n uint32s (aligned).
	w := unsafe.Slice((*uint32)(unsafe.Pointer(&c[0])), n)
	if !littleEndian {
		for i, v := range w {
			w[i] = bits.ReverseBytes32(v)
		}
	}
	return w
}

// fill64 writes the next 8n keystream bytes of s into c and returns them
// as n little-endian words. n <= chunkWords.
func (c *chunk) fill64(s cipher.Stream, n int) []uint64 {
	s.XORKeyStream(c.bytes()[:8*n], zeros[:8*n])
	w := c[:n]
	if !littleEndian {
		for i, v := range w {
			w[i] = bits.ReverseBytes64(v)
		}
	}
	return w
}

func (c *chunk) wipe() { clear(c[:]) }
