package secagg

import (
	"errors"
	"slices"
	"testing"
)

// stage is an honest session stopped before a client's round, so that a
// test can hand that client a tampered server message.
type stage struct {
	p       *Params
	clients []*Client
	srv     *Server
	lists   map[int]*AdvertList
	bundles map[int]*ShareBundle
	reqs    map[int]*UnmaskRequest
}

func newStage(t testing.TB, cfg Config, upTo Round) *stage {
	t.Helper()
	p, err := NewParams(cfg)
	must(t, err)
	st := &stage{p: p}
	st.srv, _ = NewServer(p)
	rnd := detRand("stage")
	for i := range p.NumClients() {
		c, err := NewClient(p, i, &ClientOptions{InsecureTestRand: rnd})
		must(t, err)
		st.clients = append(st.clients, c)
		a, err := c.Advertise()
		must(t, err)
		must(t, st.srv.HandleAdvert(a))
	}
	st.lists, err = st.srv.FinishAdvertise()
	must(t, err)
	if upTo == RoundShareKeys {
		return st
	}
	for i, c := range st.clients {
		m, err := c.ShareKeys(st.lists[i])
		must(t, err)
		must(t, st.srv.HandleShareKeys(m))
	}
	st.bundles, err = st.srv.FinishShareKeys()
	must(t, err)
	if upTo == RoundMaskedInput {
		return st
	}
	for i, c := range st.clients {
		m, err := c.MaskInput(st.bundles[i], make([]int64, p.Length()))
		must(t, err)
		must(t, st.srv.HandleMaskedInput(m))
	}
	must(t, st.srv.FinishMaskedInput())
	st.reqs, err = st.srv.UnmaskRequests()
	must(t, err)
	return st
}

func wantErr(t *testing.T, err, sentinel error, r Round) {
	t.Helper()
	var e *Error
	if !errors.Is(err, sentinel) || !errors.As(err, &e) || e.Round != r {
		t.Fatalf("err = %v, want %v in round %s", err, sentinel, r)
	}
}

var checkCfg = Config{NumClients: 6, Dim: 3, Bits: 16, MaxAbs: 100, MaxSideAbs: 1, DropoutRate: 0.1, Degree: 5, Threshold: 3}

func TestClientChecksAdvertList(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tamper   func(l *AdvertList)
		sentinel error
	}{
		{"other-config", func(l *AdvertList) { l.Config[0] ^= 1 }, ErrSession},
		{"misaddressed", func(l *AdvertList) { l.Client = 4 }, ErrProtocol},
		{"own-advert-altered", func(l *AdvertList) { l.Adverts[0].MaskKey[3] ^= 1 }, ErrProtocol},
		{"own-advert-missing", func(l *AdvertList) { l.Adverts = l.Adverts[1:] }, ErrProtocol},
		{"duplicate-advert", func(l *AdvertList) { l.Adverts = slices.Insert(l.Adverts, 2, l.Adverts[2]) }, ErrReplay},
		{"reused-key", func(l *AdvertList) { l.Adverts[3].CipherKey = l.Adverts[2].MaskKey }, ErrReplay},
		{"too-few-holders", func(l *AdvertList) { l.Adverts = l.Adverts[:2] }, ErrTooFewClients},
		{"unknown-client", func(l *AdvertList) { l.Adverts[5].Client = 99 }, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStage(t, checkCfg, RoundShareKeys)
			l := *st.lists[0]
			l.Adverts = slices.Clone(l.Adverts)
			tc.tamper(&l)
			_, err := st.clients[0].ShareKeys(&l)
			wantErr(t, err, tc.sentinel, RoundShareKeys)
			// An aborted client stays aborted.
			_, err = st.clients[0].ShareKeys(st.lists[0])
			wantErr(t, err, ErrRound, RoundShareKeys)
		})
	}
}

