package secagg

import (
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConsistencySignaturesBoundToSession: consistency signatures of one
// session, over the very survivor set a client is shown in the next one
// (same roster, same clients, the next Sequence), do not count there: the
// signed message carries the session id, which binds the configuration
// digest (Sequence included) and every advert. Nor does a client's
// signature of another message (its advert) or another client's
// signature relabelled.
func TestConsistencySignaturesBoundToSession(t *testing.T) {
	row := splitRow{12, 0.1, 0.1}
	cfgA := row.config()
	a := runAttackSession(t, cfgA, "session-A")
	cfgB := cfgA
	cfgB.Sequence++
	b := runAttackSession(t, cfgB, "session-B")
	require.Equal(t, a.p.cfg.Identities, b.p.cfg.Identities, "one roster")

	creqs, err := a.srv.ConsistencyRequests()
	require.NoError(t, err)
	sigsA := map[int][]byte{}
	for i, c := range a.clients {
		m, err := c.Consistency(creqs[i])
		require.NoError(t, err)
		sigsA[i] = m.Signature
	}
	creqsB, err := b.srv.ConsistencyRequests()
	require.NoError(t, err)
	require.Equal(t, creqs[0].Survivors, creqsB[0].Survivors, "the same survivor set")

	const target = 0
	nb := b.p.Neighbours(target)
	forged := func(sig func(j int) []byte, signer func(j int) uint32) error {
		c := b.clients[target].clone()
		_, err := c.Consistency(creqsB[target])
		require.NoError(t, err)
		ureqs := &UnmaskRequest{Client: target, Session: b.srv.Session(), Survivors: creqsB[target].Survivors}
		for _, j := range nb {
			ureqs.Alive = append(ureqs.Alive, uint32(j))
			ureqs.Signatures = append(ureqs.Signatures, SignedSurvivors{Client: signer(j), Signature: sig(j)})
		}
		_, err = c.Unmask(ureqs)
		return err
	}
	same := func(j int) uint32 { return uint32(j) }
	// Control: session B's own signatures pass.
	require.NoError(t, forged(func(j int) []byte {
		return ed25519.Sign(b.priv[j], consistencySigInput(&b.srv.session, creqsB[target].Survivors))
	}, same))
	// Session A's signatures over the same set.
	err = forged(func(j int) []byte { return sigsA[j] }, same)
	require.ErrorIs(t, err, ErrAuth)
	// Signatures over the same bytes without the label, or over the advert.
	err = forged(func(j int) []byte {
		return ed25519.Sign(b.priv[j], b.srv.session[:])
	}, same)
	require.ErrorIs(t, err, ErrAuth)
	// A valid signature of neighbour j relabelled as another neighbour's.
	err = forged(func(j int) []byte {
		return ed25519.Sign(b.priv[nb[0]], consistencySigInput(&b.srv.session, creqsB[target].Survivors))
	}, same)
	require.ErrorIs(t, err, ErrAuth)
	assert.NotEqual(t, a.srv.Session(), b.srv.Session())
}
