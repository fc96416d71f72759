package secagg

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/privml/privml/internal/prg"
)

// BenchmarkMaskedInputVerify measures what authenticating a masked input
// costs the server in the malicious model (hashing the packed vector and
// verifying one Ed25519 signature), next to one mask expansion of the same
// vector, the unit of the server's unavoidable work.
func BenchmarkMaskedInputVerify(b *testing.B) {
	pub, priv := testIdentities(b, 1)
	for _, d := range []int{100_000, 1_000_000} {
		m := &MaskedInput{Client: 0, Bits: 32, Length: uint32(d), Packed: make([]byte, 4*d)}
		m.Signature = ed25519.Sign(priv[0], m.sigInput())
		b.Run(fmt.Sprintf("verify/D=%d", d), func(b *testing.B) {
			b.SetBytes(int64(len(m.Packed)))
			for b.Loop() {
				if !verifySig(pub[0], m.sigInput(), m.Signature) {
					b.Fatal("signature does not verify")
				}
			}
		})
		b.Run(fmt.Sprintf("mask/D=%d", d), func(b *testing.B) {
			v := make([]uint32, d)
			seed := sha256.Sum256([]byte("floor"))
			b.SetBytes(int64(4 * d))
			for b.Loop() {
				prg.ExpandAddMod32(v, &seed, 32)
			}
		})
	}
}
