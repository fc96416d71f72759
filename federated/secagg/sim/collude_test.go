package sim

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
)

// closestNeighbours returns the c neighbours of target that share the
// most neighbours with it (its nearest nodes on the Harary ring): the
// corrupt placement that helps a split view most.
func closestNeighbours(p *secagg.Params, target, c int) []int {
	nb := p.Neighbours(target)
	common := func(v int) int {
		k := 0
		for _, w := range p.Neighbours(v) {
			if _, ok := slices.BinarySearch(nb, w); ok {
				k++
			}
		}
		return k
	}
	out := slices.Clone(nb)
	slices.SortStableFunc(out, func(x, y int) int { return common(y) - common(x) })
	return out[:c]
}

type colludeRow struct {
	n                int
	dropout, corrupt float64
}

func (r colludeRow) String() string {
	return fmt.Sprintf("n=%d/dropout=%g/corrupt=%g", r.n, r.dropout, r.corrupt)
}

// splitRun runs SplitView with floor(corrupt*n) corrupt neighbours of the
// target.
func splitRun(t *testing.T, row colludeRow, degree, threshold int) (*Report, *secagg.Params, int) {
	t.Helper()
	cfg, opts := maliciousCfg(t, row.n, row.String())
	cfg.DropoutRate, cfg.CorruptRate = row.dropout, row.corrupt
	if degree > 0 {
		cfg.Degree, cfg.Threshold, cfg.InsecureAllowLowThreshold = degree, threshold, true
	}
	p := mustParams(t, cfg)
	const target = 0
	c := int(row.corrupt*float64(row.n) + 1e-9)
	opts.Server, opts.Target, opts.Corrupt = SplitView, target, closestNeighbours(p, target, c)
	opts.InsecureTrustServerConfig = cfg.InsecureAllowLowThreshold // control runs only
	rep, err := Run(p, Vectors(randomInputs(p, 23)), opts)
	require.NoError(t, err)
	return rep, p, c
}

// TestSplitViewControl: the simulated adversary is real. Against fcp's
// malicious thresholds, which count k holders per secret where there are
// k+1, it collects t shares of both secrets of the target.
func TestSplitViewControl(t *testing.T) {
	for _, tc := range []struct {
		row  colludeRow
		k, t int
	}{
		{colludeRow{12, 0.1, 0.1}, 4, 3},
		{colludeRow{100, 0.33, 0.05}, 72, 39},
	} {
		t.Run(tc.row.String(), func(t *testing.T) {
			if testing.Short() && tc.row.n > 40 {
				t.Skip("large n in -short mode")
			}
			rep, _, _ := splitRun(t, tc.row, tc.k, tc.t)
			assert.True(t, rep.Unmasked, "revealed %d self-mask and %d mask-key shares, t=%d; refusals %v", rep.Revealed.Self, rep.Revealed.Key, tc.t, rep.ClientErrors)
		})
	}
}

// TestSplitViewGrid: at the thresholds the finder chooses, no row of the
// grid lets a split-view server with corrupt clients up to the configured
// rate unmask the target; the piles it collects add up to at most
// (k+1)+c < 2t.
func TestSplitViewGrid(t *testing.T) {
	for _, row := range []colludeRow{
		{12, 0.1, 0.1},
		{100, 0.33, 0.05},
		{16, 0.05, 0.1},
		{24, 0.1, 0.15},
		{30, 0.2, 0.1},
		{40, 0.1, 0.2},
		{50, 0.05, 0.1},
		{10, 0.2, 0.2},
	} {
		t.Run(row.String(), func(t *testing.T) {
			if testing.Short() && row.n > 40 {
				t.Skip("large n in -short mode")
			}
			rep, p, c := splitRun(t, row, 0, 0)
			assert.False(t, rep.Unmasked, "k=%d t=%d c=%d: revealed %d self-mask and %d mask-key shares",
				p.Degree(), p.Threshold(), c, rep.Revealed.Self, rep.Revealed.Key)
			assert.LessOrEqual(t, rep.Revealed.Self+rep.Revealed.Key, p.Degree()+1+c)
			assert.Nil(t, rep.Result)
		})
	}
}

// TestWithholdThenRetry: corrupt clients withhold their shares, or reveal
// corrupted ones, so that the server comes up short, and the server
// retries by asking the honest clients again with the target now listed
// as dropped. Every client answers one unmasking request only: the retry
// is refused and the server holds self-mask shares of the target, no
// mask-key share.
func TestWithholdThenRetry(t *testing.T) {
	for _, threat := range []secagg.Threat{secagg.SemiHonest, secagg.Malicious} {
		for _, how := range []string{"withhold", "corrupt"} {
			t.Run(threat.String()+"/"+how, func(t *testing.T) {
				cfg, opts := maliciousCfg(t, 20, "withhold")
				if threat == secagg.SemiHonest {
					cfg.Threat, cfg.Identities, opts.Identities = secagg.SemiHonest, nil, nil
				}
				p := mustParams(t, cfg)
				const target = 3
				corrupt := closestNeighbours(p, target, 2)
				opts.Server, opts.Target = ReplayUnmask, target
				if how == "withhold" {
					opts.Drop = map[secagg.Round][]int{secagg.RoundUnmask: corrupt}
				} else {
					for _, c := range corrupt {
						opts.Faults = append(opts.Faults, Fault{Client: c, Round: secagg.RoundUnmask, Kind: CorruptShares})
					}
				}
				rep, err := Run(p, Vectors(randomInputs(p, 29)), opts)
				require.NoError(t, err)
				assert.False(t, rep.Unmasked)
				assert.Zero(t, rep.Revealed.Key, "no mask-key share of a client that sent its input")
				assert.NotEmpty(t, refusedBy(rep, secagg.ErrRound), "the retry is refused")
			})
		}
	}
}
