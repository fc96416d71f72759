package secagg

import (
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func maliciousCfg(t testing.TB, n int) (Config, []ed25519.PrivateKey) {
	pub, priv := testIdentities(t, n)
	return Config{NumClients: n, Dim: 4, Bits: 20, MaxAbs: 100, MaxSideAbs: 1, Threat: Malicious,
		DropoutRate: 0.1, Identities: pub, Sequence: 3, SessionSeed: [32]byte{7}}, priv
}

func requirePolicyErr(t *testing.T, err error) {
	t.Helper()
	var e *Error
	require.ErrorIs(t, err, ErrPolicy)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, RoundAdvertise, e.Round)
	assert.Equal(t, ServerID, e.Client, "the server handed out the violating session")
}

// TestClientPolicyRefusesBeforeAnything: every way a server can hand out a
// session weaker than the client requires is refused by NewClient, so the
// client never advertises a key, let alone shares a secret.
func TestClientPolicyRefusesBeforeAnything(t *testing.T) {
	cfg, priv := maliciousCfg(t, 10)
	p, err := NewParams(cfg)
	require.NoError(t, err)
	good := maliciousOpts(p, priv[1], detRand("policy"))
	_, err = NewClient(p, 1, good)
	require.NoError(t, err)

	// A server that swaps one identity for a key of its own (a sybil).
	_, sybil, _ := ed25519.GenerateKey(detRand("sybil"))
	swapped := cfg
	swapped.Identities = slices.Clone(cfg.Identities)
	swapped.Identities[5] = sybil.Public().(ed25519.PublicKey)
	ps, err := NewParams(swapped)
	require.NoError(t, err)
	opts := maliciousOpts(p, priv[1], nil) // the policy learnt from outside: the true roster
	opts.Sequences = &MemorySequenceStore{}
	_, err = NewClient(ps, 1, opts)
	requirePolicyErr(t, err)

	// A server-chosen seed.
	reseeded := cfg
	reseeded.SessionSeed[0] ^= 1
	pr, err := NewParams(reseeded)
	require.NoError(t, err)
	_, err = NewClient(pr, 1, maliciousOpts(p, priv[1], nil))
	requirePolicyErr(t, err)

	for name, mut := range map[string]func(o *ClientOptions){
		"no-roster":     func(o *ClientOptions) { o.Policy.Roster = [32]byte{} },
		"no-seed":       func(o *ClientOptions) { o.Policy.SessionSeed = nil },
		"min-threshold": func(o *ClientOptions) { o.Policy.MinThreshold = p.Threshold() + 1 },
		"min-inputs":    func(o *ClientOptions) { o.Policy.MinInputs = p.MinInputs() + 1 },
	} {
		t.Run(name, func(t *testing.T) {
			o := maliciousOpts(p, priv[1], nil)
			mut(o)
			_, err := NewClient(p, 1, o)
			requirePolicyErr(t, err)
		})
	}
	t.Run("threat", func(t *testing.T) {
		semi := Config{NumClients: 10, Dim: 4, DropoutRate: 0.1}
		ps, err := NewParams(semi)
		require.NoError(t, err)
		_, err = NewClient(ps, 1, &ClientOptions{Policy: ClientPolicy{Threat: Malicious}})
		requirePolicyErr(t, err)
	})
	t.Run("insecure-opt-out", func(t *testing.T) {
		o := &ClientOptions{Identity: priv[1], InsecureAllowReplay: true, Policy: ClientPolicy{InsecureTrustServerConfig: true}}
		_, err := NewClient(pr, 1, o)
		require.NoError(t, err)
	})
}

func TestBeaconSessionSeed(t *testing.T) {
	cfg, priv := maliciousCfg(t, 10)
	roster := RosterDigest(cfg.Identities)
	beacon := []byte("drand round 123456: 0123abcd")
	seed := BeaconSessionSeed(beacon, roster, cfg.Sequence)
	assert.NotEqual(t, seed, BeaconSessionSeed(beacon, roster, cfg.Sequence+1), "one beacon value, one session")
	assert.NotEqual(t, seed, BeaconSessionSeed(beacon[1:], roster, cfg.Sequence))
	other := roster
	other[0] ^= 1
	assert.NotEqual(t, seed, BeaconSessionSeed(beacon, other, cfg.Sequence))
	// The roster digest depends on order and count.
	assert.NotEqual(t, roster, RosterDigest(cfg.Identities[1:]))
	rev := slices.Clone(cfg.Identities)
	slices.Reverse(rev)
	assert.NotEqual(t, roster, RosterDigest(rev))

	cfg.SessionSeed = seed
	p, err := NewParams(cfg)
	require.NoError(t, err)
	_, err = NewClient(p, 2, &ClientOptions{Identity: priv[2], Sequences: &MemorySequenceStore{},
		Policy: ClientPolicy{Roster: roster, SessionSeed: &seed}})
	require.NoError(t, err)
}

