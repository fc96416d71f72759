package secagg

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// runCorruptHolders runs a session of 7 clients on the complete graph with
// threshold 4, in which client 6 drops out before masking (its mask key is
// rebuilt) and the clients in corrupt flip a bit in every share they
// reveal. Each secret then has 6 or 7 shares, fewer than 2t = 8: no two
// disjoint sets of t shares exist.
func runCorruptHolders(t *testing.T, corrupt []int) (*Result, [][]int64, error) {
	t.Helper()
	cfg := Config{NumClients: 7, Dim: 5, SideDim: 1, Bits: 20, MaxAbs: 100, MaxSideAbs: 100,
		DropoutRate: 0.2, Degree: 6, Threshold: 4, InsecureAllowLowThreshold: true}
	const dropped = 6
	p, err := NewParams(cfg)
	must(t, err)
	srv, err := NewServer(p)
	must(t, err)
	rnd := detRand("corrupt-holders")
	n := p.NumClients()
	clients := make([]*Client, n)
	for i := range n {
		clients[i], err = NewClient(p, i, &ClientOptions{InsecureTestRand: rnd})
		must(t, err)
		a, err := clients[i].Advertise()
		must(t, err)
		must(t, srv.HandleAdvert(a))
	}
	lists, err := srv.FinishAdvertise()
	must(t, err)
	for i, c := range clients {
		m, err := c.ShareKeys(lists[i])
		must(t, err)
		must(t, srv.HandleShareKeys(m))
	}
	bundles, err := srv.FinishShareKeys()
	must(t, err)
	inputs := make([][]int64, n)
	for i, c := range clients[:dropped] {
		inputs[i] = make([]int64, p.Length())
		for j := range inputs[i] {
			inputs[i][j] = int64((i+3)*(j+7)%171) - 85
		}
		m, err := c.MaskInput(bundles[i], inputs[i])
		must(t, err)
		must(t, srv.HandleMaskedInput(m))
	}
	must(t, srv.FinishMaskedInput())
	reqs, err := srv.UnmaskRequests()
	must(t, err)
	for i, c := range clients[:dropped] {
		m, err := c.Unmask(reqs[i])
		must(t, err)
		if slices.Contains(corrupt, i) {
			for _, list := range [][]RevealedShare{m.SelfShares, m.KeyShares} {
				for k := range list {
					list[k].Share.Y[1] ^= 1 << 7
				}
			}
		}
		must(t, srv.HandleUnmask(m)) // well-formed: only the values are wrong
	}
	res, err := srv.Finish()
	return res, inputs, err
}

func TestFinishSurvivesCorruptedShares(t *testing.T) {
	for _, tc := range []struct {
		corrupt, blamed []int
	}{
		// One corrupt holder: every window of t = 4 consecutive shares of
		// 6 or 7 holds position 3, so trying windows alone fails.
		{[]int{3}, []int{3}},
		{[]int{2}, []int{2}},
		{[]int{0}, []int{0}},
		// Share 5 comes after the first t of every secret: never needed,
		// never blamed.
		{[]int{5}, nil},
		// Two corrupt holders of 6 or 7 shares are past the unique
		// decoding bound: the sum is right, nobody is blamed. (With these
		// bit flips, holders 1 and 3 even cancel out in some subsets,
		// which then verify.)
		{[]int{1, 3}, nil},
		{[]int{4, 0}, nil},
	} {
		t.Run(fmt.Sprint(tc.corrupt), func(t *testing.T) {
			res, inputs, err := runCorruptHolders(t, tc.corrupt)
			if err != nil {
				t.Fatalf("Finish: %v", err)
			}
			want := make([]int64, len(res.Sum))
			for _, u := range res.Survivors {
				for j, v := range inputs[u] {
					want[j] += v
				}
			}
			if !slices.Equal(res.Sum, want) || len(res.Survivors) != 6 {
				t.Fatalf("sum = %v of %v, want %v", res.Sum, res.Survivors, want)
			}
			if !slices.Equal(res.Inconsistent, tc.blamed) {
				t.Fatalf("inconsistent holders = %v, want %v", res.Inconsistent, tc.blamed)
			}
		})
	}
	t.Run("honest", func(t *testing.T) {
		res, _, err := runCorruptHolders(t, nil)
		if err != nil || len(res.Inconsistent) != 0 {
			t.Fatalf("err = %v, inconsistent = %v", err, res.Inconsistent)
		}
	})
	// Three corrupted holders leave the mask key of client 6 with only 3
	// good shares of 6, below t = 4: the server aborts rather than return
	// a wrong sum.
	t.Run("too-many", func(t *testing.T) {
		res, _, err := runCorruptHolders(t, []int{1, 2, 4})
		var e *Error
		if !errors.Is(err, ErrAuth) || !errors.As(err, &e) || e.Round != RoundUnmask || res != nil {
			t.Fatalf("err = %v, want ErrAuth and no result", err)
		}
	})
}

func TestNextCombination(t *testing.T) {
	for _, tc := range []struct{ k, n, want int }{{0, 5, 1}, {1, 5, 5}, {2, 5, 10}, {3, 6, 20}, {4, 4, 1}} {
		c := make([]int, tc.k)
		for i := range c {
			c[i] = i
		}
		seen := map[string]bool{fmt.Sprint(c): true}
		for nextCombination(c, tc.n) {
			if !slices.IsSorted(c) || c[len(c)-1] >= tc.n || seen[fmt.Sprint(c)] {
				t.Fatalf("k=%d n=%d: bad combination %v", tc.k, tc.n, c)
			}
			seen[fmt.Sprint(c)] = true
		}
		if len(seen) != tc.want {
			t.Fatalf("k=%d n=%d: %d combinations, want %d", tc.k, tc.n, len(seen), tc.want)
		}
	}
}
