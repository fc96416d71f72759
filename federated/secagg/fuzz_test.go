package secagg

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/privml/privml/internal/shamir"
)

// malStage is a malicious-model session on a sparse graph (n = 8, k = 4,
// t = 3) in which client 7 dropped before masking, stopped when the
// unmasking requests are out.
type malStage struct {
	p       *Params
	clients []*Client
	srv     *Server
	creqs   map[int]*ConsistencyRequest
	reqs    map[int]*UnmaskRequest
}

var malStageCfg = Config{NumClients: 8, Dim: 3, Bits: 16, MaxAbs: 100, MaxSideAbs: 1, Threat: Malicious,
	DropoutRate: 0.2, Degree: 4, Threshold: 3, InsecureAllowLowThreshold: true, Sequence: 1}

const malStageDropped = 7

func newMalStage(tb testing.TB) *malStage {
	tb.Helper()
	cfg := malStageCfg
	pub, priv := testIdentities(tb, cfg.NumClients)
	cfg.Identities = pub
	p, err := NewParams(cfg)
	require.NoError(tb, err)
	st := &malStage{p: p}
	st.srv, _ = NewServer(p)
	rnd := detRand("mal-stage")
	for i := range p.NumClients() {
		c, err := NewClient(p, i, maliciousOpts(p, priv[i], rnd))
		require.NoError(tb, err)
		st.clients = append(st.clients, c)
		a, err := c.Advertise()
		require.NoError(tb, err)
		require.NoError(tb, st.srv.HandleAdvert(a))
	}
	lists, err := st.srv.FinishAdvertise()
	require.NoError(tb, err)
	for i, c := range st.clients {
		m, err := c.ShareKeys(lists[i])
		require.NoError(tb, err)
		require.NoError(tb, st.srv.HandleShareKeys(m))
	}
	bundles, err := st.srv.FinishShareKeys()
	require.NoError(tb, err)
	for i, c := range st.clients[:malStageDropped] {
		m, err := c.MaskInput(bundles[i], make([]int64, p.Length()))
		require.NoError(tb, err)
		require.NoError(tb, st.srv.HandleMaskedInput(m))
	}
	require.NoError(tb, st.srv.FinishMaskedInput())
	st.creqs, err = st.srv.ConsistencyRequests()
	require.NoError(tb, err)
	for i, c := range st.clients[:malStageDropped] {
		m, err := c.Consistency(st.creqs[i])
		require.NoError(tb, err)
		require.NoError(tb, st.srv.HandleConsistency(m))
	}
	require.NoError(tb, st.srv.FinishConsistency())
	st.reqs, err = st.srv.UnmaskRequests()
	require.NoError(tb, err)
	return st
}

// clone returns a copy of a client waiting for its unmasking request that
// shares nothing Unmask changes or wipes, so that one staged session
// serves every fuzzing input.
func (c *Client) clone() *Client {
	d := *c
	d.own = peerShares{key: cloneShare(c.own.key), self: cloneShare(c.own.self)}
	d.received = make(map[int]*peerShares, len(c.received))
	for j, ps := range c.received {
		d.received[j] = &peerShares{key: cloneShare(ps.key), self: cloneShare(ps.self)}
	}
	d.senders = slices.Clone(c.senders)
	d.survivors = slices.Clone(c.survivors)
	return &d
}

// clone returns a copy of a server waiting for unmask responses that
// shares nothing HandleUnmask changes.
func (s *Server) clone() *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &Server{p: s.p, serverState: s.serverState}
	d.answered = slices.Clone(s.answered)
	for _, p := range []*[][]shamir.Share{&d.selfSh, &d.keySh} {
		out := make([][]shamir.Share, len(*p))
		for i, v := range *p {
			out[i] = slices.Clone(v)
		}
		*p = out
	}
	for _, p := range []*[][]int{&d.selfFrom, &d.keyFrom} {
		out := make([][]int, len(*p))
		for i, v := range *p {
			out[i] = slices.Clone(v)
		}
		*p = out
	}
	return d
}

// FuzzClientUnmaskMalicious feeds arbitrary unmask requests to a
// malicious-model client on a sparse graph that signed its survivor set.
// It must never panic, and whatever it accepts must be the survivor set it
// signed, split by it into alive and dropped, backed by t-1 valid
// neighbour signatures: it never reveals both shares of a peer, nor
// answers a view other than the one it signed.
func FuzzClientUnmaskMalicious(f *testing.F) {
	st := newMalStage(f)
	for _, id := range []int{0, 3} {
		b, err := st.reqs[id].MarshalBinary()
		require.NoError(f, err)
		f.Add(uint8(id), b)
	}
	// A split view: the request flips a neighbour to dropped.
	q := *st.reqs[0]
	q.Dropped = append(slices.Clone(q.Dropped), q.Alive[0])
	q.Alive = q.Alive[1:]
	slices.Sort(q.Dropped)
	b, _ := q.MarshalBinary()
	f.Add(uint8(0), b)
	f.Fuzz(func(t *testing.T, who uint8, b []byte) {
		id := int(who) % malStageDropped
		var q UnmaskRequest
		if q.UnmarshalBinary(b) != nil {
			return
		}
		q.Session, q.Client = st.reqs[id].Session, uint32(id)
		resp, err := st.clients[id].clone().Unmask(&q)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *Error", err)
			}
			return
		}
		signed := st.creqs[id].Survivors
		if !slices.Equal(q.Survivors, signed) {
			t.Fatalf("answered survivor set %v, signed %v", q.Survivors, signed)
		}
		self := map[uint32]bool{}
		for _, s := range resp.SelfShares {
			self[s.Owner] = true
			if _, ok := slices.BinarySearch(signed, s.Owner); !ok {
				t.Fatalf("revealed the self-mask share of client %d, not a survivor", s.Owner)
			}
		}
		for _, s := range resp.KeyShares {
			if self[s.Owner] {
				t.Fatalf("revealed both shares of client %d", s.Owner)
			}
			if _, ok := slices.BinarySearch(signed, s.Owner); ok {
				t.Fatalf("revealed the mask key of client %d, a survivor", s.Owner)
			}
		}
	})
}

// FuzzServerUnmaskMalicious feeds arbitrary bytes as a client's unmask
// response to a malicious-model server: no panic, errors are *Error, and
// the only responses it accepts are the genuine, signed ones.
func FuzzServerUnmaskMalicious(f *testing.F) {
	st := newMalStage(f)
	genuine := map[int][]byte{}
	for id := range malStageDropped {
		m, err := st.clients[id].clone().Unmask(st.reqs[id])
		require.NoError(f, err)
		b, err := m.MarshalBinary()
		require.NoError(f, err)
		genuine[id] = b
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m UnmaskResponse
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		err := st.srv.clone().HandleUnmask(&m)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *Error", err)
			}
			return
		}
		if !bytes.Equal(b, genuine[int(m.Client)]) {
			t.Fatalf("accepted a response of client %d that it did not send", m.Client)
		}
	})
}