// TestFewSurvivors: a sum of few inputs reveals them. On the complete graph
// of 10 clients with 8 dropping before masking, the server refuses to
// release the sum of the 2 left.
func TestFewSurvivors(t *testing.T) {
	cfg := Config{NumClients: 10, Dim: 3, Bits: 16, MaxAbs: 100, MaxSideAbs: 1, DropoutRate: 0.3, Degree: 9}
	p, err := NewParams(cfg)
	require.NoError(t, err)
	require.Equal(t, 7, p.MinInputs())
	st := newStage(t, cfg, RoundMaskedInput)
	for i, c := range st.clients[:2] {
		m, err := c.MaskInput(st.bundles[i], make([]int64, st.p.Length()))
		require.NoError(t, err)
		require.NoError(t, st.srv.HandleMaskedInput(m))
	}
	err = st.srv.FinishMaskedInput()
	var e *Error
	require.ErrorIs(t, err, ErrTooFewClients)
	require.ErrorAs(t, err, &e)
	assert.Contains(t, err.Error(), "MinInputs=7")
	_, err = st.srv.UnmaskRequests()
	require.ErrorIs(t, err, ErrRound, "no unmasking after the abort")

	// The floor can be raised, never lowered.
	cfg.MinInputs = 6
	_, err = NewParams(cfg)
	require.ErrorIs(t, err, ErrInsecureParams)
	cfg.MinInputs = 9
	p, err = NewParams(cfg)
	require.NoError(t, err)
	assert.Equal(t, 9, p.MinInputs())
	cfg.MinInputs = 11
	_, err = NewParams(cfg)
	require.ErrorIs(t, err, ErrInsecureParams)

	// However high the configured dropout rate, a sum keeps two honest
	// inputs: with one corrupt client of 10, at least 3.
	for _, tc := range []struct {
		dropout, corrupt float64
		want             int
	}{{0.8, 0.1, 3}, {0.85, 0, 2}, {0.6, 0.3, 5}} {
		p, err := NewParams(Config{NumClients: 10, Dim: 1, Degree: 9, DropoutRate: tc.dropout, CorruptRate: tc.corrupt})
		require.NoError(t, err)
		assert.Equal(t, tc.want, p.MinInputs(), "dropout %g corrupt %g", tc.dropout, tc.corrupt)
	}
}

// TestClientRefusesSmallSurvivorSet: in the malicious model the client
// itself refuses to sign a survivor set below MinInputs, whatever the
// server does.
func TestClientRefusesSmallSurvivorSet(t *testing.T) {
	cfg := splitRow{12, 0.1, 0.1}.config()
	cfg.MinInputs = 12
	a := runAttackSession(t, cfg, "few")
	sess := a.srv.Session()
	surv := []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10} // one left out
	_, err := a.clients[0].Consistency(&ConsistencyRequest{Client: 0, Session: sess, Survivors: surv})
	require.ErrorIs(t, err, ErrTooFewClients)
	assert.Contains(t, err.Error(), "MinInputs=12")
}

// maliciousRun runs a malicious-model session of n clients to the end of
// the masked-input round, handing each client message to hook before the
// server.
type maliciousRun struct {
	p       *Params
	srv     *Server
	clients []*Client
	keys    []*ShareKeys
	masked  []*MaskedInput
}

func newMaliciousRun(t *testing.T, n int) *maliciousRun {
	cfg, priv := maliciousCfg(t, n)
	p, err := NewParams(cfg)
	require.NoError(t, err)
	r := &maliciousRun{p: p}
	r.srv, _ = NewServer(p)
	rnd := detRand("malicious-run")
	for i := range n {
		c, err := NewClient(p, i, maliciousOpts(p, priv[i], rnd))
		require.NoError(t, err)
		r.clients = append(r.clients, c)
		a, err := c.Advertise()
		require.NoError(t, err)
		require.NoError(t, r.srv.HandleAdvert(a))
	}
	lists, err := r.srv.FinishAdvertise()
	require.NoError(t, err)
	for i, c := range r.clients {
		m, err := c.ShareKeys(lists[i])
		require.NoError(t, err)
		r.keys = append(r.keys, m)
	}
	return r
}

