package dpsgd

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/privml/privml/dp"
	"github.com/privml/privml/dp/accounting"
)

// TestSuppliedSamplerCharged: a dp.Sampler supplied by the caller rounds to
// the same grid as the default one, so the recorded noise multiplier must be
// reduced by the same grid allowance, and a different dimension must be
// charged differently.
func TestSuppliedSamplerCharged(t *testing.T) {
	multiplier := func(cfg Config, d int) float64 {
		s, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, s.Privatize(make([]float64, d), nil))
		ev := s.Ledger().Event().(accounting.SelfComposed).Event.(accounting.PoissonSampled)
		return ev.Event.(accounting.Gaussian).NoiseMultiplier
	}
	base := Config{ClipNorm: 0.5, NoiseMultiplier: 2, SamplingRate: 0.1, DatasetSize: 100}
	supplied := base
	supplied.Noise = dp.NewSampler(dp.WithSeedForTesting(1))
	for _, d := range []int{1, 1000} {
		def := multiplier(base, d)
		got := multiplier(supplied, d)
		require.Less(t, got, 2.0, "d = %d: supplied dp.Sampler not charged for grid rounding", d)
		require.Equal(t, def, got, "d = %d: supplied and default dp.Sampler charged differently", d)
		g := dp.GaussianGranularity(2 * 0.5)
		require.InDelta(t, 2*0.5/(0.5+g*math.Sqrt(float64(d))), got, 1e-15)
	}
	// Other Noise implementations are taken at their word.
	other := base
	other.Noise = &fakeNoise{}
	require.Equal(t, 2.0, multiplier(other, 1000))
}
