package secagg

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fcpGraphTable is the semi-honest part of the table of precomputed
// (degree, threshold) pairs in google-parfait/federated-compute,
// fcp/secagg/server/graph_parameter_finder_test.cc
// (HararyGraphParameterFinderTest_Feasible, security 2^-40, correctness
// 2^-20). fcp asserts the degree exactly and the threshold as an upper
// bound; we reproduce both. fcp's malicious rows count k holders per
// secret where there are k+1 and are replaced by maliciousGraphTable.
var fcpGraphTable = []struct {
	n                int
	corrupt, dropout float64
	threat           Threat
	k, t             int
}{
	{100, 0.45, 0.45, SemiHonest, 92, 46},
	{1000, 0.45, 0.45, SemiHonest, 822, 417},
	{10000, 0.45, 0.45, SemiHonest, 3494, 1771},
	{100000, 0.45, 0.45, SemiHonest, 5508, 2788},
	{1000000, 0.45, 0.45, SemiHonest, 6240, 3156},
	{10, 0.33, 0.33, SemiHonest, 8, 4},
	{100, 0.33, 0.33, SemiHonest, 68, 34},
	{1000, 0.33, 0.33, SemiHonest, 286, 150},
	{10000, 0.33, 0.33, SemiHonest, 422, 221},
	{100000, 0.33, 0.33, SemiHonest, 480, 251},
	{1000000, 0.33, 0.33, SemiHonest, 518, 270},
	{10, 0.05, 0.33, SemiHonest, 4, 2},
	{100, 0.05, 0.33, SemiHonest, 28, 6},
	{1000, 0.05, 0.33, SemiHonest, 72, 24},
	{10000, 0.05, 0.33, SemiHonest, 86, 29},
	{100000, 0.05, 0.33, SemiHonest, 96, 32},
	{1000000, 0.05, 0.33, SemiHonest, 102, 34},
	{10, 0.33, 0.05, SemiHonest, 4, 4},
	{100, 0.33, 0.05, SemiHonest, 34, 29},
	{1000, 0.33, 0.05, SemiHonest, 78, 60},
	{10000, 0.33, 0.05, SemiHonest, 92, 70},
	{100000, 0.33, 0.05, SemiHonest, 102, 77},
	{1000000, 0.33, 0.05, SemiHonest, 110, 83},
}

func TestFindGraphParamsMatchesFCPTable(t *testing.T) {
	for _, c := range fcpGraphTable {
		name := fmt.Sprintf("n=%d/corrupt=%g/dropout=%g/%v", c.n, c.corrupt, c.dropout, c.threat)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && c.n > 100000 {
				t.Skip("large n in -short mode")
			}
			gp, err := FindGraphParams(c.n, c.dropout, c.corrupt, c.threat)
			if err != nil {
				t.Fatal(err)
			}
			if gp.Degree != c.k {
				t.Errorf("degree = %d, fcp table has %d", gp.Degree, c.k)
			}
			if gp.Threshold > c.t || gp.Threshold < 2 || gp.Threshold > gp.Degree {
				t.Errorf("threshold = %d, fcp table allows at most %d", gp.Threshold, c.t)
			}
		})
	}
}