// TestClientMessagesAuthenticated: in the malicious model the server
// refuses a ShareKeys, MaskedInput or UnmaskResponse that is relabelled,
// altered, unsigned or signed by another client.
func TestClientMessagesAuthenticated(t *testing.T) {
	const n = 6
	r := newMaliciousRun(t, n)
	// ShareKeys: altered commitment, missing signature.
	bad := *r.keys[0]
	bad.Commitment[0] ^= 1
	wantErr(t, r.srv.HandleShareKeys(&bad), ErrAuth, RoundShareKeys)
	bad = *r.keys[0]
	bad.Signature = nil
	wantErr(t, r.srv.HandleShareKeys(&bad), ErrAuth, RoundShareKeys)
	for _, m := range r.keys {
		require.NoError(t, r.srv.HandleShareKeys(m))
	}
	bundles, err := r.srv.FinishShareKeys()
	require.NoError(t, err)
	for i, c := range r.clients {
		x := make([]int64, r.p.Length())
		x[0] = int64(i)
		m, err := c.MaskInput(bundles[i], x)
		require.NoError(t, err)
		r.masked = append(r.masked, m)
	}
	// A relabelled masked input: client 0's vector and signature under
	// client 1's id.
	relabelled := *r.masked[0]
	relabelled.Client = 1
	wantErr(t, r.srv.HandleMaskedInput(&relabelled), ErrAuth, RoundMaskedInput)
	// The signature of client 1 on client 0's vector.
	mixed := *r.masked[0]
	mixed.Signature = r.masked[1].Signature
	wantErr(t, r.srv.HandleMaskedInput(&mixed), ErrAuth, RoundMaskedInput)
	flipped := *r.masked[2]
	flipped.Packed = slices.Clone(flipped.Packed)
	flipped.Packed[0] ^= 1
	wantErr(t, r.srv.HandleMaskedInput(&flipped), ErrAuth, RoundMaskedInput)
	// Refused messages left no trace: the genuine ones are accepted.
	for _, m := range r.masked {
		require.NoError(t, r.srv.HandleMaskedInput(m))
	}
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
	resps := make([]*UnmaskResponse, n)
	for i, c := range r.clients {
		resps[i], err = c.Unmask(ureqs[i])
		require.NoError(t, err)
	}
	tampered := *resps[0]
	tampered.SelfShares = slices.Clone(tampered.SelfShares)
	tampered.SelfShares[0].Share = cloneShare(tampered.SelfShares[0].Share)
	tampered.SelfShares[0].Share.Y[0] ^= 1
	wantErr(t, r.srv.HandleUnmask(&tampered), ErrAuth, RoundUnmask)
	for _, m := range resps {
		require.NoError(t, r.srv.HandleUnmask(m))
	}
	res, err := r.srv.Finish()
	require.NoError(t, err)
	assert.Equal(t, int64(0+1+2+3+4+5), res.Sum[0])
}

// TestSemiHonestMessagesUnsigned: a semi-honest server refuses a signed
// message, as it refuses a signed advert: one encoding per model.
func TestSemiHonestMessagesUnsigned(t *testing.T) {
	st := newStage(t, checkCfg, RoundMaskedInput)
	m, err := st.clients[0].MaskInput(st.bundles[0], make([]int64, st.p.Length()))
	require.NoError(t, err)
	m.Signature = make([]byte, ed25519.SignatureSize)
	wantErr(t, st.srv.HandleMaskedInput(m), ErrProtocol, RoundMaskedInput)
}

