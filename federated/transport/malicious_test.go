package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/internal/mtls"
)

// TestMaliciousModelOverTLS runs the malicious threat model with the
// clients' certificate keys as their secure-aggregation identities. A
// client shown a roster that differs from its own refuses the round
// before sending anything, and the others finish with the exact sum.
func TestMaliciousModelOverTLS(t *testing.T) {
	const n, dim = 6, 40
	cfg := baseConfig(n, dim, 1)
	h := newHarness(t, cfg, Limits{})
	// One certificate per client, issued once: its key is the identity.
	roster := make([]ed25519.PublicKey, n)
	keys := make([]ed25519.PrivateKey, n)
	confs := make([]*tls.Config, n)
	for id := range n {
		is, err := h.ca.IssueClient(id, nil)
		require.NoError(t, err)
		keys[id] = is.Key.(ed25519.PrivateKey)
		roster[id] = keys[id].Public().(ed25519.PublicKey)
		confs[id], err = mtls.ClientConfig(h.ca.CertPEM, is.TLS(), "localhost")
		require.NoError(t, err)
	}
	// The harness's server was built from cfg; rebuild it for the
	// malicious model.
	cfg.Secagg.Threat, cfg.Secagg.Identities, cfg.Secagg.CorruptRate = secagg.Malicious, roster, 0.1
	cfg.SessionSeed = func(round uint64) ([32]byte, error) { return [32]byte{byte(round), 7}, nil }
	cfg.OnRound = h.srv.cfg.OnRound
	cfg.Logger = h.srv.cfg.Logger
	srv, err := NewServer(cfg)
	require.NoError(t, err)
	h.srv = srv
	h.g.Stop()
	h.restartGRPC()
	h.start()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.TLS, c.Identity, c.RequireMalicious = confs[id], keys[id], true
		c.Roster = roster
		if id == 5 {
			// Client 5 knows another key for client 0 than the server lists.
			other := append([]ed25519.PublicKey(nil), roster...)
			pk, _, _ := ed25519.GenerateKey(nil)
			other[0] = pk
			c.Roster = other
		}
	})
	require.NoError(t, h.wait())
	wait()
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	assert.Equal(t, []int{0, 1, 2, 3, 4}, rep.Result.Survivors)
	assert.Equal(t, plainSum([]int{0, 1, 2, 3, 4}, 1, dim+1), rep.Result.Sum)
	assert.Contains(t, rep.DroppedAt, 5)
	assert.Contains(t, h.logs.String(), "differs from the client's roster")

	// A server configured for the malicious model without a seed source
	// it does not control is refused.
	cfg.SessionSeed = nil
	_, err = NewServer(cfg)
	assert.ErrorIs(t, err, ErrConfig)
}