// graphTable holds, for each row of fcp's table, the (k, t) this package's
// finder returns and the probabilities it achieves, as log2 of union
// bounds computed independently of the finder (achievedLog2): insecure is
// the probability that the survivors' graph disconnects or that some
// client has enough corrupt neighbours to break it (t of them in the
// semi-honest model; 2t-k-1 of them, which with a split view gives the
// server t shares of both secrets, in the malicious model); failure is
// the probability that some client has fewer than t alive neighbours.
// -Inf means the event is impossible (too few corrupt or dropped clients).
//
// The malicious rows differ from fcp's (whose k, t are in the comments):
// t is now the smallest with 2t > (k+1) + cMax, and cMax counts the
// target's corrupt neighbours among the n-1 other clients. The
// semi-honest rows are fcp's; their thresholds meet 2^-40 under the same
// exact law, and their failure bound is 2^-20 except at n = 10,
// dropout 0.33, where the floor t >= 2 leaves 2^-1.6 (a client with at
// most one alive neighbour cannot be unmasked: the session aborts).
var graphTable = []struct {
	n                 int
	corrupt, dropout  float64
	threat            Threat
	k, t              int
	insecure, failure float64
}{
	{100, 0.45, 0.45, SemiHonest, 92, 46, math.Inf(-1), math.Inf(-1)},
	{1000, 0.45, 0.45, SemiHonest, 822, 417, -40.5, -20.4},
	{10000, 0.45, 0.45, SemiHonest, 3494, 1771, -41.3, -20.0},
	{100000, 0.45, 0.45, SemiHonest, 5508, 2788, -41.0, -20.1},
	{1000000, 0.45, 0.45, SemiHonest, 6240, 3156, -41.0, -20.0},
	{10, 0.33, 0.33, SemiHonest, 8, 4, math.Inf(-1), math.Inf(-1)},
	{100, 0.33, 0.33, SemiHonest, 68, 34, math.Inf(-1), math.Inf(-1)},
	{1000, 0.33, 0.33, SemiHonest, 286, 150, -41.2, -21.6},
	{10000, 0.33, 0.33, SemiHonest, 422, 221, -41.1, -20.4},
	{100000, 0.33, 0.33, SemiHonest, 480, 251, -42.1, -20.2},
	{1000000, 0.33, 0.33, SemiHonest, 518, 270, -41.9, -20.1},
	{100, 0.3, 0.3, Malicious, 92, 62, math.Inf(-1), math.Inf(-1)}, // fcp 92, 62
	{1000, 0.3, 0.3, Malicious, 876, 587, -43.1, -21.4},            // fcp 872, 584
	{10000, 0.3, 0.3, Malicious, 4832, 3237, -41.2, -20.0},         // fcp 4822, 3230
	{100000, 0.3, 0.3, Malicious, 9404, 6297, -41.1, -20.0},        // fcp 9388, 6286
	{1000000, 0.3, 0.3, Malicious, 11152, 7465, -41.1, -20.0},      // fcp 11136, 7454
	{10, 0.05, 0.33, SemiHonest, 4, 2, math.Inf(-1), -1.6},
	{100, 0.05, 0.33, SemiHonest, 28, 6, -41.4, -25.7},
	{1000, 0.05, 0.33, SemiHonest, 72, 24, -42.0, -21.8},
	{10000, 0.05, 0.33, SemiHonest, 86, 29, -41.2, -20.7},
	{100000, 0.05, 0.33, SemiHonest, 96, 32, -41.8, -21.3},
	{1000000, 0.05, 0.33, SemiHonest, 102, 34, -41.8, -20.1},
	{10, 0.05, 0.33, Malicious, 8, 5, math.Inf(-1), math.Inf(-1)},    // fcp 8, 5
	{100, 0.05, 0.33, Malicious, 74, 41, math.Inf(-1), math.Inf(-1)}, // fcp 72, 39
	{1000, 0.05, 0.33, Malicious, 398, 223, -42.6, -20.3},            // fcp 398, 223
	{10000, 0.05, 0.33, Malicious, 746, 420, -41.3, -20.0},           // fcp 746, 420
	{100000, 0.05, 0.33, Malicious, 890, 501, -42.4, -20.0},          // fcp 882, 496
	{1000000, 0.05, 0.33, Malicious, 980, 551, -42.2, -20.1},         // fcp 970, 545
	{10, 0.33, 0.05, SemiHonest, 4, 4, math.Inf(-1), math.Inf(-1)},
	{100, 0.33, 0.05, SemiHonest, 34, 29, -43.2, math.Inf(-1)},
	{1000, 0.33, 0.05, SemiHonest, 78, 60, -42.7, -21.0},
	{10000, 0.33, 0.05, SemiHonest, 92, 70, -42.0, -20.2},
	{100000, 0.33, 0.05, SemiHonest, 102, 77, -42.3, -21.2},
	{1000000, 0.33, 0.05, SemiHonest, 110, 83, -43.2, -20.4},
	{10, 0.33, 0.05, Malicious, 6, 6, math.Inf(-1), math.Inf(-1)}, // fcp 4, 4
	{100, 0.33, 0.05, Malicious, 44, 39, -47.9, math.Inf(-1)},     // fcp 42, 37
	{1000, 0.33, 0.05, Malicious, 138, 114, -41.7, -21.8},         // fcp 132, 109
	{10000, 0.33, 0.05, Malicious, 180, 148, -42.9, -20.7},        // fcp 178, 146
	{100000, 0.33, 0.05, Malicious, 198, 162, -41.2, -21.2},       // fcp 196, 160
}

func TestGraphParamsTable(t *testing.T) {
	for _, c := range graphTable {
		name := fmt.Sprintf("n=%d/corrupt=%g/dropout=%g/%v", c.n, c.corrupt, c.dropout, c.threat)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && c.n > 100000 {
				t.Skip("large n in -short mode")
			}
			gp, err := FindGraphParams(c.n, c.dropout, c.corrupt, c.threat)
			require.NoError(t, err)
			require.Equal(t, GraphParams{Degree: c.k, Threshold: c.t}, gp)
			if c.threat == Malicious {
				cMax := int(corruptNeighbourBound(c.n, c.k, c.corrupt, c.threat))
				require.Greater(t, 2*c.t, c.k+1+cMax, "2t > (k+1) + cMax")
				// t-1 would not do: the finder's t is the smallest.
				require.LessOrEqual(t, 2*(c.t-1), c.k+1+cMax)
			}
			insecure, failure := achievedLog2(c.n, c.k, c.t, c.dropout, c.corrupt, c.threat)
			for _, v := range []struct {
				name      string
				got, want float64
			}{{"insecure", insecure, c.insecure}, {"failure", failure, c.failure}} {
				if math.IsInf(v.want, -1) {
					assert.True(t, math.IsInf(v.got, -1), "%s: log2 = %.2f, want -Inf", v.name, v.got)
				} else {
					assert.InDelta(t, v.want, v.got, 0.051, v.name)
				}
			}
			assert.LessOrEqual(t, insecure, -float64(SecurityBits))
			if c.n > 10 {
				assert.LessOrEqual(t, failure, -float64(CorrectnessBits)+0.05)
			}
		})
	}
}