// TestReplaySafeByDefault: a malicious-model client refuses to run without
// a sequence store, and with one never joins the same Sequence twice.
func TestReplaySafeByDefault(t *testing.T) {
	cfg, priv := maliciousCfg(t, 6)
	p, err := NewParams(cfg)
	require.NoError(t, err)
	o := maliciousOpts(p, priv[0], nil)
	o.Sequences = nil
	_, err = NewClient(p, 0, o)
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "Sequences")

	store := FileSequenceStore{Path: filepath.Join(t.TempDir(), "seq")}
	o.Sequences = store
	_, err = NewClient(p, 0, o)
	require.NoError(t, err)
	// The same configuration again (a replay of the finished session),
	// and an older one, are refused, also by a fresh store on the file.
	for _, seq := range []uint64{cfg.Sequence, cfg.Sequence - 1} {
		c2 := cfg
		c2.Sequence = seq
		p2, err := NewParams(c2)
		require.NoError(t, err)
		o2 := maliciousOpts(p2, priv[0], nil)
		o2.Sequences = FileSequenceStore{Path: store.Path}
		_, err = NewClient(p2, 0, o2)
		require.ErrorIs(t, err, ErrReplay, "sequence %d", seq)
	}
	last, ok, err := store.Last()
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, cfg.Sequence, last)
	// The next session is accepted.
	c3 := cfg
	c3.Sequence++
	p3, err := NewParams(c3)
	require.NoError(t, err)
	o3 := maliciousOpts(p3, priv[0], nil)
	o3.Sequences = store
	_, err = NewClient(p3, 0, o3)
	require.NoError(t, err)
	entries, err := os.ReadDir(filepath.Dir(store.Path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

// TestFileSequenceStoreTampered: a damaged or tampered file is an error,
// never read as "no session yet", and is left as it is.
func TestFileSequenceStoreTampered(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":       "",
		"garbage":     "hello\n",
		"no-newline":  seqFilePrefix + "5",
		"leading-0":   seqFilePrefix + "05\n",
		"negative":    seqFilePrefix + "-1\n",
		"overflow":    seqFilePrefix + "18446744073709551616\n",
		"two-lines":   seqFilePrefix + "5\n6\n",
		"plus-sign":   seqFilePrefix + "+5\n",
		"space-after": seqFilePrefix + "5 \n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			err := FileSequenceStore{Path: path}.Advance(1)
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), path)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, content, string(got), "a refused file is not overwritten")
		})
	}
	t.Run("memory", func(t *testing.T) {
		var m MemorySequenceStore
		require.NoError(t, m.Advance(0))
		require.ErrorIs(t, m.Advance(0), ErrReplay)
		require.NoError(t, m.Advance(1<<63))
		require.True(t, errors.Is(m.Advance(5), ErrReplay))
	})
}

// TestCommitRevealSessionSeed: every client computes the same seed from
// the same commitments and reveals; a reveal that does not open its
// commitment, a missing one, or a commitment moved to another client,
// Sequence or roster is refused; a changed contribution changes the seed.
func TestCommitRevealSessionSeed(t *testing.T) {
	cfg, priv := maliciousCfg(t, 5)
	roster := RosterDigest(cfg.Identities)
	rnd := detRand("commit-reveal")
	contrib := make([][32]byte, 5)
	commits := make([][32]byte, 5)
	for i := range contrib {
		_, err := io.ReadFull(rnd, contrib[i][:])
		require.NoError(t, err)
		commits[i] = SeedCommitment(roster, cfg.Sequence, i, &contrib[i])
	}
	seed, err := CommitRevealSessionSeed(roster, cfg.Sequence, commits, contrib)
	require.NoError(t, err)
	again, err := CommitRevealSessionSeed(roster, cfg.Sequence, slices.Clone(commits), slices.Clone(contrib))
	require.NoError(t, err)
	assert.Equal(t, seed, again)

	bad := slices.Clone(contrib)
	bad[3][0] ^= 1
	_, err = CommitRevealSessionSeed(roster, cfg.Sequence, commits, bad)
	require.ErrorIs(t, err, ErrPolicy)
	assert.Contains(t, err.Error(), "client 3")
	_, err = CommitRevealSessionSeed(roster, cfg.Sequence, commits, contrib[:4])
	require.ErrorIs(t, err, ErrPolicy)
	_, err = CommitRevealSessionSeed(roster, cfg.Sequence+1, commits, contrib)
	require.ErrorIs(t, err, ErrPolicy, "a commitment of another session")
	swapped := slices.Clone(commits)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	sc := slices.Clone(contrib)
	sc[0], sc[1] = sc[1], sc[0]
	_, err = CommitRevealSessionSeed(roster, cfg.Sequence, swapped, sc)
	require.ErrorIs(t, err, ErrPolicy, "a commitment bound to another client")

	// Another honest contribution gives another seed; the seed drives a
	// session that every client accepts.
	other := slices.Clone(contrib)
	other[2][5] ^= 0x80
	oc := slices.Clone(commits)
	oc[2] = SeedCommitment(roster, cfg.Sequence, 2, &other[2])
	seed2, err := CommitRevealSessionSeed(roster, cfg.Sequence, oc, other)
	require.NoError(t, err)
	assert.NotEqual(t, seed, seed2)
	cfg.SessionSeed = seed
	p, err := NewParams(cfg)
	require.NoError(t, err)
	_, err = NewClient(p, 0, &ClientOptions{Identity: priv[0], Sequences: &MemorySequenceStore{},
		Policy: ClientPolicy{Roster: roster, SessionSeed: &seed}})
	require.NoError(t, err)
}
