package prg

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaskWindowsMatchExpand checks that a window of a mask, started at
// any element (inside an AES block, on a chunk boundary, past it), is
// exactly that part of the whole-vector expansion, for both word sizes,
// and that the Sub variants undo it.
func TestMaskWindowsMatchExpand(t *testing.T) {
	const n = 5000
	r := rand.New(rand.NewPCG(5, 6))
	offs := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 1023, 2047, 2048, 2049, 4096, 4999}
	for _, bits := range []uint{1, 8, 20, 31, 32} {
		seed := testSeed(byte(bits))
		whole := make([]uint32, n)
		ExpandAddMod32(whole, &seed, bits)
		m := NewMask(&seed)
		for _, off := range offs {
			for _, l := range []int{0, 1, 3, 17, 2048, 2051, n - off} {
				if off+l > n {
					continue
				}
				t.Run(fmt.Sprintf("32/bits=%d/off=%d/len=%d", bits, off, l), func(t *testing.T) {
					x := make([]uint32, l)
					for i := range x {
						x[i] = r.Uint32()
					}
					got := append([]uint32(nil), x...)
					m.AddMod32At(got, off, bits)
					mod := uint32(1<<bits - 1)
					for i := range got {
						require.Equal(t, (x[i]+whole[off+i])&mod, got[i], "element %d", i)
					}
					m.SubMod32At(got, off, bits)
					for i := range got {
						require.Equal(t, x[i]&mod, got[i], "add then sub, element %d", i)
					}
				})
			}
		}
	}
	for _, bits := range []uint{1, 33, 62, 64} {
		seed := testSeed(byte(100 + bits))
		whole := make([]uint64, n)
		ExpandAddMod64(whole, &seed, bits)
		m := NewMask(&seed)
		for _, off := range offs {
			for _, l := range []int{0, 1, 3, 1024, 1027, n - off} {
				if off+l > n {
					continue
				}
				t.Run(fmt.Sprintf("64/bits=%d/off=%d/len=%d", bits, off, l), func(t *testing.T) {
					x := make([]uint64, l)
					for i := range x {
						x[i] = r.Uint64()
					}
					got := append([]uint64(nil), x...)
					m.AddMod64At(got, off, bits)
					mod := uint64(1)<<bits - 1
					if bits == 64 {
						mod = ^uint64(0)
					}
					for i := range got {
						require.Equal(t, (x[i]+whole[off+i])&mod, got[i], "element %d", i)
					}
					m.SubMod64At(got, off, bits)
					for i := range got {
						require.Equal(t, x[i]&mod, got[i], "add then sub, element %d", i)
					}
				})
			}
		}
	}
}

// TestMaskPiecesInAnyOrder adds a mask to a vector cut into uneven pieces,
// last piece first, and compares with one whole expansion.
func TestMaskPiecesInAnyOrder(t *testing.T) {
	seed := testSeed(9)
	const n = 10_000
	want := make([]uint32, n)
	ExpandSubMod32(want, &seed, 32)
	got := make([]uint32, n)
	m := NewMask(&seed)
	cuts := []int{0, 1, 6, 333, 2048, 4097, 9999, n}
	for k := len(cuts) - 2; k >= 0; k-- {
		m.SubMod32At(got[cuts[k]:cuts[k+1]], cuts[k], 32)
	}
	assert.Equal(t, want, got)
}

func TestMaskMisuse(t *testing.T) {
	seed := testSeed(1)
	m := NewMask(&seed)
	assert.PanicsWithValue(t, "prg: bits out of range [1,32]", func() { m.AddMod32At(make([]uint32, 1), 0, 33) })
	assert.PanicsWithValue(t, "prg: bits out of range [1,64]", func() { m.SubMod64At(make([]uint64, 1), 0, 0) })
	assert.PanicsWithValue(t, "prg: negative mask offset", func() { m.SubMod32At(make([]uint32, 1), -1, 32) })
	assert.PanicsWithValue(t, "prg: negative mask offset", func() { m.AddMod64At(make([]uint64, 1), -4, 64) })
}