func TestClientChecksShareBundle(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tamper   func(b *ShareBundle)
		sentinel error
	}{
		{"other-session", func(b *ShareBundle) { b.Session[31] ^= 1 }, ErrSession},
		{"duplicate-envelope", func(b *ShareBundle) { b.Envelopes[1] = b.Envelopes[0] }, ErrReplay},
		{"forged-envelope", func(b *ShareBundle) {
			b.Envelopes[0].Ciphertext = slices.Clone(b.Envelopes[0].Ciphertext)
			b.Envelopes[0].Ciphertext[10] ^= 1
		}, ErrAuth},
		{"relabelled-sender", func(b *ShareBundle) {
			b.Envelopes[0].From, b.Envelopes[1].From = b.Envelopes[1].From, b.Envelopes[0].From
		}, ErrAuth},
		{"misaddressed-envelope", func(b *ShareBundle) { b.Envelopes[0].To = 5 }, ErrProtocol},
		{"self-envelope", func(b *ShareBundle) { b.Envelopes[0].From = 0 }, ErrProtocol},
		{"too-few-envelopes", func(b *ShareBundle) { b.Envelopes = b.Envelopes[:1] }, ErrTooFewClients},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStage(t, checkCfg, RoundMaskedInput)
			b := *st.bundles[0]
			b.Envelopes = slices.Clone(b.Envelopes)
			tc.tamper(&b)
			_, err := st.clients[0].MaskInput(&b, make([]int64, st.p.Length()))
			wantErr(t, err, tc.sentinel, RoundMaskedInput)
		})
	}
	t.Run("input-out-of-range", func(t *testing.T) {
		st := newStage(t, checkCfg, RoundMaskedInput)
		_, err := st.clients[0].MaskInput(st.bundles[0], []int64{0, 101, 0})
		wantErr(t, err, ErrInput, RoundMaskedInput)
		_, err = st.clients[0].MaskInput(st.bundles[0], []int64{0, 0})
		wantErr(t, err, ErrInput, RoundMaskedInput)
		// The caller's mistake does not abort the client.
		if _, err := st.clients[0].MaskInput(st.bundles[0], []int64{0, 100, -100}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClientChecksUnmaskRequest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tamper   func(q *UnmaskRequest)
		sentinel error
	}{
		{"other-session", func(q *UnmaskRequest) { q.Session[0] ^= 1 }, ErrSession},
		{"both-lists", func(q *UnmaskRequest) { q.Dropped = []uint32{q.Alive[0]} }, ErrProtocol},
		{"self-listed", func(q *UnmaskRequest) { q.Dropped = []uint32{0} }, ErrProtocol},
		{"unknown-peer", func(q *UnmaskRequest) { q.Dropped = []uint32{77} }, ErrProtocol},
		{"incomplete-cover", func(q *UnmaskRequest) { q.Alive = q.Alive[1:] }, ErrProtocol},
		{"duplicate-id", func(q *UnmaskRequest) { q.Alive = append([]uint32{q.Alive[0]}, q.Alive...) }, ErrReplay},
		{"below-threshold", func(q *UnmaskRequest) { q.Dropped, q.Alive = q.Alive[1:], q.Alive[:1] }, ErrTooFewClients},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStage(t, checkCfg, RoundUnmask)
			q := *st.reqs[0]
			q.Alive, q.Dropped = slices.Clone(q.Alive), slices.Clone(q.Dropped)
			tc.tamper(&q)
			_, err := st.clients[0].Unmask(&q)
			wantErr(t, err, tc.sentinel, RoundUnmask)
			// Refusal is final: the honest request is not answered either.
			_, err = st.clients[0].Unmask(st.reqs[0])
			wantErr(t, err, ErrRound, RoundUnmask)
		})
	}
}

func TestClientRoundOrder(t *testing.T) {
	st := newStage(t, checkCfg, RoundMaskedInput)
	// Replaying the advert list after ShareKeys is refused.
	_, err := st.clients[1].ShareKeys(st.lists[1])
	wantErr(t, err, ErrRound, RoundShareKeys)
	c, _ := NewClient(st.p, 2, nil)
	_, err = c.Unmask(&UnmaskRequest{})
	wantErr(t, err, ErrRound, RoundUnmask)
}

func TestServerRejectsBadClientMessages(t *testing.T) {
	st := newStage(t, checkCfg, RoundMaskedInput)
	m, err := st.clients[0].MaskInput(st.bundles[0], make([]int64, st.p.Length()))
	must(t, err)
	bad := *m
	bad.Session[0] ^= 1
	wantErr(t, st.srv.HandleMaskedInput(&bad), ErrSession, RoundMaskedInput)
	bad = *m
	bad.Length--
	wantErr(t, st.srv.HandleMaskedInput(&bad), ErrMalformed, RoundMaskedInput)
	must(t, st.srv.HandleMaskedInput(m))
	wantErr(t, st.srv.HandleMaskedInput(m), ErrReplay, RoundMaskedInput)
	bad = *m
	bad.Client = 9
	wantErr(t, st.srv.HandleMaskedInput(&bad), ErrProtocol, RoundMaskedInput)
}

// FuzzClientUnmask feeds arbitrary unmask requests to a client that holds
// shares: it must never panic, and whatever it accepts, it must never
// reveal both a self-mask share and a mask-key share of the same peer.
func FuzzClientUnmask(f *testing.F) {
	st := newStage(f, checkCfg, RoundUnmask)
	for _, q := range []*UnmaskRequest{st.reqs[0], {Client: 0, Session: st.reqs[0].Session, Alive: []uint32{1, 2}, Dropped: []uint32{2, 3, 4, 5}}} {
		b, _ := q.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var q UnmaskRequest
		if q.UnmarshalBinary(b) != nil {
			return
		}
		q.Session = st.reqs[0].Session // reach the checks behind the session binding
		q.Client = 0
		resp, err := st.clients[0].clone().Unmask(&q)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *Error", err)
			}
			return
		}
		self := map[uint32]bool{}
		for _, s := range resp.SelfShares {
			self[s.Owner] = true
		}
		for _, s := range resp.KeyShares {
			if self[s.Owner] {
				t.Fatalf("revealed both shares of client %d", s.Owner)
			}
		}
	})
}

// TestClientMinSequence: a client that remembers the Sequence of its last
// session refuses to join an older or replayed one.
func TestClientMinSequence(t *testing.T) {
	cfg := checkCfg
	cfg.Sequence = 41
	p, err := NewParams(cfg)
	must(t, err)
	for _, lo := range []uint64{42, 1 << 63} {
		_, err := NewClient(p, 1, &ClientOptions{MinSequence: lo})
		var e *Error
		if !errors.Is(err, ErrReplay) || !errors.As(err, &e) || e.Round != RoundAdvertise {
			t.Fatalf("MinSequence %d, Sequence 41: err = %v, want ErrReplay", lo, err)
		}
	}
	for _, lo := range []uint64{0, 40, 41} {
		c, err := NewClient(p, 1, &ClientOptions{MinSequence: lo})
		must(t, err)
		if _, err := c.Advertise(); err != nil {
			t.Fatal(err)
		}
	}
}
