package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/privml/privml/federated/secagg"
	"github.com/privml/privml/internal/mtls"
)

// maliciousHarness starts a harness whose server runs the malicious
// threat model, with the clients' certificate keys as their
// secure-aggregation identities and session seeds from a beacon value.
// It returns the clients' TLS configurations, identity keys and roster.
func maliciousHarness(t *testing.T, n, dim int, beacon []byte) (*harness, []*tls.Config, []ed25519.PrivateKey, []ed25519.PublicKey) {
	return maliciousHarnessWith(t, baseConfig(n, dim, 1), beacon, nil)
}

// maliciousHarnessWith is maliciousHarness for the server configuration
// cfg (its threat model, identities and seed source are set here) and,
// when hooks is not nil, the test hooks it returns for the new server.
func maliciousHarnessWith(t *testing.T, cfg ServerConfig, beacon []byte, hooks func(*Server) *serverHooks) (*harness, []*tls.Config, []ed25519.PrivateKey, []ed25519.PublicKey) {
	n := cfg.Secagg.NumClients
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
	cfg.SessionSeed = BeaconSeeds(beacon, roster)
	cfg.OnRound = h.srv.cfg.OnRound
	cfg.Logger = h.srv.cfg.Logger
	srv, err := NewServer(cfg)
	require.NoError(t, err)
	if hooks != nil {
		srv.hooks = hooks(srv)
	}
	h.srv = srv
	h.g.Stop()
	h.restartGRPC()
	h.start()

	// A server configured for the malicious model without a seed source
	// it does not control is refused.
	cfg.SessionSeed = nil
	_, err = NewServer(cfg)
	assert.ErrorIs(t, err, ErrConfig)
	return h, confs, keys, roster
}

// TestMaliciousModelOverTLS runs the malicious threat model (every client
// message also signed, secagg wire version 2). A client shown a roster
// that differs from its own refuses the round before sending anything,
// and the others finish with the exact sum.
func TestMaliciousModelOverTLS(t *testing.T) {
	const n, dim = 6, 40
	beacon := []byte("beacon value fixed in advance")
	h, confs, keys, roster := maliciousHarness(t, n, dim, beacon)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	sent := map[int][]Stage{}
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.TLS, c.Identity, c.RequireMalicious = confs[id], keys[id], true
		c.Roster, c.SessionSeed = roster, BeaconSeeds(beacon, roster)
		c.BeforeStage = func(_ uint64, st Stage) error {
			mu.Lock()
			sent[id] = append(sent[id], st)
			mu.Unlock()
			return nil
		}
		if id == 5 {
			// Client 5 knows another key for client 0 than the server lists.
			other := append([]ed25519.PublicKey(nil), roster...)
			pk, _, _ := ed25519.GenerateKey(nil)
			other[0] = pk
			c.Roster = other
			c.SessionSeed = BeaconSeeds(beacon, other)
		}
	})
	require.NoError(t, h.wait())
	wait()
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	assert.Equal(t, []int{0, 1, 2, 3, 4}, rep.Result.Survivors)
	assert.Equal(t, plainSum([]int{0, 1, 2, 3, 4}, 1, dim+1), rep.Result.Sum)
	assert.Equal(t, StageAdvertise, rep.DroppedAt[5])
	assert.Contains(t, h.logs.String(), "differs from the client's roster")
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, sent[5], "client 5 sent messages in a session it refused")
	assert.Equal(t, []Stage{StageAdvertise, StageShareKeys, StageMaskedInput, StageConsistency, StageUnmask}, sent[0])
}

// TestClientRefusesServerChosenSeed: a server that hands out a session
// seed other than the one a client derives itself (here, from another
// beacon value: the server choosing the neighbour graph) is refused by
// that client before it sends anything; the others, whose source agrees
// with the server, finish with the exact sum.
func TestClientRefusesServerChosenSeed(t *testing.T) {
	const n, dim = 6, 40
	beacon := []byte("beacon value fixed in advance")
	h, confs, keys, roster := maliciousHarness(t, n, dim, beacon)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	sent := map[int][]Stage{}
	wait := h.runClients(ctx, ids(n), func(id int, c *ClientConfig) {
		c.TLS, c.Identity, c.RequireMalicious = confs[id], keys[id], true
		c.Roster, c.SessionSeed = roster, BeaconSeeds(beacon, roster)
		c.BeforeStage = func(_ uint64, st Stage) error {
			mu.Lock()
			sent[id] = append(sent[id], st)
			mu.Unlock()
			return nil
		}
		if id == 2 {
			c.SessionSeed = BeaconSeeds([]byte("the client's own beacon value"), roster)
		}
	})
	require.NoError(t, h.wait())
	wait()
	rep := h.roundReports()[0]
	require.NoError(t, rep.Err)
	survivors := []int{0, 1, 3, 4, 5}
	assert.Equal(t, survivors, rep.Result.Survivors)
	assert.Equal(t, plainSum(survivors, 1, dim+1), rep.Result.Sum)
	assert.Equal(t, StageAdvertise, rep.DroppedAt[2])
	assert.Contains(t, h.logs.String(), "SessionSeed is not the expected one")
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, sent[2], "client 2 sent messages in a session whose seed it refused")
}
