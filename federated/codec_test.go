package federated

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
)

func TestCodecHeadroomMatchesSecAgg(t *testing.T) {
	for _, tc := range []struct {
		bits uint
		n    int
	}{{12, 10}, {16, 100}, {20, 7}, {32, 1000}, {62, 2}} {
		c, err := NewCodec(1, tc.bits, tc.n)
		require.NoError(t, err)
		// secagg accepts exactly this bound, and refuses one more.
		_, err = secagg.NewParams(secagg.Config{NumClients: tc.n, Dim: 1, Bits: tc.bits, MaxAbs: uint64(c.MaxAbs), Degree: tc.n - 1})
		require.NoError(t, err, "bits %d n %d", tc.bits, tc.n)
		_, err = secagg.NewParams(secagg.Config{NumClients: tc.n, Dim: 1, Bits: tc.bits, MaxAbs: uint64(c.MaxAbs) + 1, Degree: tc.n - 1})
		require.ErrorIs(t, err, secagg.ErrHeadroom)
	}
	_, err := NewCodec(1, 8, 1000)
	assert.ErrorIs(t, err, ErrConfig)
	_, err = NewCodec(0, 16, 10)
	assert.ErrorIs(t, err, ErrConfig)
}

func TestCodecClipAndRoundTrip(t *testing.T) {
	c, err := NewCodec(2, 16, 10)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	x := []float64{3, 4} // norm 5 -> clipped to (1.2, 1.6)
	dst := make([]int64, 2)
	clipped, err := c.Encode(dst, x, r)
	require.NoError(t, err)
	assert.True(t, clipped)
	got := make([]float64, 2)
	c.Decode(got, dst)
	assert.InDeltaSlice(t, []float64{1.2, 1.6}, got, 1/c.Scale)
	for _, v := range dst {
		assert.LessOrEqual(t, v, c.MaxAbs)
	}
	clipped, err = c.Encode(dst, []float64{0.5, -0.5}, r)
	require.NoError(t, err)
	assert.False(t, clipped)
	_, err = c.Encode(dst, []float64{math.NaN(), 0}, r)
	assert.ErrorIs(t, err, ErrClient)
	_, err = c.Encode(dst, []float64{1}, r)
	assert.ErrorIs(t, err, ErrConfig)
}

// Stochastic rounding is unbiased: the mean of 40,000 encodings of 0.3
// units lies within 6 standard errors (sd <= 0.5/sqrt(n)) of 0.3: false
// failure rate < 1e-8.
func TestStochasticRoundingUnbiased(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n = 40000
	s := 0.0
	for range n {
		s += float64(stochasticRound(0.3, r))
	}
	assert.InDelta(t, 0.3, s/n, 6*0.5/math.Sqrt(n))
}
