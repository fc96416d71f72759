package prg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"

	"github.com/privml/privml/internal/vec"
)

// Mask is the keystream of one seed with its AES key schedule computed
// once, for expanding a mask piece by piece: [Mask.AddMod32At] adds to dst
// the elements off, off+1, ... of the mask that [ExpandAddMod32] adds to a
// whole vector. Cutting a vector into pieces and expanding each piece of
// every mask at its offset (in any order, on any goroutine) gives exactly
// the result of the Expand functions on the whole vector; a server removing
// many masks can so keep one piece in cache while it adds all of them.
//
// The window starts at counter block off*w/16 of the stream (w = 4 or 8
// bytes per element; CTR mode gives random access to the keystream),
// skipping the first (off*w) mod 16 bytes of that block. A Mask is safe
// for concurrent use: every call makes its own counter state.
type Mask struct {
	b cipher.Block
}

// NewMask returns the mask of seed. The key schedule it holds is as secret
// as the seed; Go offers no way to erase it.
func NewMask(seed *[SeedSize]byte) *Mask {
	b, err := aes.NewCipher(seed[:])
	if err != nil {
		// A 32-byte key is always valid for AES.
		panic("prg: AES-256 key setup failed: " + err.Error())
	}
	return &Mask{b: b}
}

// stream returns the keystream positioned at byte offset pos.
func (m *Mask) stream(pos uint64) cipher.Stream {
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], pos/aes.BlockSize)
	s := cipher.NewCTR(m.b, iv[:])
	if r := pos % aes.BlockSize; r != 0 {
		var skip [aes.BlockSize]byte
		s.XORKeyStream(skip[:r], skip[:r])
	}
	return s
}

// AddMod32At adds elements off to off+len(dst)-1 of the mask of
// [ExpandAddMod32] to dst modulo 2^bits. It panics unless 1 <= bits <= 32
// and off >= 0.
func (m *Mask) AddMod32At(dst []uint32, off int, bits uint) {
	m.at32(dst, off, bits, vec.AddMod32)
}

// SubMod32At subtracts what [Mask.AddMod32At] adds.
func (m *Mask) SubMod32At(dst []uint32, off int, bits uint) {
	m.at32(dst, off, bits, vec.SubMod32)
}

// AddMod64At adds elements off to off+len(dst)-1 of the mask of
// [ExpandAddMod64] to dst modulo 2^bits. It panics unless 1 <= bits <= 64
// and off >= 0.
func (m *Mask) AddMod64At(dst []uint64, off int, bits uint) {
	m.at64(dst, off, bits, vec.AddMod64)
}

// SubMod64At subtracts what [Mask.AddMod64At] adds.
func (m *Mask) SubMod64At(dst []uint64, off int, bits uint) {
	m.at64(dst, off, bits, vec.SubMod64)
}

func (m *Mask) at32(dst []uint32, off int, bits uint, op func(dst, src []uint32, bits uint)) {
	if bits < 1 || bits > 32 {
		panic("prg: bits out of range [1,32]")
	}
	if off < 0 {
		panic("prg: negative mask offset")
	}
	if len(dst) == 0 {
		return
	}
	apply32(dst, m.stream(4*uint64(off)), bits, op)
}

func (m *Mask) at64(dst []uint64, off int, bits uint, op func(dst, src []uint64, bits uint)) {
	if bits < 1 || bits > 64 {
		panic("prg: bits out of range [1,64]")
	}
	if off < 0 {
		panic("prg: negative mask offset")
	}
	if len(dst) == 0 {
		return
	}
	apply64(dst, m.stream(8*uint64(off)), bits, op)
}
