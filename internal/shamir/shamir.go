package shamir

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// ChunkBytes is the number of secret bytes carried by one field
	// element: 56 bits, always below P.
	ChunkBytes = 7
	// MaxSecretLen is the longest secret Split accepts, in bytes.
	MaxSecretLen = 64
	// MaxChunks is the largest number of field elements in a share's Y.
	MaxChunks = (MaxSecretLen + ChunkBytes - 1) / ChunkBytes
	// MaxParties is the largest n (and t) Split accepts.
	MaxParties = 1 << 16
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrThreshold reports a threshold t or party count n out of range.
	ErrThreshold = errors.New("shamir: invalid threshold or party count")
	// ErrSecretLength reports a secret length outside 1..MaxSecretLen.
	ErrSecretLength = errors.New("shamir: invalid secret length")
	// ErrTooFewShares reports fewer shares than the threshold.
	ErrTooFewShares = errors.New("shamir: too few shares")
	// ErrInvalidShare reports a share with a zero or duplicate X, a Y
	// element outside the field, or a Y of the wrong length.
	ErrInvalidShare = errors.New("shamir: invalid share")
	// ErrInconsistent reports shares that do not reconstruct a secret of
	// the stated length: they were corrupted or come from different splits.
	ErrInconsistent = errors.New("shamir: shares are inconsistent")
	// ErrRandom reports a failure of the randomness source.
	ErrRandom = errors.New("shamir: randomness source failed")
	// ErrMalformed reports a share encoding that cannot be decoded.
	ErrMalformed = errors.New("shamir: malformed share encoding")
)

// Share is one party's share of a secret: the evaluations at X of one
// random polynomial per 7-byte chunk of the secret.
type Share struct {
	// X is the evaluation point, the party's 1-based index. Never 0.
	X uint32
	// Y holds one field element (in [0, P)) per secret chunk.
	Y []uint64
}

// NumChunks returns the number of field elements that carry a secret of
// secretLen bytes.
func NumChunks(secretLen int) int { return (secretLen + ChunkBytes - 1) / ChunkBytes }

// Split divides secret into n shares so that any t of them reconstruct it
// and any t-1 reveal nothing about it. Share i (0-based) has X = i+1.
// The polynomial coefficients are read from rand, or from crypto/rand when
// rand is nil, and cleared before Split returns.
//
// Split requires 2 <= t <= n <= MaxParties and 1 <= len(secret) <=
// MaxSecretLen.
func Split(secret []byte, t, n int, rand io.Reader) ([]Share, error) {
	if err := checkTN(t, n); err != nil {
		return nil, err
	}
	if len(secret) < 1 || len(secret) > MaxSecretLen {
		return nil, fmt.Errorf("%w: secret has %d bytes, want 1 to %d", ErrSecretLength, len(secret), MaxSecretLen)
	}
	if rand == nil {
		rand = cryptoRand
	}
	k := NumChunks(len(secret))
	// coef[j*k+c] is the coefficient of x^j of chunk c's polynomial; the
	// constant terms (j = 0) are the chunks themselves. Interleaving the
	// chunks lets the k Horner evaluations run side by side.
	coef := make([]uint64, t*k)
	defer clear(coef)
	for c := range k {
		coef[c] = chunkValue(secret, c)
	}
	if err := randomElements(coef[k:], rand); err != nil {
		return nil, err
	}
	ys := make([]uint64, n*k) // one backing array for all shares
	shares := make([]Share, n)
	for i := range shares {
		y := ys[i*k : (i+1)*k : (i+1)*k]
		evalAll(y, coef, uint64(i+1))
		shares[i] = Share{X: uint32(i + 1), Y: y}
	}
	return shares, nil
}

// evalAll sets y[c] to the value at x of polynomial c, whose coefficient of
// x^j is coef[j*len(y)+c], by Horner's rule with lazy reduction
// (x <= MaxParties < 2^32, see mulAddLazy).
func evalAll(y, coef []uint64, x uint64) {
	k := len(y)
	t := len(coef) / k
	copy(y, coef[(t-1)*k:])
	for j := t - 2; j >= 0; j-- {
		a := coef[j*k : (j+1)*k]
		a = a[:len(y)] // bounds check elimination hint
		for c := range y {
			y[c] = mulAddLazy(y[c], x, a[c])
		}
	}
	for c := range y {
		y[c] = reduceFull(y[c])
	}
}

// horner evaluates the polynomial with coefficients a (constant term
// first) at x; the plain specification of evalAll.
func horner(a []uint64, x uint64) uint64 {
	var r uint64
	for j := len(a) - 1; j >= 0; j-- {
		r = add(mul(r, x), a[j])
	}
	return r
}

// Combine reconstructs a secret of secretLen bytes from the first t shares,
// which must have distinct non-zero X and Y of NumChunks(secretLen) field
// elements each; shares after the first t are ignored. Shares that did not
// come from one Split of a secretLen-byte secret give ErrInconsistent when
// this is detectable (a chunk that does not fit its bytes) and a wrong
// secret otherwise: Shamir sharing does not authenticate shares.
//
// To reconstruct many secrets from shares held by the same parties, use
// [NewLagrange] once and [Lagrange.Combine] per secret.
func Combine(shares []Share, t int, secretLen int) ([]byte, error) {
	if t < 2 || t > MaxParties {
		return nil, fmt.Errorf("%w: threshold t=%d, want 2 to %d", ErrThreshold, t, MaxParties)
	}
	if len(shares) < t {
		return nil, fmt.Errorf("%w: have %d, threshold is %d", ErrTooFewShares, len(shares), t)
	}
	shares = shares[:t]
	xs := make([]uint32, t)
	for i, s := range shares {
		xs[i] = s.X
	}
	l, err := NewLagrange(xs)
	if err != nil {
		return nil, err
	}
	return l.Combine(shares, secretLen)
}

// chunkValue returns chunk c of secret as a big-endian integer.
func chunkValue(secret []byte, c int) uint64 {
	var v uint64
	for _, b := range secret[c*ChunkBytes : min((c+1)*ChunkBytes, len(secret))] {
		v = v<<8 | uint64(b)
	}
	return v
}

// randomElements fills dst with uniform field elements: 61-bit words from
// rand, rejecting the single value P (probability 2^-61 per draw).
func randomElements(dst []uint64, rand io.Reader) error {
	var buf [8 * 64]byte
	defer clear(buf[:])
	for len(dst) > 0 {
		n := min(len(dst), len(buf)/8)
		if _, err := io.ReadFull(rand, buf[:8*n]); err != nil {
			return fmt.Errorf("%w: %w", ErrRandom, err)
		}
		k := 0
		for i := range n {
			v := binary.LittleEndian.Uint64(buf[8*i:]) & P
			if v != P {
				dst[k] = v
				k++
			}
		}
		dst = dst[k:]
	}
	return nil
}

func checkTN(t, n int) error {
	if t < 2 || n < t || n > MaxParties {
		return fmt.Errorf("%w: t=%d, n=%d, want 2 <= t <= n <= %d", ErrThreshold, t, n, MaxParties)
	}
	return nil
}

var cryptoRand io.Reader = rand.Reader
