package secagg

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/privml/privml/internal/shamir"
)

// The split-view attack against the malicious model. The server controls
// the corrupt clients (it knows their shares and signs with their identity
// keys) and picks a target among the honest clients, the corrupt ones all
// placed in the target's neighbourhood, the strongest placement the
// parameter finder's bound allows. After the masked-input round it shows
// two survivor sets: side A (the target and some of the honest clients)
// sees the target alive, side B sees it dropped. Each honest client gets
// only the consistency signatures of its own side plus the corrupt
// clients' (which sign both sets), so each side passes the consistency
// check, and side A reveals self-mask shares of the target while side B
// reveals its mask-key shares. The corrupt neighbours hand over both. The
// attack succeeds iff both piles reach t; with k+1 holders per secret
// (the target keeps and reveals a share of its own self-mask seed) and c
// corrupt neighbours the piles hold at most (k+1-c) + 2c = k+1+c shares,
// so 2t > k+1+c makes it fail whatever the split.

// attackSession is a malicious-model session run honestly up to the end
// of the masked-input round, with the corrupt clients' secrets at hand.
type attackSession struct {
	*session
	priv    []ed25519.PrivateKey
	corrupt []bool
}

func runAttackSession(t *testing.T, cfg Config, label string) *attackSession {
	t.Helper()
	pub, priv := testIdentities(t, cfg.NumClients)
	cfg.Threat, cfg.Identities = Malicious, pub
	p, err := NewParams(cfg)
	require.NoError(t, err)
	s := &session{p: p}
	rnd := detRand(label)
	s.srv, err = NewServer(p)
	require.NoError(t, err)
	n := p.NumClients()
	for i := range n {
		o := maliciousOpts(p, priv[i], rnd)
		// The control runs of an insecure threshold need clients that take
		// the server's word for it; the default policy refuses it
		// (TestPolicyRefusesServerThreshold).
		o.Policy.InsecureTrustServerConfig = cfg.InsecureAllowLowThreshold
		c, err := NewClient(p, i, o)
		require.NoError(t, err)
		s.clients = append(s.clients, c)
		a, err := c.Advertise()
		require.NoError(t, err)
		require.NoError(t, s.srv.HandleAdvert(a))
	}
	lists, err := s.srv.FinishAdvertise()
	require.NoError(t, err)
	s.adverts = lists[0].Adverts
	for i, c := range s.clients {
		m, err := c.ShareKeys(lists[i])
		require.NoError(t, err)
		require.NoError(t, s.srv.HandleShareKeys(m))
	}
	bundles, err := s.srv.FinishShareKeys()
	require.NoError(t, err)
	for i, c := range s.clients {
		x := make([]int64, p.Length())
		for j := range x {
			x[j] = int64((i*7+j*13)%199) - 99
		}
		s.inputs = append(s.inputs, x)
		m, err := c.MaskInput(bundles[i], x)
		require.NoError(t, err)
		s.masked = append(s.masked, m)
		require.NoError(t, s.srv.HandleMaskedInput(m))
	}
	require.NoError(t, s.srv.FinishMaskedInput())
	return &attackSession{session: s, priv: priv, corrupt: make([]bool, n)}
}

// placeCorrupt makes the c ring nodes closest to target (alternately on
// either side) corrupt and returns them.
func (a *attackSession) placeCorrupt(target, c int) []int {
	n := a.p.n
	var out []int
	for d := 1; len(out) < c && d < n; d++ {
		off := (d + 1) / 2
		if d%2 == 0 {
			off = n - off
		}
		j := int(a.p.perm[(int(a.p.pos[target])+off)%n])
		if j == target || a.corrupt[j] {
			continue
		}
		a.corrupt[j] = true
		out = append(out, j)
	}
	return out
}

