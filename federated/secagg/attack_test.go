package secagg

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/privml/privml/internal/prg"
	"github.com/privml/privml/internal/shamir"
)

// These tests play a lying server against honest clients. Each shows two
// things: the honest clients refuse, and the refusal matters, because the
// shares the lying server asked for would have unmasked the target's input.

func detRand(label string) io.Reader {
	seed := sha256.Sum256([]byte("privml/secagg/test/" + label))
	return prg.NewReader(&seed)
}

type session struct {
	p       *Params
	clients []*Client
	srv     *Server
	inputs  [][]int64
	masked  []*MaskedInput
	adverts []KeyAdvert
}

// runToMasked runs an honest session up to the end of the masked-input
// round.
func runToMasked(t *testing.T, cfg Config, label string) *session {
	t.Helper()
	return runToMaskedWith(t, cfg, label, func(i int, x []int64) {
		for j := range x {
			x[j] = int64((i+1)*(j+3)%199) - 99
		}
	})
}

func runToMaskedWith(t *testing.T, cfg Config, label string, input func(int, []int64)) *session {
	t.Helper()
	p, err := NewParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{p: p}
	rnd := detRand(label)
	if s.srv, err = NewServer(p); err != nil {
		t.Fatal(err)
	}
	n := p.NumClients()
	for i := range n {
		c, err := NewClient(p, i, &ClientOptions{InsecureTestRand: rnd})
		if err != nil {
			t.Fatal(err)
		}
		s.clients = append(s.clients, c)
		a, err := c.Advertise()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.srv.HandleAdvert(a); err != nil {
			t.Fatal(err)
		}
	}
	lists, err := s.srv.FinishAdvertise()
	if err != nil {
		t.Fatal(err)
	}
	s.adverts = lists[0].Adverts
	for i, c := range s.clients {
		m, err := c.ShareKeys(lists[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := s.srv.HandleShareKeys(m); err != nil {
			t.Fatal(err)
		}
	}
	bundles, err := s.srv.FinishShareKeys()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range s.clients {
		x := make([]int64, p.Length())
		input(i, x)
		s.inputs = append(s.inputs, x)
		m, err := c.MaskInput(bundles[i], x)
		if err != nil {
			t.Fatal(err)
		}
		s.masked = append(s.masked, m)
		if err := s.srv.HandleMaskedInput(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.srv.FinishMaskedInput(); err != nil {
		t.Fatal(err)
	}
	return s
}

// finish runs an honest unmasking round.
func (s *session) finish(t *testing.T) *Result {
	t.Helper()
	reqs, err := s.srv.UnmaskRequests()
	must(t, err)
	for i, c := range s.clients {
		m, err := c.Unmask(reqs[i])
		must(t, err)
		must(t, s.srv.HandleUnmask(m))
	}
	res, err := s.srv.Finish()
	must(t, err)
	return res
}

// unmaskOne is what a server holding t self-mask shares and t mask-key
// shares of client u can do: rebuild its seed and its mask key, strip every
// mask from its masked input and return the input itself.
func (s *session) unmaskOne(t *testing.T, u int, selfShares, keyShares []shamir.Share) []int64 {
	t.Helper()
	p := s.p
	seed, err := shamir.Combine(selfShares, p.t, secretLen)
	if err != nil {
		t.Fatal(err)
	}
	rawKey, err := shamir.Combine(keyShares, p.t, secretLen)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := ecdh.X25519().NewPrivateKey(rawKey)
	if err != nil {
		t.Fatal(err)
	}
	v := newVector(p.bits, p.length)
	if err := v.unpack(s.masked[u].Packed); err != nil {
		t.Fatal(err)
	}
	var b [32]byte
	copy(b[:], seed)
	v.subMask(&b)
	sess := s.srv.Session()
	for _, j := range p.Neighbours(u) {
		ms, err := maskSeed(sk, s.adverts[j].MaskKey[:], &sess, u, j)
		if err != nil {
			t.Fatal(err)
		}
		if u < j {
			v.subMask(&ms)
		} else {
			v.addMask(&ms)
		}
	}
	out := make([]int64, p.length)
	v.centred(out)
	return out
}

func smallCfg() Config {
	return Config{NumClients: 7, Dim: 9, SideDim: 1, Bits: 20, MaxAbs: 100, MaxSideAbs: 100, DropoutRate: 0.2}
}

func TestAskBothSharesRefused(t *testing.T) {
	s := runToMasked(t, smallCfg(), "both")
	const target = 3
	reqs, err := s.srv.UnmaskRequests()
	if err != nil {
		t.Fatal(err)
	}
	// What the lying server would have collected had the clients complied.
	var selfSh, keySh []shamir.Share
	for _, j := range s.p.Neighbours(target) {
		q := *reqs[j]
		q.Dropped = append(slices.Clone(q.Dropped), target)
		slices.Sort(q.Dropped)
		held := s.clients[j].received[target]
		selfSh = append(selfSh, cloneShare(held.self))
		keySh = append(keySh, cloneShare(held.key))
		_, err := s.clients[j].Unmask(&q)
		var e *Error
		if !errors.Is(err, ErrProtocol) || !errors.As(err, &e) || e.Round != RoundUnmask || e.Client != ServerID {
			t.Fatalf("client %d: err = %v, want a server protocol violation in round Unmasking", j, err)
		}
	}
	if got := s.unmaskOne(t, target, selfSh, keySh); !slices.Equal(got, s.inputs[target]) {
		t.Fatalf("control: the shares asked for do not unmask the target (got %v)", got[:3])
	}
}

func TestReplayedUnmaskRefused(t *testing.T) {
	s := runToMasked(t, smallCfg(), "replay")
	const target = 5
	reqs, err := s.srv.UnmaskRequests()
	if err != nil {
		t.Fatal(err)
	}
	var selfSh, keySh []shamir.Share
	for _, j := range s.p.Neighbours(target) {
		held := s.clients[j].received[target]
		keySh = append(keySh, cloneShare(held.key)) // what the replay asks for
		resp, err := s.clients[j].Unmask(reqs[j])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.SelfShares {
			if r.Owner == target {
				selfSh = append(selfSh, r.Share)
			}
		}
		q := *reqs[j]
		q.Alive = slices.DeleteFunc(slices.Clone(q.Alive), func(v uint32) bool { return v == target })
		q.Dropped = append(slices.Clone(q.Dropped), target)
		slices.Sort(q.Dropped)
		if _, err := s.clients[j].Unmask(&q); !errors.Is(err, ErrRound) {
			t.Fatalf("client %d answered a replayed unmask request: err = %v", j, err)
		}
	}
	if got := s.unmaskOne(t, target, selfSh, keySh); !slices.Equal(got, s.inputs[target]) {
		t.Fatal("control: the replayed request's shares do not unmask the target")
	}
}

// maliciousOpts returns the options of an honest malicious-model client
// that learnt the roster and the session seed outside the server and
// keeps its sequence in memory.
func maliciousOpts(p *Params, priv ed25519.PrivateKey, rnd io.Reader) *ClientOptions {
	cfg := p.Config()
	seed := cfg.SessionSeed
	return &ClientOptions{Identity: priv, InsecureTestRand: rnd, Sequences: &MemorySequenceStore{},
		Policy: ClientPolicy{Roster: RosterDigest(cfg.Identities), SessionSeed: &seed, Threat: Malicious}}
}

func testIdentities(t testing.TB, n int) ([]ed25519.PublicKey, []ed25519.PrivateKey) {
	t.Helper()
	rnd := detRand("identities")
	pub := make([]ed25519.PublicKey, n)
	priv := make([]ed25519.PrivateKey, n)
	for i := range n {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := io.ReadFull(rnd, seed); err != nil {
			t.Fatal(err)
		}
		priv[i] = ed25519.NewKeyFromSeed(seed)
		pub[i] = priv[i].Public().(ed25519.PublicKey)
	}
	return pub, priv
}
