package secagg

import (
	"crypto/ed25519"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignedCorruptSharesDoNotAbort: in the malicious model, three corrupt
// clients of a 30-client complete-graph round reveal corrupted shares and
// sign them (so the server cannot refuse them as unauthenticated). The
// server locates them by unique decoding, names them, and still returns
// the exact sum.
func TestSignedCorruptSharesDoNotAbort(t *testing.T) {
	const n = 30
	cfg, priv := maliciousCfg(t, n)
	cfg.Degree, cfg.CorruptRate = n-1, 0.1
	p, err := NewParams(cfg)
	require.NoError(t, err)
	require.Equal(t, 18, p.Threshold()) // 2t > n + 3
	srv, _ := NewServer(p)
	rnd := detRand("signed-corrupt")
	clients := make([]*Client, n)
	for i := range n {
		clients[i], err = NewClient(p, i, maliciousOpts(p, priv[i], rnd))
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
	const dropped = 29 // its mask key is rebuilt from 29 shares
	var want int64
	for i, c := range clients[:dropped] {
		x := make([]int64, p.Length())
		x[0] = int64(i*i) % 97
		want += x[0]
		m, err := c.MaskInput(bundles[i], x)
		require.NoError(t, err)
		require.NoError(t, srv.HandleMaskedInput(m))
	}
	require.NoError(t, srv.FinishMaskedInput())
	creqs, err := srv.ConsistencyRequests()
	require.NoError(t, err)
	for i, c := range clients[:dropped] {
		m, err := c.Consistency(creqs[i])
		require.NoError(t, err)
		require.NoError(t, srv.HandleConsistency(m))
	}
	require.NoError(t, srv.FinishConsistency())
	ureqs, err := srv.UnmaskRequests()
	require.NoError(t, err)
	bad := []int{2, 7, 11}
	for i, c := range clients[:dropped] {
		m, err := c.Unmask(ureqs[i])
		require.NoError(t, err)
		if slices.Contains(bad, i) {
			for _, list := range [][]RevealedShare{m.SelfShares, m.KeyShares} {
				for k := range list {
					list[k].Share.Y[k%len(list[k].Share.Y)] ^= 1 << 20
				}
			}
			in, err := m.sigInput()
			require.NoError(t, err)
			m.Signature = ed25519.Sign(priv[i], in)
		}
		require.NoError(t, srv.HandleUnmask(m))
	}
	res, err := srv.Finish()
	require.NoError(t, err)
	assert.Equal(t, want, res.Sum[0])
	assert.Equal(t, bad, res.Inconsistent)
}
