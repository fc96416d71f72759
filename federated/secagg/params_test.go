package secagg

import (
	"fmt"
	"testing"
)

// fcpGraphTable is the table of precomputed (degree, threshold) pairs in
// google-parfait/federated-compute, fcp/secagg/server/graph_parameter_finder_test.cc
// (HararyGraphParameterFinderTest_Feasible, security 2^-40, correctness
// 2^-20). fcp asserts the degree exactly and the threshold as an upper
// bound; we reproduce both.
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
	{100, 0.3, 0.3, Malicious, 92, 62},
	{1000, 0.3, 0.3, Malicious, 872, 584},
	{10000, 0.3, 0.3, Malicious, 4822, 3230},
	{100000, 0.3, 0.3, Malicious, 9388, 6286},
	{1000000, 0.3, 0.3, Malicious, 11136, 7454},
	{10, 0.05, 0.33, SemiHonest, 4, 2},
	{100, 0.05, 0.33, SemiHonest, 28, 6},
	{1000, 0.05, 0.33, SemiHonest, 72, 24},
	{10000, 0.05, 0.33, SemiHonest, 86, 29},
	{100000, 0.05, 0.33, SemiHonest, 96, 32},
	{1000000, 0.05, 0.33, SemiHonest, 102, 34},
	{10, 0.05, 0.33, Malicious, 8, 5},
	{100, 0.05, 0.33, Malicious, 72, 39},
	{1000, 0.05, 0.33, Malicious, 398, 223},
	{10000, 0.05, 0.33, Malicious, 746, 420},
	{100000, 0.05, 0.33, Malicious, 882, 496},
	{1000000, 0.05, 0.33, Malicious, 970, 545},
	{10, 0.33, 0.05, SemiHonest, 4, 4},
	{100, 0.33, 0.05, SemiHonest, 34, 29},
	{1000, 0.33, 0.05, SemiHonest, 78, 60},
	{10000, 0.33, 0.05, SemiHonest, 92, 70},
	{100000, 0.33, 0.05, SemiHonest, 102, 77},
	{1000000, 0.33, 0.05, SemiHonest, 110, 83},
	{10, 0.33, 0.05, Malicious, 4, 4},
	{100, 0.33, 0.05, Malicious, 42, 37},
	{1000, 0.33, 0.05, Malicious, 132, 109},
	{10000, 0.33, 0.05, Malicious, 178, 146},
	{100000, 0.33, 0.05, Malicious, 196, 160},
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
