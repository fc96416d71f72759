package secagg

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPolicyRefusesServerThreshold: the roster and the session seed come
// from outside the server, but Degree, Threshold, CorruptRate,
// DropoutRate and MinInputs are still the server's word. A server that
// lowers the threshold (InsecureAllowLowThreshold), or claims fewer
// corrupt clients than the client assumes, hands out a session its
// colluders can unmask (TestSplitViewAttackControl: k=4, t=3 on 12
// clients with one corrupt neighbour recovers an input exactly). The
// client refuses every such session before sending anything.
func TestPolicyRefusesServerThreshold(t *testing.T) {
	honest, priv := maliciousCfg(t, 12)
	honest.CorruptRate = 0.1
	p, err := NewParams(honest)
	require.NoError(t, err)
	opts := func(pol func(*ClientPolicy)) *ClientOptions {
		o := maliciousOpts(p, priv[1], detRand("threshold-policy"))
		pol(&o.Policy)
		return o
	}
	withRate := func(pol *ClientPolicy) { pol.CorruptRate = 0.1 }
	_, err = NewClient(p, 1, opts(withRate))
	require.NoError(t, err, "the honest session is accepted")

	for _, tc := range []struct {
		name      string
		mut       func(*Config)
		byDefault bool // refused even without ClientPolicy.CorruptRate
	}{
		// The split-view control's parameters, handed out by the server.
		{"low-threshold", func(c *Config) { c.Degree, c.Threshold, c.InsecureAllowLowThreshold = 4, 3, true }, true},
		{"threshold-2", func(c *Config) { c.Threshold, c.InsecureAllowLowThreshold = 2, true }, true},
		// No corrupt client, says the server: a majority threshold that
		// one colluder defeats.
		{"corrupt-rate-0", func(c *Config) { c.CorruptRate = 0 }, false},
		{"sparse-corrupt-rate-0", func(c *Config) { c.CorruptRate, c.Degree = 0, 4 }, false},
		// A smaller corrupt rate also lowers the MinInputs floor.
		{"min-inputs", func(c *Config) { c.CorruptRate, c.DropoutRate, c.Degree = 0, 0.45, 11 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := honest
			tc.mut(&cfg)
			ps, err := NewParams(cfg)
			require.NoError(t, err, "NewParams accepts the server's configuration")
			_, err = NewClient(ps, 1, opts(withRate))
			requirePolicyErr(t, err)
			_, err = NewClient(ps, 1, opts(func(*ClientPolicy) {}))
			if tc.byDefault {
				requirePolicyErr(t, err)
				assert.Contains(t, err.Error(), "secure minimum")
			} else {
				require.NoError(t, err, "without ClientPolicy.CorruptRate the client takes the server's rate")
			}
			// The named opt-out still accepts it.
			_, err = NewClient(ps, 1, opts(func(pol *ClientPolicy) { pol.InsecureTrustServerConfig = true }))
			require.NoError(t, err)
		})
	}
	t.Run("bad-rate", func(t *testing.T) {
		_, err := NewClient(p, 1, opts(func(pol *ClientPolicy) { pol.CorruptRate = 1.5 }))
		requirePolicyErr(t, err)
	})
	t.Run("semi-honest", func(t *testing.T) {
		// Semi-honest: the server follows the protocol, so the policy only
		// checks the threshold when the client states a rate.
		low, err := NewParams(Config{NumClients: 10, Dim: 1, Degree: 9, Threshold: 2})
		require.NoError(t, err)
		_, err = NewClient(low, 1, nil)
		require.NoError(t, err)
		_, err = NewClient(low, 1, &ClientOptions{Policy: ClientPolicy{CorruptRate: 0.3}}) // t > 3
		requirePolicyErr(t, err)
	})
}
