package shamir

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFindErrors corrupts e of m shares at random chunks and checks that
// decoding names exactly them up to the bound (m-t)/2, and refuses beyond.
func TestFindErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	secret := []byte("0123456789abcdef0123456789abcdef")
	for _, tc := range []struct{ t, n int }{{2, 3}, {3, 7}, {4, 10}, {10, 30}, {17, 30}, {40, 101}} {
		shares, err := Split(secret, tc.t, tc.n, testRand(byte(tc.n)))
		require.NoError(t, err)
		for _, m := range []int{tc.t, (tc.t + tc.n) / 2, tc.n} {
			bound := (m - tc.t) / 2
			for e := 0; e <= bound+2 && e <= m; e++ {
				t.Run(fmt.Sprintf("t=%d/m=%d/e=%d", tc.t, m, e), func(t *testing.T) {
					sub := make([]Share, m)
					for i, k := range rng.Perm(tc.n)[:m] {
						sub[i] = Share{X: shares[k].X, Y: slices.Clone(shares[k].Y)}
					}
					wrong := rng.Perm(m)[:e]
					for _, i := range wrong {
						c := rng.IntN(len(sub[i].Y))
						sub[i].Y[c] = (sub[i].Y[c] + 1 + rng.Uint64N(P-1)) % P
					}
					slices.Sort(wrong)
					got, err := FindErrors(sub, tc.t)
					if e <= bound {
						require.NoError(t, err)
						assert.Equal(t, wrong, append([]int{}, got...))
						return
					}
					// Past the bound: an error, or (when the errors
					// happen to fit another polynomial) at most bound
					// indices, which cannot be the e corrupted ones.
					if err != nil {
						assert.ErrorIs(t, err, ErrInconsistent)
					} else {
						assert.LessOrEqual(t, len(got), bound)
					}
				})
			}
		}
	}
}

func TestFindErrorsBadInput(t *testing.T) {
	shares, err := Split([]byte("secret"), 3, 5, testRand(1))
	require.NoError(t, err)
	_, err = FindErrors(shares[:2], 3)
	assert.ErrorIs(t, err, ErrTooFewShares)
	dup := slices.Clone(shares)
	dup[1].X = dup[0].X
	_, err = FindErrors(dup, 3)
	assert.ErrorIs(t, err, ErrInvalidShare)
	big := slices.Clone(shares)
	big[2].Y = []uint64{P}
	_, err = FindErrors(big, 3)
	assert.ErrorIs(t, err, ErrInvalidShare)
	_, err = FindErrors(shares, 0)
	assert.ErrorIs(t, err, ErrThreshold)
}

// FuzzFindErrors decodes arbitrary share sets: no panic, and whenever it
// names wrong shares, the others lie on one polynomial of degree below t
// (decoding them finds nothing more) and there are at most (m-t)/2.
func FuzzFindErrors(f *testing.F) {
	shares, err := Split([]byte("a secret of 16 b"), 3, 7, testRand(9))
	require.NoError(f, err)
	enc := func(ss []Share, t byte) []byte {
		b := []byte{t}
		for _, s := range ss {
			b = append(b, byte(s.X))
			for _, y := range s.Y {
				for k := range 8 {
					b = append(b, byte(y>>(8*k)))
				}
			}
		}
		return b
	}
	f.Add(enc(shares, 3))
	bad := slices.Clone(shares)
	bad[2] = Share{X: bad[2].X, Y: slices.Clone(bad[2].Y)}
	bad[2].Y[1] ^= 5
	f.Add(enc(bad, 3))
	f.Add(enc(shares[:4], 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		// One byte of t, then shares of one byte X and three 8-byte Y.
		const chunks = 3
		if len(b) < 1 {
			return
		}
		th := int(b[0]%8) + 1
		var ss []Share
		for rest := b[1:]; len(rest) >= 1+8*chunks; rest = rest[1+8*chunks:] {
			s := Share{X: uint32(rest[0]), Y: make([]uint64, chunks)}
			for c := range chunks {
				var v uint64
				for k := range 8 {
					v |= uint64(rest[1+8*c+k]) << (8 * k)
				}
				s.Y[c] = v % P
			}
			ss = append(ss, s)
		}
		idx, err := FindErrors(ss, th)
		if err != nil {
			return
		}
		m := len(ss)
		if len(idx) > (m-th)/2 {
			t.Fatalf("%d wrong shares named of %d, t=%d", len(idx), m, th)
		}
		var good []Share
		for i, s := range ss {
			if !slices.Contains(idx, i) {
				good = append(good, s)
			}
		}
		again, err := FindErrors(good, th)
		if err != nil || len(again) != 0 {
			t.Fatalf("the shares left are not consistent: %v, %v", again, err)
		}
	})
}
