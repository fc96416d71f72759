package sim

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
)

// TestCorruptRevealersDoNotAbort: holders that reveal corrupted shares are
// located by unique decoding and left out; the round completes with the
// exact sum as long as no secret has more bad shares than (m-t)/2 of its
// m, and names the bad holders whose shares were needed (never an honest
// one). In the malicious model a share altered after signing is already
// refused as unauthenticated.
func TestCorruptRevealersDoNotAbort(t *testing.T) {
	const n = 30
	for _, tc := range []struct {
		name string
		cfg  secagg.Config
		bad  []int
	}{
		{"semi-honest/sparse", secagg.Config{DropoutRate: 0.1, CorruptRate: 0.1}, []int{3, 11, 20}},
		{"semi-honest/complete", secagg.Config{DropoutRate: 0.1, CorruptRate: 0.1, Degree: n - 1}, []int{0, 1, 2}},
		// The malicious threshold of the complete graph, (30+3)/2+1 = 17:
		// three bad holders among the first 17 shares defeat any small
		// subset search.
		{"complete/t=17", secagg.Config{DropoutRate: 0.1, Degree: n - 1, Threshold: 17}, []int{1, 5, 9}},
		{"malicious", secagg.Config{DropoutRate: 0.1, CorruptRate: 0.1, Threat: secagg.Malicious}, []int{5, 6, 7}},
		// 29 shares per secret (one client drops), t = 16: six bad ones
		// are the most unique decoding corrects.
		{"complete/six", secagg.Config{DropoutRate: 0.1, Degree: n - 1, Threshold: 16}, []int{0, 4, 8, 12, 16, 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.NumClients, cfg.Dim, cfg.Bits, cfg.MaxAbs, cfg.MaxSideAbs = n, 12, 24, 1000, 1
			var opts Options
			if cfg.Threat == secagg.Malicious {
				var mc secagg.Config
				mc, opts = maliciousCfg(t, n, tc.name)
				cfg.Identities = mc.Identities
			}
			p := mustParams(t, cfg)
			var faults []Fault
			for _, c := range tc.bad {
				faults = append(faults, Fault{Client: c, Round: secagg.RoundUnmask, Kind: CorruptShares})
			}
			opts.Faults = faults
			opts.InsecureTestRand = testRand("dos/" + tc.name)
			// One client drops before masking: its mask key is rebuilt too.
			opts.Drop = map[secagg.Round][]int{secagg.RoundMaskedInput: {29}}
			rep, err := Run(p, Vectors(randomInputs(p, 17)), opts)
			require.NoError(t, err)
			require.NoError(t, rep.Err, "k=%d t=%d", p.Degree(), p.Threshold())
			require.True(t, rep.Correct)
			assert.Len(t, rep.Result.Survivors, n-1)
			if cfg.Threat == secagg.Malicious {
				require.Len(t, rep.Rejected, len(tc.bad))
				for _, e := range rep.Rejected {
					assert.ErrorIs(t, e, secagg.ErrAuth)
				}
				return
			}
			assert.NotEmpty(t, rep.Result.Inconsistent)
			assert.Subset(t, tc.bad, rep.Result.Inconsistent, "only bad holders are named")
			if cfg.Degree == n-1 {
				// On the complete graph every share is in every
				// decoding: all are found.
				assert.Equal(t, tc.bad, rep.Result.Inconsistent)
			}
		})
	}
}

// TestCorruptRevealersBeyondTheBound: with more bad holders than any
// decoding or bounded search can get past, the server aborts with ErrAuth
// and no result, never a wrong sum.
func TestCorruptRevealersBeyondTheBound(t *testing.T) {
	const n = 30
	cfg := secagg.Config{NumClients: n, Dim: 12, Bits: 24, MaxAbs: 1000, MaxSideAbs: 1, DropoutRate: 0.1, Degree: n - 1, Threshold: 16}
	p := mustParams(t, cfg)
	for _, nBad := range []int{8, 15} { // bound (30-16)/2 = 7; 15 leaves 15 < t good shares
		t.Run(fmt.Sprint(nBad), func(t *testing.T) {
			var faults []Fault
			for c := range nBad {
				faults = append(faults, Fault{Client: 2 * c, Round: secagg.RoundUnmask, Kind: CorruptShares})
			}
			rep, err := Run(p, Vectors(randomInputs(p, 18)), Options{Faults: faults, InsecureTestRand: testRand("dos-beyond")})
			require.NoError(t, err)
			require.ErrorIs(t, rep.Err, secagg.ErrAuth)
			assert.Nil(t, rep.Result)
		})
	}
}
