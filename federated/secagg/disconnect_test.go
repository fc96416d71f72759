package secagg

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/internal/shamir"
)

// TestSparseGraphDisconnectedByChosenDropouts shows a limit of SecAgg+
// against a malicious server, stated in the package documentation: the
// finder's connectivity bound assumes random dropouts, but a malicious
// server chooses who drops. On n=300 clients (dropout 0.1, no corrupt
// client: k=30, t=16, MinInputs=270) it ignores the adverts of k/2
// consecutive clients of the public ring on each side of an arc T of t
// clients. Every check passes (270 survivors, every client has t
// holders and t signatures), the session ends with the sum of 270
// inputs, and the server also learns the sum of the 16 inputs of T: the
// members of T have no neighbour outside T, so their pairwise masks
// cancel among themselves once their self masks are rebuilt. No single
// input is revealed.
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

	// Ring positions 0..t-1 are T; k/2 positions on each side drop.
	inT, gap := make([]bool, n), make([]bool, n)
	for pos := range n {
		id := int(p.perm[pos])
		inT[id] = pos < th
		gap[id] = (pos >= th && pos < th+k/2) || pos >= n-k/2
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
	inputs, masked := map[int][]int64{}, map[int]*MaskedInput{}
	for i, c := range clients {
		x := make([]int64, p.Length())
		for j := range x {
			x[j] = int64((i*7+j*13)%181) - 90
		}
		m, err := c.MaskInput(bundles[i], x)
		require.NoError(t, err)
		inputs[i], masked[i] = x, m
		require.NoError(t, srv.HandleMaskedInput(m))
	}
	require.NoError(t, srv.FinishMaskedInput())
	creqs, err := srv.ConsistencyRequests()
	require.NoError(t, err)
	for i, c := range clients {
		m, err := c.Consistency(creqs[i])
		require.NoError(t, err, "client %d", i)
		require.NoError(t, srv.HandleConsistency(m))
	}
	require.NoError(t, srv.FinishConsistency())
	ureqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	selfShares := map[int][]shamir.Share{}
	for i, c := range clients {
		m, err := c.Unmask(ureqs[i])
		require.NoError(t, err, "client %d", i)
		for _, s := range m.SelfShares {
			selfShares[int(s.Owner)] = append(selfShares[int(s.Owner)], s.Share)
		}
		require.NoError(t, srv.HandleUnmask(m))
	}
	res, err := srv.Finish()
	require.NoError(t, err)
	assert.Len(t, res.Survivors, n-k, "the honest-looking result sums MinInputs inputs")

	// The server's side computation: the sum over T alone.
	mod := int64(1) << p.bits
	acc, want := make([]int64, p.length), make([]int64, p.length)
	members := 0
	for u := range n {
		if !inT[u] {
			continue
		}
		members++
		require.GreaterOrEqual(t, len(selfShares[u]), th)
		seed, err := shamir.Combine(selfShares[u][:th], th, secretLen)
		require.NoError(t, err)
		var b [32]byte
		copy(b[:], seed)
		v := newVector(p.bits, p.length)
		require.NoError(t, v.unpack(masked[u].Packed))
		v.subMask(&b)
		out := make([]int64, p.length)
		v.centred(out)
		for j := range acc {
			acc[j] = ((acc[j]+out[j])%mod + mod) % mod
			want[j] += inputs[u][j]
		}
	}
	for j := range acc {
		if acc[j] >= mod/2 {
			acc[j] -= mod
		}
	}
	require.Equal(t, th, members)
	assert.Equal(t, want, acc, "the server learns the sum of the %d inputs of T, below MinInputs=%d", members, p.MinInputs())
}
