package transport

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/privml/privml/federated/secagg"
)

// policyFixture is a malicious-model configuration of n clients whose
// seed comes from beacon, as the server would send it, and the matching
// client policy of client 0.
func policyFixture(t *testing.T, n int, beacon []byte) (secagg.Config, *clientPolicy, []ed25519.PrivateKey) {
	keys := make([]ed25519.PrivateKey, n)
	roster := make([]ed25519.PublicKey, n)
	for i := range n {
		pk, sk, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		keys[i], roster[i] = sk, pk
	}
	seeds := BeaconSeeds(beacon, roster)
	seed, err := seeds(7)
	require.NoError(t, err)
	cfg := secagg.Config{
		NumClients: n, Dim: 8, Bits: 32, MaxAbs: 1000, Threat: secagg.Malicious,
		DropoutRate: 0.1, CorruptRate: 0.1, Identities: roster, SessionSeed: seed, Sequence: 1<<32 | 7,
	}
	pol := &clientPolicy{
		roster: roster, identity: keys[0], sessionSeed: seeds,
		sequences: new(secagg.MemorySequenceStore), threat: secagg.Malicious,
	}
	return cfg, pol, keys
}

// TestClientPolicyRefusals: every way in which a server's configuration
// can violate what the client knows from outside the server is refused
// by newClientRound, before the client has produced any message, and
// the client's own missing settings are ErrConfig (which stops Run).
func TestClientPolicyRefusals(t *testing.T) {
	const n = 8
	cfg, pol, _ := policyFixture(t, n, []byte("beacon"))
	_, err := newClientRound(cfg, 0, 7, pol)
	require.NoError(t, err, "the honest configuration")

	fresh := func() (secagg.Config, *clientPolicy) {
		c, p, _ := policyFixture(t, n, []byte("beacon"))
		return c, p
	}
	cases := map[string]struct {
		mod  func(*secagg.Config, *clientPolicy)
		want error
		text string
	}{
		"server-chosen seed": {func(c *secagg.Config, _ *clientPolicy) { c.SessionSeed[0] ^= 1 }, secagg.ErrPolicy, "SessionSeed"},
		"seed of another round": {func(c *secagg.Config, p *clientPolicy) {
			c.SessionSeed, _ = p.sessionSeed(8)
		}, secagg.ErrPolicy, "SessionSeed"},
		"sybil identity": {func(c *secagg.Config, _ *clientPolicy) {
			ids := append([]ed25519.PublicKey(nil), c.Identities...)
			ids[3], _, _ = ed25519.GenerateKey(nil)
			c.Identities = ids
		}, secagg.ErrPolicy, "identity of client 3"},
		"roster too short": {func(c *secagg.Config, _ *clientPolicy) {
			c.NumClients--
			c.Identities = c.Identities[:n-1]
		}, secagg.ErrPolicy, "lists 7 identities"},
		"semi-honest session": {func(c *secagg.Config, _ *clientPolicy) { c.Threat = secagg.SemiHonest }, secagg.ErrPolicy, "requires"},
		"too few inputs":      {func(_ *secagg.Config, p *clientPolicy) { p.minInputs = n + 1 }, secagg.ErrPolicy, "MinInputs"},
		"low threshold":       {func(_ *secagg.Config, p *clientPolicy) { p.minThresh = n + 1 }, secagg.ErrPolicy, "threshold"},
		"no roster":           {func(_ *secagg.Config, p *clientPolicy) { p.roster = nil }, ErrConfig, "Roster"},
		"no seed source":      {func(_ *secagg.Config, p *clientPolicy) { p.sessionSeed = nil }, ErrConfig, "SessionSeed"},
		"no identity":         {func(_ *secagg.Config, p *clientPolicy) { p.identity = nil }, ErrConfig, "Identity"},
		"seed source fails": {func(_ *secagg.Config, p *clientPolicy) {
			p.sessionSeed = func(uint64) ([32]byte, error) { return [32]byte{}, errors.New("beacon unreachable") }
		}, ErrConfig, "beacon unreachable"},
		"no sequence store": {func(_ *secagg.Config, p *clientPolicy) { p.sequences = nil }, secagg.ErrConfig, "Sequences"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, p := fresh()
			tc.mod(&c, p)
			_, err := newClientRound(c, 0, 7, p)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.text)
		})
	}
}

// TestClientRefusesReplayedSession: the same configuration (same
// Sequence) offered twice is refused the second time, also by a new
// client process reading the same FileSequenceStore; an earlier Sequence
// too. A refused session does not advance the store.
func TestClientRefusesReplayedSession(t *testing.T) {
	cfg, pol, _ := policyFixture(t, 8, []byte("beacon"))
	pol.sequences = secagg.FileSequenceStore{Path: t.TempDir() + "/client-0.sequence"}
	_, err := newClientRound(cfg, 0, 7, pol)
	require.NoError(t, err)
	_, err = newClientRound(cfg, 0, 7, pol)
	require.ErrorIs(t, err, secagg.ErrReplay)

	restarted := *pol
	restarted.sequences = secagg.FileSequenceStore{Path: pol.sequences.(secagg.FileSequenceStore).Path}
	_, err = newClientRound(cfg, 0, 7, &restarted)
	require.ErrorIs(t, err, secagg.ErrReplay)
	old := cfg
	old.Sequence--
	_, err = newClientRound(old, 0, 7, &restarted)
	require.ErrorIs(t, err, secagg.ErrReplay)

	// A policy refusal records nothing: the next Sequence is still taken.
	next := cfg
	next.Sequence++
	bad := next
	bad.SessionSeed[0] ^= 1
	_, err = newClientRound(bad, 0, 7, &restarted)
	require.ErrorIs(t, err, secagg.ErrPolicy)
	_, err = newClientRound(next, 0, 7, &restarted)
	require.NoError(t, err)
}

// TestEverySecaggSentinelHasAStatus: each of secagg's sentinels maps to a
// status that says whether a retry helps, never to the generic Internal
// (except a failed randomness source, which is the server's own fault).
func TestEverySecaggSentinelHasAStatus(t *testing.T) {
	want := map[error]codes.Code{
		secagg.ErrConfig: codes.FailedPrecondition, secagg.ErrInsecureParams: codes.FailedPrecondition,
		secagg.ErrHeadroom: codes.FailedPrecondition, secagg.ErrInput: codes.InvalidArgument,
		secagg.ErrMalformed: codes.InvalidArgument, secagg.ErrSession: codes.FailedPrecondition,
		secagg.ErrRound: codes.FailedPrecondition, secagg.ErrReplay: codes.AlreadyExists,
		secagg.ErrProtocol: codes.InvalidArgument, secagg.ErrAuth: codes.Unauthenticated,
		secagg.ErrTooFewClients: codes.Aborted, secagg.ErrRandom: codes.Internal,
		secagg.ErrPolicy: codes.FailedPrecondition,
	}
	for sentinel, code := range want {
		err := &secagg.Error{Client: 3, Round: secagg.RoundShareKeys, Err: sentinel}
		st := togRPCError(err)
		assert.Equal(t, code, status.Code(st), "%v", sentinel)
		if code != codes.Internal {
			assert.Contains(t, st.Error(), sentinel.Error())
		}
	}
}
