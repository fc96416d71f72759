package secagg

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The masked input's signed digest binds every byte of a vector of
// several pieces, its length and its header, and does not depend on the
// number of cores that hash it.
func TestMaskedInputDigestBindsEveryPiece(t *testing.T) {
	r := rand.New(rand.NewChaCha8([32]byte{7}))
	packed := make([]byte, 2*maskedLeafBytes+12345)
	for i := range packed {
		packed[i] = byte(r.Uint32())
	}
	m := &MaskedInput{Client: 3, Bits: 32, Length: uint32(len(packed) / 4), Packed: packed}
	base := m.sigInput()

	prev := runtime.GOMAXPROCS(1)
	one := m.sigInput()
	runtime.GOMAXPROCS(prev)
	require.Equal(t, base, one, "digest differs with the number of workers")

	seen := [][]byte{base}
	for _, pos := range []int{0, maskedLeafBytes - 1, maskedLeafBytes, 2*maskedLeafBytes + 5, len(packed) - 1} {
		packed[pos] ^= 1
		d := m.sigInput()
		packed[pos] ^= 1
		for _, o := range seen {
			assert.False(t, bytes.Equal(d, o), "flip at %d collides", pos)
		}
		seen = append(seen, d)
	}
	// Two pieces swapped, the vector cut at a piece boundary, and another
	// sender give other digests.
	sw := append([]byte(nil), packed...)
	copy(sw, packed[maskedLeafBytes:2*maskedLeafBytes])
	copy(sw[maskedLeafBytes:], packed[:maskedLeafBytes])
	cut := &MaskedInput{Client: 3, Bits: 32, Length: uint32(2 * maskedLeafBytes / 4), Packed: packed[:2*maskedLeafBytes]}
	other := &MaskedInput{Client: 4, Bits: 32, Length: m.Length, Packed: packed}
	for name, d := range map[string][]byte{
		"swapped": (&MaskedInput{Client: 3, Bits: 32, Length: m.Length, Packed: sw}).sigInput(),
		"cut":     cut.sigInput(),
		"sender":  other.sigInput(),
	} {
		assert.False(t, bytes.Equal(d, base), name)
	}
}

// BenchmarkMaskedInputDigest is the server's price of checking one signed
// masked input of a million 32-bit elements.
func BenchmarkMaskedInputDigest(b *testing.B) {
	m := &MaskedInput{Client: 1, Bits: 32, Length: 1_000_000, Packed: make([]byte, 4_000_000)}
	b.SetBytes(int64(len(m.Packed)))
	b.ReportAllocs()
	for b.Loop() {
		m.sigInput()
	}
}
