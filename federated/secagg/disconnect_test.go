package secagg

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSparseGraphDisconnectedByChosenDropouts: the finder's connectivity
// bound assumes random dropouts, but a malicious server chooses who
// drops, and the ring is public. On n=300 clients (dropout 0.1, no
// corrupt client: k=30, t=16, MinInputs=270) it ignores the adverts of
// k/2 consecutive clients on each side of an arc T of k clients. The arc
// has no neighbour outside itself, 270 clients survive, and with a client
// counting itself among its t alive holders every check passed: the
// server rebuilt every self mask of T and learnt the sum of T's inputs
// besides the session's sum (exactly, with an arc of t clients). A client of a sparse graph now needs
// t alive neighbours: the clients at the ends of T, with k/2, refuse;
// without their own shares their self masks cannot be rebuilt, and since
// every client of T is a survivor no mask key of T is revealed, so no
// part of T can be summed apart.
func TestSparseGraphDisconnectedByChosenDropouts(t *testing.T) {
	if testing.Short() {
		t.Skip("300 clients in -short mode")
	}
	const n = 300
	cfg, priv := maliciousCfg(t, n)
	p, err := NewParams(cfg)
	require.NoError(t, err)
	k, th := p.Degree(), p.Threshold()
	require.Equal(t, 30, k)
	require.Equal(t, 16, th)
	require.Equal(t, 270, p.MinInputs())

	// Ring positions 0..k-1 are T; k/2 positions on each side drop.
	inT, gap := make([]bool, n), make([]bool, n)
	ends := map[int]bool{int(p.perm[0]): true, int(p.perm[k-1]): true}
	for pos := range n {
		id := int(p.perm[pos])
		inT[id] = pos < k
		gap[id] = (pos >= k && pos < k+k/2) || pos >= n-k/2
	}
	srv, err := NewServer(p)
	require.NoError(t, err)
	clients := map[int]*Client{}
	rnd := detRand("disconnect")
	for i := range n {
		if gap[i] {
			continue // the server ignores them
		}
		c, err := NewClient(p, i, maliciousOpts(p, priv[i], rnd))
		require.NoError(t, err)
		clients[i] = c
		a, err := c.Advertise()
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
	for i, c := range clients {
		x := make([]int64, p.Length())
		for j := range x {
			x[j] = int64((i*7+j*13)%181) - 90
		}
		m, err := c.MaskInput(bundles[i], x)
		require.NoError(t, err)
		require.NoError(t, srv.HandleMaskedInput(m))
	}
	require.NoError(t, srv.FinishMaskedInput())
	creqs, err := srv.ConsistencyRequests()
	require.NoError(t, err)
	refused := map[int]bool{}
	for i, c := range clients {
		m, err := c.Consistency(creqs[i])
		if err != nil {
			require.ErrorIs(t, err, ErrTooFewClients)
			refused[i] = true
			continue
		}
		require.NoError(t, srv.HandleConsistency(m))
	}
	for e := range ends {
		assert.True(t, refused[e], "client %d at an end of the arc must refuse", e)
	}
	for i := range refused {
		assert.True(t, p.IsNeighbour(i, int(p.perm[k])) || p.IsNeighbour(i, int(p.perm[n-1])) || p.IsNeighbour(i, int(p.perm[k+k/2-1])) || p.IsNeighbour(i, int(p.perm[n-k/2])),
			"only clients next to a gap refuse, not client %d", i)
	}
	require.NoError(t, srv.FinishConsistency())
	ureqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	selfShares, keyShares := map[int]int{}, map[int]int{}
	for i, c := range clients {
		if refused[i] || ureqs[i] == nil {
			continue
		}
		m, err := c.Unmask(ureqs[i])
		if err != nil {
			continue
		}
		for _, s := range m.SelfShares {
			selfShares[int(s.Owner)]++
		}
		for _, s := range m.KeyShares {
			keyShares[int(s.Owner)]++
		}
	}
	for u := range n {
		if inT[u] {
			assert.Zero(t, keyShares[u], "no mask key of a survivor of T is revealed")
		}
	}
	for e := range ends {
		assert.Less(t, selfShares[e], th, "the self mask of end client %d cannot be rebuilt", e)
	}
}
