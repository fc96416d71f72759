package secagg

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPolicyRefusesDowngrade: a client whose application gave it the
// roster (and the seed) runs the malicious model; a server that hands out
// the same session as SemiHonest, identities included so that the roster
// still matches, would switch off every signature, the consistency round
// and the policy's threshold check. A policy that names a Roster refuses
// any session but a malicious one, even with Policy.Threat left zero.
func TestPolicyRefusesDowngrade(t *testing.T) {
	cfg, priv := maliciousCfg(t, 10)
	p, err := NewParams(cfg)
	require.NoError(t, err)
	opts := maliciousOpts(p, priv[1], nil)
	opts.Policy.Threat = SemiHonest // the application did not say
	_, err = NewClient(p, 1, opts)
	require.NoError(t, err)

	down := cfg
	down.Threat = SemiHonest
	pd, err := NewParams(down)
	require.NoError(t, err)
	require.Equal(t, RosterDigest(cfg.Identities), RosterDigest(pd.Config().Identities), "the roster still matches")
	require.Less(t, pd.Threshold(), p.Threshold(), "the downgraded session has the lower semi-honest threshold")
	opts = maliciousOpts(p, priv[1], nil)
	opts.Policy.Threat = SemiHonest
	_, err = NewClient(pd, 1, opts)
	requirePolicyErr(t, err)
	assert.Contains(t, err.Error(), "malicious")

	// A semi-honest client without a roster is unaffected.
	_, err = NewClient(pd, 1, nil)
	require.NoError(t, err)
}
