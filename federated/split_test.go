package federated

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitIID(t *testing.T) {
	parts, err := SplitIID(103, 10, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	var all []int
	for _, p := range parts {
		assert.Contains(t, []int{10, 11}, len(p))
		all = append(all, p...)
	}
	slices.Sort(all)
	for i, v := range all {
		require.Equal(t, i, v, "every index exactly once")
	}
	_, err = SplitIID(5, 10, rand.New(rand.NewPCG(1, 1)))
	assert.ErrorIs(t, err, ErrConfig)
}

// labelShare returns, per client, the fraction of its examples in class 1.
func labelShare(parts [][]int, labels []int) []float64 {
	out := make([]float64, 0, len(parts))
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		ones := 0
		for _, i := range p {
			ones += labels[i]
		}
		out = append(out, float64(ones)/float64(len(p)))
	}
	return out
}

func labelSpread(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)))
}

func TestSplitDirichlet(t *testing.T) {
	labels := make([]int, 10000)
	for i := range labels {
		labels[i] = i % 2
	}
	r := rand.New(rand.NewPCG(2, 2))
	iidish, err := SplitDirichlet(labels, 2, 50, 1000, r)
	require.NoError(t, err)
	skewed, err := SplitDirichlet(labels, 2, 50, 0.1, r)
	require.NoError(t, err)
	for _, parts := range [][][]int{iidish, skewed} {
		var all []int
		for _, p := range parts {
			all = append(all, p...)
		}
		slices.Sort(all)
		require.Len(t, all, len(labels))
		for i, v := range all {
			require.Equal(t, i, v, "every index exactly once")
		}
	}
	// alpha = 1000: every client's class-1 share is near 1/2 (binomial
	// spread about sqrt(0.25/200) = 0.035); alpha = 0.1: most clients hold
	// mostly one class (share spread near 0.5).
	assert.Less(t, labelSpread(labelShare(iidish, labels)), 0.06)
	assert.Greater(t, labelSpread(labelShare(skewed, labels)), 0.3)

	_, err = SplitDirichlet(labels, 2, 5, 0, r)
	assert.ErrorIs(t, err, ErrConfig)
	_, err = SplitDirichlet([]int{0, 3}, 2, 5, 1, r)
	assert.ErrorIs(t, err, ErrConfig)
}

// Gamma(alpha, 1) has mean alpha and variance alpha: checked on 20,000
// draws within 6 standard errors (false-failure rate < 1e-8 each).
func TestGammaMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, a := range []float64{0.1, 0.5, 1, 3.5} {
		const n = 20000
		s, s2 := 0.0, 0.0
		for range n {
			x := gamma(a, r)
			s += x
			s2 += x * x
		}
		mean := s / n
		assert.InDelta(t, a, mean, 6*math.Sqrt(a/n), "alpha %v", a)
		v := s2/n - mean*mean
		// Var of the sample variance ~ (m4 - a^2)/n, m4 = 3a^2 + 6a for Gamma.
		assert.InDelta(t, a, v, 6*math.Sqrt((3*a*a+6*a)/n), "alpha %v", a)
	}
}
