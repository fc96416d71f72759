//go:build amd64 || arm64

package vec

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestAddMod32UnalignedSrc: AddMod32 reads src at any byte offset (the
// secagg server adds a message's bytes in place), on every kernel, with the
// result of the byte-by-byte little-endian sum.
func TestAddMod32UnalignedSrc(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 7, 8, 63, 64, 1000, 4099} {
		raw := make([]byte, 4*n+8)
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		for off := range 4 {
			for _, bits := range []uint{32, 17} {
				dst := make([]uint32, n)
				want := make([]uint32, n)
				for i := range dst {
					dst[i] = r.Uint32() & (1<<bits - 1)
					want[i] = (dst[i] + binary.LittleEndian.Uint32(raw[off+4*i:])) & (1<<bits - 1)
				}
				src := unsafe.Slice((*uint32)(unsafe.Pointer(&raw[off])), n)
				AddMod32(dst, src, bits)
				require.Equal(t, want, dst, "n=%d offset=%d bits=%d", n, off, bits)
			}
		}
	}
}
