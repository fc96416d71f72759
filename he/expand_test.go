package he

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLatencyExpandingFirstLayer: a first layer with more outputs than
// inputs uses the square layout, whose diagonal period is the output
// period; the client-expanded input must be packed with that period, not
// the input's.
func TestLatencyExpandingFirstLayer(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 7))
	for _, sizes := range [][]int{{8, 16}, {5, 12}, {8, 16, 3}, {3, 30, 2}} {
		acts := []Activation{ActSquare, ActNone}[:len(sizes)-1]
		m := randModel(t, r, sizes, acts)
		xs := randSamples(r, 2, sizes[0])
		plan, err := Compile(m, CompileOptions{Mode: Latency, Parameters: testParams(t, 11, len(sizes))})
		require.NoError(t, err)
		require.Greater(t, plan.layers[0].expand, 0, "%v: the first layer is not client-expanded", sizes)
		require.Greater(t, plan.layers[0].period(), plan.block, "%v: the diagonal period is the input period", sizes)
		got := runPlan(t, plan, xs)
		require.LessOrEqual(t, maxErr(t, m, xs, got), 1e-3, "%v", sizes)
	}
}
