package secagg

import (
	"encoding/binary"
	"errors"

	"github.com/privml/privml/internal/prg"
	"github.com/privml/privml/internal/vec"
)

// vector is an element of Z_{2^bits}^n, stored in 32-bit words when
// bits <= 32 (half the memory and PRG output) and 64-bit words otherwise.
type vector struct {
	bits uint
	w32  []uint32
	w64  []uint64
}

func newVector(bits uint, n int) vector {
	if bits <= 32 {
		return vector{bits: bits, w32: make([]uint32, n)}
	}
	return vector{bits: bits, w64: make([]uint64, n)}
}

func (v *vector) len() int {
	if v.w32 != nil {
		return len(v.w32)
	}
	return len(v.w64)
}

func (v *vector) wipe() {
	clear(v.w32)
	clear(v.w64)
}

// addMask adds the AES-CTR expansion of seed.
func (v *vector) addMask(seed *[32]byte) {
	if v.w32 != nil {
		prg.ExpandAddMod32(v.w32, seed, v.bits)
	} else {
		prg.ExpandAddMod64(v.w64, seed, v.bits)
	}
}

// subMask subtracts the AES-CTR expansion of seed.
func (v *vector) subMask(seed *[32]byte) {
	if v.w32 != nil {
		prg.ExpandSubMod32(v.w32, seed, v.bits)
	} else {
		prg.ExpandSubMod64(v.w64, seed, v.bits)
	}
}

// add adds o, of the same length and width.
func (v *vector) add(o *vector) {
	if v.w32 != nil {
		vec.AddMod32(v.w32, o.w32, v.bits)
	} else {
		vec.AddMod64(v.w64, o.w64, v.bits)
	}
}

// setSigned stores x mod 2^bits.
func (v *vector) setSigned(x []int64) {
	if v.w32 != nil {
		m := uint32(1)<<v.bits - 1
		if v.bits == 32 {
			m = ^uint32(0)
		}
		for i, e := range x {
			v.w32[i] = uint32(e) & m
		}
		return
	}
	m := uint64(1)<<v.bits - 1
	for i, e := range x {
		v.w64[i] = uint64(e) & m
	}
}

// centred writes the centred representatives in [-2^(bits-1), 2^(bits-1)).
func (v *vector) centred(dst []int64) {
	half := uint64(1) << (v.bits - 1)
	mod := int64(1) << v.bits
	if v.w32 != nil {
		for i, e := range v.w32 {
			dst[i] = int64(e)
			if uint64(e) >= half {
				dst[i] -= mod
			}
		}
		return
	}
	for i, e := range v.w64 {
		dst[i] = int64(e)
		if e >= half {
			dst[i] -= mod
		}
	}
}

// packedLen is the number of bytes of n elements of bits bits, packed
// little-endian with no padding between elements.
func packedLen(bits uint, n int) int { return (n*int(bits) + 7) / 8 }

// appendPacked appends the bit-packed encoding of v.
func (v *vector) appendPacked(b []byte) []byte {
	n := v.len()
	off := len(b)
	b = append(b, make([]byte, packedLen(v.bits, n))...)
	out := b[off:]
	switch v.bits {
	case 8:
		for i, e := range v.w32 {
			out[i] = byte(e)
		}
		return b
	case 16:
		for i, e := range v.w32 {
			binary.LittleEndian.PutUint16(out[2*i:], uint16(e))
		}
		return b
	case 32:
		for i, e := range v.w32 {
			binary.LittleEndian.PutUint32(out[4*i:], e)
		}
		return b
	}
	var acc uint64
	var nacc uint
	k := 0
	push := func(x uint64, w uint) {
		acc |= x << nacc
		nacc += w
		for nacc >= 8 {
			out[k] = byte(acc)
			k++
			acc >>= 8
			nacc -= 8
		}
	}
	if v.w32 != nil {
		for _, e := range v.w32 {
			push(uint64(e), v.bits)
		}
	} else {
		for _, e := range v.w64 {
			push(e&(1<<32-1), 32)
			push(e>>32, v.bits-32)
		}
	}
	if nacc > 0 {
		out[k] = byte(acc)
	}
	return b
}

var errPacking = errors.New("non-canonical packing")

// unpack decodes exactly packedLen(v.bits, v.len()) bytes into v. The
// padding bits of the last byte must be zero, so that the encoding is
// canonical.
func (v *vector) unpack(src []byte) error {
	n := v.len()
	if len(src) != packedLen(v.bits, n) {
		return errPacking
	}
	switch v.bits {
	case 8:
		for i := range v.w32 {
			v.w32[i] = uint32(src[i])
		}
		return nil
	case 16:
		for i := range v.w32 {
			v.w32[i] = uint32(binary.LittleEndian.Uint16(src[2*i:]))
		}
		return nil
	case 32:
		for i := range v.w32 {
			v.w32[i] = binary.LittleEndian.Uint32(src[4*i:])
		}
		return nil
	}
	var acc uint64
	var nacc uint
	k := 0
	pull := func(w uint) uint64 {
		for nacc < w {
			acc |= uint64(src[k]) << nacc
			k++
			nacc += 8
		}
		x := acc & (1<<w - 1)
		acc >>= w
		nacc -= w
		return x
	}
	if v.w32 != nil {
		for i := range v.w32 {
			v.w32[i] = uint32(pull(v.bits))
		}
	} else {
		for i := range v.w64 {
			lo := pull(32)
			v.w64[i] = lo | pull(v.bits-32)<<32
		}
	}
	if acc != 0 {
		return errPacking
	}
	return nil
}

// addPacked adds the bit-packed vector src (as written by appendPacked) into
// v without an intermediate vector when the width is byte-aligned; other
// widths unpack into scratch first. It fails, leaving v unchanged, if src
// is not a canonical encoding.
func (v *vector) addPacked(src []byte, scratch *vector) error {
	n := v.len()
	if len(src) != packedLen(v.bits, n) {
		return errPacking
	}
	switch v.bits {
	case 32:
		addLE32(v.w32, src)
		return nil
	case 16:
		dst := v.w32
		for i := range dst {
			dst[i] = (dst[i] + uint32(binary.LittleEndian.Uint16(src[2*i:]))) & 0xffff
		}
		return nil
	case 8:
		dst := v.w32
		for i := range dst {
			dst[i] = (dst[i] + uint32(src[i])) & 0xff
		}
		return nil
	}
	if err := scratch.unpack(src); err != nil {
		return err
	}
	v.add(scratch)
	return nil
}