// splitOutcome predicts, for a split (sideB[j] for the honest clients),
// which honest clients pass the consistency check and how many shares of
// each kind of the target the server then holds.
func (a *attackSession) splitOutcome(target int, sideB []bool) (self, key int) {
	p := a.p
	passes := func(j int) bool {
		valid := 0
		for _, v := range p.Neighbours(j) {
			switch {
			case a.corrupt[v]:
				valid++
			case v == target && sideB[j]:
				// the target is not in side B's survivor set
			case sideB[v] == sideB[j]:
				valid++
			}
		}
		return valid+1 >= p.t
	}
	for _, v := range p.Neighbours(target) {
		switch {
		case a.corrupt[v]:
			self++
			key++
		case !passes(v):
		case sideB[v]:
			key++
		default:
			self++
		}
	}
	if passes(target) {
		self++
	}
	return self, key
}

// bestSplit starts from the ring split (nodes on one half of the ring from
// the target see it alive, the other half see it dropped) and flips
// clients while that raises the smaller pile, then the total.
func (a *attackSession) bestSplit(target int) []bool {
	p := a.p
	n := p.n
	sideB := make([]bool, n)
	for j := range n {
		d := (int(p.pos[j]) - int(p.pos[target]) + n) % n
		sideB[j] = !a.corrupt[j] && j != target && d > n/2
	}
	score := func() (int, int) {
		s, k := a.splitOutcome(target, sideB)
		return min(s, k), s + k
	}
	bestMin, bestSum := score()
	for range 20 {
		improved := false
		for j := range n {
			if j == target || a.corrupt[j] {
				continue
			}
			sideB[j] = !sideB[j]
			m, s := score()
			if m > bestMin || (m == bestMin && s > bestSum) {
				bestMin, bestSum, improved = m, s, true
			} else {
				sideB[j] = !sideB[j]
			}
		}
		if !improved {
			break
		}
	}
	return sideB
}

// splitView plays the attack and returns the target's shares the server
// collected; the honest clients' refusals are returned too.
func (a *attackSession) splitView(t *testing.T, target int) (selfSh, keySh []shamir.Share, refusals []error) {
	t.Helper()
	p, n := a.p, a.p.n
	sideB := a.bestSplit(target)
	session := a.srv.Session()
	all := make([]uint32, n)
	for j := range all {
		all[j] = uint32(j)
	}
	viewA := all
	viewB := slices.DeleteFunc(slices.Clone(all), func(v uint32) bool { return v == uint32(target) })
	view := func(j int) []uint32 {
		if sideB[j] {
			return viewB
		}
		return viewA
	}
	// Consistency: honest clients sign the set they are shown; the server
	// signs both sets for the corrupt ones.
	sigA, sigB := make([][]byte, n), make([][]byte, n)
	for j := range n {
		if a.corrupt[j] {
			sigA[j] = ed25519.Sign(a.priv[j], consistencySigInput(&session, viewA))
			sigB[j] = ed25519.Sign(a.priv[j], consistencySigInput(&session, viewB))
			continue
		}
		r, err := a.clients[j].Consistency(&ConsistencyRequest{Client: uint32(j), Session: session, Survivors: view(j)})
		if err != nil {
			refusals = append(refusals, err)
			continue
		}
		if sideB[j] {
			sigB[j] = r.Signature
		} else {
			sigA[j] = r.Signature
		}
	}
	// Unmasking: each honest client gets the request of its side.
	for j := range n {
		if a.corrupt[j] || (sigA[j] == nil && sigB[j] == nil) {
			continue
		}
		v, sigs := view(j), sigA
		if sideB[j] {
			sigs = sigB
		}
		q := &UnmaskRequest{Client: uint32(j), Session: session, Survivors: v}
		for _, nb := range p.Neighbours(j) {
			if _, alive := slices.BinarySearch(v, uint32(nb)); alive {
				q.Alive = append(q.Alive, uint32(nb))
			} else {
				q.Dropped = append(q.Dropped, uint32(nb))
			}
			if sigs[nb] != nil {
				q.Signatures = append(q.Signatures, SignedSurvivors{Client: uint32(nb), Signature: sigs[nb]})
			}
		}
		resp, err := a.clients[j].Unmask(q)
		if err != nil {
			refusals = append(refusals, err)
			continue
		}
		for _, s := range resp.SelfShares {
			if s.Owner == uint32(target) {
				selfSh = append(selfSh, s.Share)
			}
		}
		for _, s := range resp.KeyShares {
			if s.Owner == uint32(target) {
				keySh = append(keySh, s.Share)
			}
		}
	}
	// The corrupt neighbours hand over both shares.
	for _, j := range p.Neighbours(target) {
		if a.corrupt[j] {
			held := a.clients[j].received[target]
			selfSh = append(selfSh, cloneShare(held.self))
			keySh = append(keySh, cloneShare(held.key))
		}
	}
	return selfSh, keySh, refusals
}

