package secagg

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/internal/shamir"
)

// paddedRun is a malicious-model session on the complete graph in which
// the last drop clients go silent after advertising: the lying server
// routes the others' envelopes itself (an honest server aborts below
// MinInputs) and collects their masked inputs.
type paddedRun struct {
	p       *Params
	clients []*Client
	inputs  [][]int64
	masked  []*MaskedInput
	session [32]byte
}

func newPaddedRun(t *testing.T, n, drop int) *paddedRun {
	cfg, priv := maliciousCfg(t, n)
	cfg.Degree = n - 1
	p, err := NewParams(cfg)
	require.NoError(t, err)
	r := &paddedRun{p: p}
	srv, err := NewServer(p)
	require.NoError(t, err)
	rnd := detRand("padded")
	for i := range n {
		c, err := NewClient(p, i, maliciousOpts(p, priv[i], rnd))
		require.NoError(t, err)
		r.clients = append(r.clients, c)
		a, err := c.Advertise()
		require.NoError(t, err)
		require.NoError(t, srv.HandleAdvert(a))
	}
	lists, err := srv.FinishAdvertise()
	require.NoError(t, err)
	live := n - drop
	bundles := make([]*ShareBundle, live)
	for i := range live {
		m, err := r.clients[i].ShareKeys(lists[i])
		require.NoError(t, err)
		r.session = m.Session
		for _, e := range m.Envelopes {
			if int(e.To) < live {
				if bundles[e.To] == nil {
					bundles[e.To] = &ShareBundle{Client: e.To, Session: m.Session}
				}
				bundles[e.To].Envelopes = append(bundles[e.To].Envelopes, e)
			}
		}
	}
	for i := range live {
		x := make([]int64, p.Length())
		for j := range x {
			x[j] = int64((i+2)*(j+5)%101) - 50
		}
		m, err := r.clients[i].MaskInput(bundles[i], x)
		require.NoError(t, err)
		r.inputs = append(r.inputs, x)
		r.masked = append(r.masked, m)
	}
	return r
}

// TestPaddedSurvivorSetRefused: a survivor set padded with clients that
// never shared keys passes a count against MinInputs but does not change
// what the clients reveal, since they hold no shares of the padding. On
// the complete graph of 10 clients (t=6, MinInputs=9) with 3 silent after
// advertising, the 7 others would sign all 10 ids and reveal their
// self-mask shares, and the server would learn the sum of 7 inputs, below
// MinInputs. Each client refuses a survivor it holds no shares of.
func TestPaddedSurvivorSetRefused(t *testing.T) {
	const n, drop = 10, 3
	r := newPaddedRun(t, n, drop)
	require.Equal(t, 9, r.p.MinInputs())
	require.Equal(t, 6, r.p.Threshold())
	live := n - drop
	padded := make([]uint32, n)
	for i := range padded {
		padded[i] = uint32(i)
	}
	sigs := map[int][]byte{}
	for i := range live {
		rep, err := r.clients[i].Consistency(&ConsistencyRequest{Client: uint32(i), Session: r.session, Survivors: padded})
		if err != nil {
			require.ErrorIs(t, err, ErrProtocol)
			assert.Contains(t, err.Error(), "shares")
			continue
		}
		sigs[i] = rep.Signature
	}
	assert.Empty(t, sigs, "every client must refuse the padded set")
	// Whatever was signed, play the unmasking and try to rebuild the sum
	// of the live clients.
	selfShares := make([][]shamir.Share, live)
	for i := range live {
		if sigs[i] == nil {
			continue
		}
		q := &UnmaskRequest{Client: uint32(i), Session: r.session, Survivors: padded}
		for j := range live {
			if j != i {
				q.Alive = append(q.Alive, uint32(j))
				if sigs[j] != nil {
					q.Signatures = append(q.Signatures, SignedSurvivors{Client: uint32(j), Signature: sigs[j]})
				}
			}
		}
		m, err := r.clients[i].Unmask(q)
		if err != nil {
			continue
		}
		for _, s := range m.SelfShares {
			selfShares[s.Owner] = append(selfShares[s.Owner], s.Share)
		}
	}
	for i := range live {
		if len(selfShares[i]) < r.p.t {
			return // the server cannot remove the self masks: refused
		}
	}
	// Every self mask is known: the pairwise masks of the 7 cancel and
	// the sum of 7 < MinInputs inputs is out.
	bits := r.p.bits
	mod := int64(1) << bits
	acc := make([]int64, r.p.length)
	want := make([]int64, r.p.length)
	for i := range live {
		seed, err := shamir.Combine(selfShares[i][:r.p.t], r.p.t, secretLen)
		require.NoError(t, err)
		var b [32]byte
		copy(b[:], seed)
		v := newVector(bits, r.p.length)
		require.NoError(t, v.unpack(r.masked[i].Packed))
		v.subMask(&b)
		out := make([]int64, r.p.length)
		v.centred(out)
		for j := range acc {
			acc[j] = ((acc[j]+out[j])%mod + mod) % mod
			want[j] += r.inputs[i][j]
		}
	}
	for j := range acc {
		if acc[j] >= mod/2 {
			acc[j] -= mod
		}
	}
	assert.False(t, slices.Equal(want, acc), "the server learnt the sum of %d inputs, below MinInputs=%d", live, r.p.MinInputs())
}
