package secagg

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReconstructionWorkersAgree: Finish tries every secret's first
// reconstruction on all workers and works around corrupted shares on one;
// the Result, holders blamed included, and the error must not depend on
// the number of workers.
func TestReconstructionWorkersAgree(t *testing.T) {
	for _, corrupt := range [][]int{nil, {3}, {0}, {5}, {1, 3}, {4, 0}, {1, 2, 4}} {
		t.Run(fmt.Sprint(corrupt), func(t *testing.T) {
			var first *Result
			var firstErr error
			for i, procs := range []int{1, 2, 4} {
				old := runtime.GOMAXPROCS(procs)
				res, _, err := runCorruptHolders(t, corrupt)
				runtime.GOMAXPROCS(old)
				if i == 0 {
					first, firstErr = res, err
					continue
				}
				require.Equal(t, firstErr, err, "GOMAXPROCS=%d", procs)
				require.Equal(t, first, res, "GOMAXPROCS=%d", procs)
			}
		})
	}
}

// TestReconstructionScenarios: seeded random sessions on the complete
// graph (n = 10, t = 4) with 0 to 2 clients dropping before masking, the
// unmask responses arriving in a random order (one survivor sometimes
// silent), and 1 to 4 corrupt holders each corrupting a random subset of
// the shares it reveals. At GOMAXPROCS 1, 2 and 4 the server must return
// the same Result (blamed holders included) or the same error; a Result
// must be the plain sum of the survivors' inputs, and an error must be
// ErrAuth or ErrTooFewClients, never a wrong sum.
func TestReconstructionScenarios(t *testing.T) {
	scenarios := 40
	if testing.Short() {
		scenarios = 12
	}
	for sc := range scenarios {
		var first *Result
		var firstErr error
		var want []int64
		for i, procs := range []int{1, 2, 4} {
			old := runtime.GOMAXPROCS(procs)
			res, sum, err := runScenario(t, uint64(sc))
			runtime.GOMAXPROCS(old)
			if i == 0 {
				first, firstErr, want = res, err, sum
				continue
			}
			require.Equal(t, firstErr, err, "scenario %d, GOMAXPROCS=%d", sc, procs)
			require.Equal(t, first, res, "scenario %d, GOMAXPROCS=%d", sc, procs)
		}
		if firstErr != nil {
			require.True(t, errors.Is(firstErr, ErrAuth) || errors.Is(firstErr, ErrTooFewClients), "scenario %d: %v", sc, firstErr)
			continue
		}
		require.Equal(t, want, first.Sum, "scenario %d", sc)
	}
}

// runScenario runs scenario sc of TestReconstructionScenarios and returns
// the server's result, the plain sum of the inputs of the clients that
// sent masked inputs, and Finish's error.
func runScenario(t *testing.T, sc uint64) (*Result, []int64, error) {
	t.Helper()
	r := rand.New(rand.NewPCG(sc, 0x5ec))
	cfg := Config{NumClients: 10, Dim: 6, Bits: 20, MaxAbs: 100, MaxSideAbs: 1,
		DropoutRate: 0.2, Degree: 9, Threshold: 4, InsecureAllowLowThreshold: true}
	p, err := NewParams(cfg)
	require.NoError(t, err)
	srv, err := NewServer(p)
	require.NoError(t, err)
	rnd := detRand(fmt.Sprintf("scenario-%d", sc))
	n := p.NumClients()
	clients := make([]*Client, n)
	for i := range n {
		clients[i], err = NewClient(p, i, &ClientOptions{InsecureTestRand: rnd})
		require.NoError(t, err)
		a, err := clients[i].Advertise()
		require.NoError(t, err)
		require.NoError(t, srv.HandleAdvert(a))
	}
	lists, err := srv.FinishAdvertise()
	require.NoError(t, err)
	for i, c := range clients {
		m, err := c.ShareKeys(lists[i])
		require.NoError(t, err)
		require.NoError(t, srv.HandleShareKeys(m))
	}
	bundles, err := srv.FinishShareKeys()
	require.NoError(t, err)
	perm := r.Perm(n)
	dropped := perm[:r.IntN(3)]
	sum := make([]int64, p.Length())
	var alive []int
	for i, c := range clients {
		if slices.Contains(dropped, i) {
			continue
		}
		x := make([]int64, p.Length())
		for j := range x {
			x[j] = int64(r.IntN(201)) - 100
			sum[j] += x[j]
		}
		m, err := c.MaskInput(bundles[i], x)
		require.NoError(t, err)
		require.NoError(t, srv.HandleMaskedInput(m))
		alive = append(alive, i)
	}
	require.NoError(t, srv.FinishMaskedInput())
	reqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	r.Shuffle(len(alive), func(a, b int) { alive[a], alive[b] = alive[b], alive[a] })
	corrupt := alive[:1+r.IntN(4)]
	silent := -1
	if r.IntN(2) == 0 {
		silent = alive[len(alive)-1]
	}
	for _, i := range alive {
		if i == silent {
			continue
		}
		m, err := clients[i].Unmask(reqs[i])
		require.NoError(t, err)
		if slices.Contains(corrupt, i) {
			for _, list := range [][]RevealedShare{m.SelfShares, m.KeyShares} {
				for k := range list {
					if r.IntN(2) == 0 {
						list[k].Share.Y[r.IntN(len(list[k].Share.Y))] ^= 1 << r.IntN(20)
					}
				}
			}
		}
		require.NoError(t, srv.HandleUnmask(m))
	}
	res, err := srv.Finish()
	return res, sum, err
}