type splitRow struct {
	n                int
	dropout, corrupt float64
}

func (r splitRow) String() string {
	return fmt.Sprintf("n=%d/dropout=%g/corrupt=%g", r.n, r.dropout, r.corrupt)
}

func (r splitRow) config() Config {
	return Config{NumClients: r.n, Dim: 6, Bits: 24, MaxAbs: 100, MaxSideAbs: 1,
		DropoutRate: r.dropout, CorruptRate: r.corrupt, Sequence: 7}
}

// attackRow runs the split-view attack with floor(corrupt*n) corrupt
// clients around the target and reports whether the server recovered the
// target's input exactly.
func attackRow(t *testing.T, cfg Config, corrupt int, label string) (recovered bool, a *attackSession) {
	t.Helper()
	// The target is chosen after the graph: the client whose ring
	// neighbourhood the corrupt clients fill.
	a = runAttackSession(t, cfg, label)
	target := int(a.p.perm[0])
	a.placeCorrupt(target, corrupt)
	selfSh, keySh, _ := a.splitView(t, target)
	if len(selfSh) < a.p.t || len(keySh) < a.p.t {
		return false, a
	}
	got := a.unmaskOne(t, target, selfSh[:a.p.t], keySh[:a.p.t])
	require.Equal(t, a.inputs[target], got, "t shares of each kind must unmask the target exactly")
	return true, a
}

// TestSplitViewAttackFails runs the attack at the two sizes where it
// succeeded against a threshold that counted k holders per secret, then on
// a grid of rows: no honest input may be unmasked.
func TestSplitViewAttackFails(t *testing.T) {
	for _, row := range []splitRow{
		{12, 0.1, 0.1},
		{100, 0.33, 0.05},
		{20, 0.1, 0.1},
		{30, 0.1, 0.2},
		{40, 0.2, 0.1},
		{60, 0.05, 0.15},
		{10, 0.2, 0.2}, // complete graph
	} {
		t.Run(row.String(), func(t *testing.T) {
			if testing.Short() && row.n > 40 {
				t.Skip("large n in -short mode")
			}
			cfg := row.config()
			c := int(row.corrupt*float64(row.n) + 1e-9)
			recovered, a := attackRow(t, cfg, c, row.String())
			require.False(t, recovered, "k=%d t=%d with %d corrupt clients: the server unmasked an honest input", a.p.k, a.p.t, c)
			require.Greater(t, 2*a.p.t, a.p.k+1+c, "the threshold must satisfy 2t > (k+1)+c")
		})
	}
}

// TestSplitViewAttackControl shows that the attack is real: against the
// thresholds of fcp's formula t = ceil((t1+k-1.25)/2)+1, which counts k
// holders per secret where there are k+1, the server recovers the
// target's input exactly.
func TestSplitViewAttackControl(t *testing.T) {
	for _, tc := range []struct {
		row     splitRow
		k, t, c int
	}{
		{splitRow{12, 0.1, 0.1}, 4, 3, 1},
		{splitRow{100, 0.33, 0.05}, 72, 39, 5},
	} {
		t.Run(tc.row.String(), func(t *testing.T) {
			if testing.Short() && tc.row.n > 40 {
				t.Skip("large n in -short mode")
			}
			cfg := tc.row.config()
			cfg.Degree, cfg.Threshold, cfg.InsecureAllowLowThreshold = tc.k, tc.t, true
			recovered, _ := attackRow(t, cfg, tc.c, "control/"+tc.row.String())
			require.True(t, recovered, "the split-view attack must unmask the target at k=%d t=%d", tc.k, tc.t)
		})
	}
}
