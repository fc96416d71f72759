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
