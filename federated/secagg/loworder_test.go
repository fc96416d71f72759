package secagg

import (
	"crypto/ecdh"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probeKey is a fixed, public X25519 private key whose clamped scalar is a
// multiple of the cofactor 8: its agreement with a point is all-zero (and
// crypto/ecdh refuses it) exactly for the points of order dividing 8, on
// the curve or its twist. It is the oracle the list lowOrder is checked
// against.
var probeKey = func() *ecdh.PrivateKey {
	seed := sha256.Sum256([]byte("privml/secagg/v1/low-order-probe"))
	k, err := ecdh.X25519().NewPrivateKey(seed[:])
	if err != nil {
		panic(err)
	}
	return k
}()

// probeLowOrder is the check by scalar multiplication: does an agreement
// with pub fail?
func probeLowOrder(pub *[32]byte) bool {
	_, err := sharedSecret(probeKey, pub[:])
	return err != nil
}

// TestLowOrderListMatchesScalarMultiplication compares the list check with
// an X25519 agreement on the listed points, on points just next to them,
// and on 3000 random canonical u-coordinates (on the curve or its twist:
// X25519 accepts both): the two checks must agree on every one.
func TestLowOrderListMatchesScalarMultiplication(t *testing.T) {
	var keys [][32]byte
	for _, k := range lowOrder {
		keys = append(keys, k)
		for _, d := range []byte{1, 2} {
			next := k
			next[0] += d
			keys = append(keys, next)
		}
	}
	rnd := detRand("low-order")
	for range 3000 {
		var k [32]byte
		_, err := io.ReadFull(rnd, k[:])
		require.NoError(t, err)
		k[31] &= 0x7f
		keys = append(keys, k)
	}
	listed := 0
	seen := map[[32]byte]bool{}
	for _, k := range keys {
		if !isCanonicalX25519(&k) || seen[k] {
			continue
		}
		seen[k] = true
		err := checkPublicKey(&k)
		want := probeLowOrder(&k)
		assert.Equal(t, want, errors.Is(err, errKeyLowOrder), "key %x", k)
		if want {
			listed++
		} else {
			assert.NoError(t, err, "key %x", k)
		}
	}
	assert.Equal(t, len(lowOrder), listed, "every listed point is of low order")
}
