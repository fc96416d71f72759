//go:build purego

package prg

import (
	"crypto/cipher"
	"encoding/binary"
)

// chunk is a reusable keystream buffer with word arrays the keystream bytes
// are decoded into.
type chunk struct {
	b   [8 * chunkWords]byte
	w32 [2 * chunkWords]uint32
	w64 [chunkWords]uint64
}

// fill32 writes the next 4n keystream bytes of s into c and returns them
// decoded as n little-endian words. n <= 2*chunkWords.
func (c *chunk) fill32(s cipher.Stream, n int) []uint32 {
	b := c.b[:4*n]
	s.XORKeyStream(b, zeros[:4*n])
	w := c.w32[:n]
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

// fill64 writes the next 8n keystream bytes of s into c and returns them
// decoded as n little-endian words. n <= chunkWords.
func (c *chunk) fill64(s cipher.Stream, n int) []uint64 {
	b := c.b[:8*n]
	s.XORKeyStream(b, zeros[:8*n])
	w := c.w64[:n]
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return w
}

func (c *chunk) wipe() {
	clear(c.b[:])
	clear(c.w32[:])
	clear(c.w64[:])
}
