package secagg

import (
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaskedInputFromChannel: HandleMaskedInputFrom takes the sender the
// channel authenticated. A message under another client's id is refused
// (a corrupt client cannot speak for an honest one over its own channel)
// and leaves no trace; a message whose sender matches is added without
// verifying its signature, and the session's sum is the plain sum.
func TestMaskedInputFromChannel(t *testing.T) {
	const n = 6
	r := newMaliciousRun(t, n)
	for _, m := range r.keys {
		require.NoError(t, r.srv.HandleShareKeys(m))
	}
	bundles, err := r.srv.FinishShareKeys()
	require.NoError(t, err)
	for i, c := range r.clients {
		x := make([]int64, r.p.Length())
		x[0], x[1] = int64(i+1), -int64(3*i)
		m, err := c.MaskInput(bundles[i], x)
		require.NoError(t, err)
		r.masked = append(r.masked, m)
	}
	// Client 0's message arriving on client 1's channel is refused, as
	// are a negative sender and a nil message.
	wantErr(t, r.srv.HandleMaskedInputFrom(1, r.masked[0]), ErrAuth, RoundMaskedInput)
	wantErr(t, r.srv.HandleMaskedInputFrom(-1, r.masked[0]), ErrAuth, RoundMaskedInput)
	wantErr(t, r.srv.HandleMaskedInputFrom(0, nil), ErrMalformed, RoundMaskedInput)
	// The verifying path refuses what the channel-bound path accepts:
	// client 1's message with its signature stripped.
	unsigned := *r.masked[1]
	unsigned.Signature = nil
	wantErr(t, r.srv.HandleMaskedInput(&unsigned), ErrAuth, RoundMaskedInput)
	require.NoError(t, r.srv.HandleMaskedInputFrom(1, &unsigned))
	// A second message on the same channel is a replay.
	wantErr(t, r.srv.HandleMaskedInputFrom(1, r.masked[1]), ErrReplay, RoundMaskedInput)
	for i, m := range r.masked {
		if i != 1 {
			require.NoError(t, r.srv.HandleMaskedInputFrom(i, m))
		}
	}
	res := r.finish(t)
	var want [2]int64
	for i := range n {
		want[0] += int64(i + 1)
		want[1] -= int64(3 * i)
	}
	assert.Equal(t, want[:], res.Sum[:2])
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, res.Survivors)
}

// finish runs the consistency and unmasking rounds of r with every client.
func (r *maliciousRun) finish(t *testing.T) *Result {
	require.NoError(t, r.srv.FinishMaskedInput())
	creqs, err := r.srv.ConsistencyRequests()
	require.NoError(t, err)
	for i, c := range r.clients {
		m, err := c.Consistency(creqs[i])
		require.NoError(t, err)
		require.NoError(t, r.srv.HandleConsistency(m))
	}
	require.NoError(t, r.srv.FinishConsistency())
	ureqs, err := r.srv.UnmaskRequests()
	require.NoError(t, err)
	for i, c := range r.clients {
		m, err := c.Unmask(ureqs[i])
		require.NoError(t, err)
		require.NoError(t, r.srv.HandleUnmask(m))
	}
	res, err := r.srv.Finish()
	require.NoError(t, err)
	return res
}

// TestMaskedInputFromSemiHonest: the channel-bound path keeps the
// semi-honest encoding rule (no signature) and the sender check.
func TestMaskedInputFromSemiHonest(t *testing.T) {
	st := newStage(t, checkCfg, RoundMaskedInput)
	m, err := st.clients[0].MaskInput(st.bundles[0], make([]int64, st.p.Length()))
	require.NoError(t, err)
	wantErr(t, st.srv.HandleMaskedInputFrom(2, m), ErrAuth, RoundMaskedInput)
	signed := *m
	signed.Signature = make([]byte, ed25519.SignatureSize)
	wantErr(t, st.srv.HandleMaskedInputFrom(0, &signed), ErrProtocol, RoundMaskedInput)
	require.NoError(t, st.srv.HandleMaskedInputFrom(0, m))
}
