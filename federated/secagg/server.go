package secagg

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/privml/privml/internal/shamir"
)

// Server is the server's side of a session: it validates and routes the
// clients' messages, adds the masked inputs into one running sum as they
// arrive, and finally removes the masks it can reconstruct. It never holds
// a client's secret beyond what the protocol reveals to it, does no I/O,
// and keeps O(Dim + n·k) memory: one accumulator and one scratch vector,
// never n vectors.
//
// Per round, call Handle* once per client message (in any order), then the
// Finish or request method that closes the round. A message that fails
// validation is rejected with an [*Error] naming its client and round and
// leaves the state as if it had not arrived: the client counts as dropped.
//
// A Server is safe for concurrent use. A server that receives messages on
// many connections may call the Handle* methods of a round from as many
// goroutines: each checks the message against the state, verifies its
// signature (the costly part, which depends only on the message and the
// public Params) without holding the server's lock, then checks it again
// and records it under the lock, so signatures are verified on every core
// while the state changes one message at a time. A round-closing method
// (Finish*, the *Requests methods, Finish) runs under the lock: a message
// recorded before it is part of the round, one that comes after it is
// refused with [ErrRound]. The outcome of a round depends only on which
// messages were recorded and, for the unmask responses, in which order
// (see [Server.Finish]); messages of the same client are recorded at
// most once, whatever the interleaving.
type Server struct {
	p *Params

	mu sync.Mutex // guards serverState
	serverState
}

// serverState is the state of a [Server] that its lock guards.
type serverState struct {
	next Round
	done bool

	adverts  []*KeyAdvert // by id, U1
	keySeen  map[[32]byte]int
	session  [32]byte
	u1       []bool
	rank     []int32
	commit   [][32]byte
	u2       []bool
	inbox    [][]Envelope // by recipient
	u3       []bool
	surv     []uint32 // U3 in increasing order, fixed when the round closes
	acc      vector
	scratch  vector
	u4       []bool // sent a consistency signature (malicious)
	sigs     [][]byte
	asked    []bool // sent an unmask request
	answered []bool
	selfSh   [][]shamir.Share // by owner
	keySh    [][]shamir.Share
	selfFrom [][]int // holder of each share in selfSh
	keyFrom  [][]int
	suspect  []bool // holders caught revealing an inconsistent share
	caught   []int
}

// NewServer returns the server of the session p.
func NewServer(p *Params) (*Server, error) {
	if p == nil {
		return nil, errorf(ServerID, RoundAdvertise, ErrConfig, "nil Params")
	}
	n := p.n
	return &Server{p: p, serverState: serverState{
		next:    RoundAdvertise,
		adverts: make([]*KeyAdvert, n), keySeen: make(map[[32]byte]int),
		u1: make([]bool, n), u2: make([]bool, n), u3: make([]bool, n),
		commit: make([][32]byte, n), inbox: make([][]Envelope, n),
	}}, nil
}

// Session returns the session id (zero before the adverts are closed).
func (s *Server) Session() [32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session
}

// frozen: the sets of a round (u1, rank, adverts and session for the
// adverts; u2 and commit for the key shares; u3 and surv for the masked
// inputs) are written only while their round is open and under the lock,
// and never after it closes. A handler of a later round that was admitted
// (admit, which takes the lock after the close released it) may therefore
// read them without the lock: this is how the key shares and the unmask
// responses are checked on every core.

// admit runs check, the message's admission against the state, under the
// lock. The Handle* methods call it before verifying a signature (without
// the lock) and again, holding the lock, before recording the message:
// the state only moves forward (rounds close, clients are recorded once),
// so a message admitted at both points was admissible throughout.
func (s *Server) admit(check func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return check()
}

func (s *Server) check(r Round, client uint32, bind *[32]byte, in []bool) (int, error) {
	id := int(client)
	if s.next != r {
		return id, errorf(id, r, ErrRound, "message for round %s while the server is in round %s", r, s.next)
	}
	if client >= uint32(s.p.n) {
		return id, errorf(id, r, ErrProtocol, "unknown client %d", client)
	}
	want := &s.session
	if r == RoundAdvertise {
		want = &s.p.digest
	}
	if subtle.ConstantTimeCompare(bind[:], want[:]) != 1 {
		return id, errorf(id, r, ErrSession, "message of client %d is bound to another session", id)
	}
	if in != nil && !in[id] {
		return id, errorf(id, r, ErrProtocol, "client %d is not part of this round", id)
	}
	return id, nil
}

// HandleAdvert accepts a client's key advert. Both public keys must be
// canonical X25519 encodings (bit 255 clear, value below 2^255-19) of
// points not of small order, and fresh: an advert that fails is refused
// with [ErrMalformed] or [ErrReplay] and its client counts as dropped, so
// that one corrupt client cannot make its honest neighbours' key
// agreements fail and abort the round.
func (s *Server) HandleAdvert(m *KeyAdvert) error {
	const r = RoundAdvertise
	if m == nil {
		return errorf(ServerID, r, ErrMalformed, "nil message")
	}
	id := int(m.Client)
	keyErr := advertKeys(id, m) // depends on m alone
	admit := func() error {
		if _, err := s.check(r, m.Client, &m.Config, nil); err != nil {
			return err
		}
		if s.u1[id] {
			return errorf(id, r, ErrReplay, "second advert of client %d", id)
		}
		if keyErr != nil {
			return keyErr
		}
		return s.freshKeys(id, m)
	}
	if err := s.admit(admit); err != nil {
		return err
	}
	if s.p.cfg.Threat == Malicious {
		if len(m.Signature) != ed25519.SignatureSize || !ed25519.Verify(s.p.cfg.Identities[id], advertSigInput(m), m.Signature) {
			return errorf(id, r, ErrAuth, "advert of client %d is not signed by its identity key", id)
		}
	} else if len(m.Signature) != 0 {
		return errorf(id, r, ErrProtocol, "signed advert of client %d in the semi-honest model", id)
	}
	a := *m
	a.Signature = slices.Clone(m.Signature)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := admit(); err != nil {
		return err
	}
	s.adverts[id] = &a
	s.keySeen[m.CipherKey], s.keySeen[m.MaskKey] = id, id
	s.u1[id] = true
	return nil
}

// advertKeys checks the public keys of an advert on their own: both
// canonical and not of small order (first: then comparing bytes compares
// keys, and the freshness check cannot be bypassed by a second encoding),
// and distinct.
func advertKeys(id int, m *KeyAdvert) error {
	const r = RoundAdvertise
	for _, k := range []struct {
		name string
		key  *[32]byte
	}{{"cipher", &m.CipherKey}, {"mask", &m.MaskKey}} {
		if err := checkPublicKey(k.key); err != nil {
			return errorf(id, r, ErrMalformed, "%s key of client %d refused: %v", k.name, id, err)
		}
	}
	if m.CipherKey == m.MaskKey {
		return errorf(id, r, ErrReplay, "client %d advertised the same key twice", id)
	}
	return nil
}

// freshKeys refuses an advert whose public keys repeat a key advertised
// before (by any client).
func (s *Server) freshKeys(id int, m *KeyAdvert) error {
	for _, k := range [][32]byte{m.CipherKey, m.MaskKey} {
		if prev, dup := s.keySeen[k]; dup {
			return errorf(id, RoundAdvertise, ErrReplay, "public key of client %d repeats one of client %d: keys must be fresh", id, prev)
		}
	}
	return nil
}

// FinishAdvertise closes the AdvertiseKeys round and returns the advert
// list for each advertised client, by id. It fails with
// [ErrTooFewClients] below the threshold.
func (s *Server) FinishAdvertise() (map[int]*AdvertList, error) {
	const r = RoundAdvertise
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != r {
		return nil, errorf(ServerID, r, ErrRound, "server is in round %s", s.next)
	}
	var list []KeyAdvert
	for _, a := range s.adverts {
		if a != nil {
			list = append(list, *a)
		}
	}
	if len(list) < s.p.t {
		return nil, errorf(ServerID, r, ErrTooFewClients, "%d clients advertised keys, threshold is %d", len(list), s.p.t)
	}
	if err := s.checkMinInputs(r, s.u1, "advertised keys"); err != nil {
		return nil, err
	}
	s.session = sessionID(&s.p.digest, list)
	s.rank = rankOf(s.u1)
	out := make(map[int]*AdvertList, len(list))
	for _, a := range list {
		out[int(a.Client)] = &AdvertList{Client: a.Client, Config: s.p.digest, Adverts: list}
	}
	s.next = RoundShareKeys
	return out, nil
}

// HandleShareKeys accepts a client's envelopes: exactly one for each
// advertised neighbour, in increasing recipient order, each of the sealed
// size.
func (s *Server) HandleShareKeys(m *ShareKeys) error {
	const r = RoundShareKeys
	if m == nil {
		return errorf(ServerID, r, ErrMalformed, "nil message")
	}
	id := int(m.Client)
	admit := func() error {
		if _, err := s.check(r, m.Client, &m.Session, s.u1); err != nil {
			return err
		}
		if s.u2[id] {
			return errorf(id, r, ErrReplay, "second ShareKeys message of client %d", id)
		}
		return nil
	}
	if err := s.admit(admit); err != nil {
		return err
	}
	if err := s.checkSignature(r, id, "ShareKeys message", func() ([]byte, error) { return m.sigInput(), nil }, m.Signature); err != nil {
		return err
	}
	// u1 is frozen since the adverts closed (see frozen).
	want := s.p.holders(id, func(j int) bool { return s.u1[j] })
	if len(m.Envelopes) != len(want)-1 {
		return errorf(id, r, ErrProtocol, "client %d sent %d envelopes, want one per advertised neighbour (%d)", id, len(m.Envelopes), len(want)-1)
	}
	k := 0
	for _, h := range want {
		if h == id {
			continue
		}
		e := &m.Envelopes[k]
		k++
		if e.From != m.Client || e.To != uint32(h) {
			return errorf(id, r, ErrProtocol, "envelope %d of client %d is from %d to %d, want from %d to %d", k-1, id, e.From, e.To, id, h)
		}
		if len(e.Ciphertext) != envelopeLen {
			return errorf(id, r, ErrMalformed, "envelope of client %d to client %d has %d bytes, want %d", id, h, len(e.Ciphertext), envelopeLen)
		}
	}
	envs := make([]Envelope, len(m.Envelopes))
	for i, e := range m.Envelopes {
		envs[i] = Envelope{From: e.From, To: e.To, Ciphertext: slices.Clone(e.Ciphertext)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := admit(); err != nil {
		return err
	}
	for _, e := range envs {
		s.inbox[e.To] = append(s.inbox[e.To], e)
	}
	s.commit[id] = m.Commitment
	s.u2[id] = true
	return nil
}

// FinishShareKeys closes the ShareKeys round and returns, for each client
// that shared its keys, the envelopes addressed to it by the others that
// did.
func (s *Server) FinishShareKeys() (map[int]*ShareBundle, error) {
	const r = RoundShareKeys
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != r {
		return nil, errorf(ServerID, r, ErrRound, "server is in round %s", s.next)
	}
	if c := count(s.u2); c < s.p.t {
		return nil, errorf(ServerID, r, ErrTooFewClients, "%d clients shared their keys, threshold is %d", c, s.p.t)
	}
	if err := s.checkMinInputs(r, s.u2, "shared their keys"); err != nil {
		return nil, err
	}
	out := make(map[int]*ShareBundle)
	for j, in := range s.u2 {
		if !in {
			continue
		}
		b := &ShareBundle{Client: uint32(j), Session: s.session}
		for _, e := range s.inbox[j] {
			if s.u2[e.From] {
				b.Envelopes = append(b.Envelopes, e)
			}
		}
		slices.SortFunc(b.Envelopes, func(x, y Envelope) int { return int(x.From) - int(y.From) })
		out[j] = b
	}
	s.inbox = nil
	s.acc = newVector(s.p.bits, s.p.length)
	if b := s.p.bits; b != 8 && b != 16 && b != 32 {
		s.scratch = newVector(s.p.bits, s.p.length)
	}
	s.next = RoundMaskedInput
	return out, nil
}

// HandleMaskedInput adds a client's masked input into the running sum.
// In the malicious model it first verifies the client's signature over
// the message, a SHA-256 pass over the vector.
func (s *Server) HandleMaskedInput(m *MaskedInput) error {
	return s.handleMaskedInput(m, true)
}

// HandleMaskedInputFrom is [Server.HandleMaskedInput] for a caller whose
// channel authenticates its peer as the holder of the client's identity:
// sender is the client id the channel authenticated (never one read from
// the message), and m is refused with [ErrAuth] unless m.Client is
// sender. In the malicious model it does not verify m's signature, so the
// channel must authenticate the holder of Config.Identities[sender] (a
// mutual-TLS certificate whose key is that identity), not merely a name:
// it then binds the message to its sender and protects its contents,
// which is what the signature gives the server, and skips the SHA-256
// pass over the vector that verifying costs, several times the cost of
// adding the vector into the sum (BENCHMARKS.md). A message without a
// signature is accepted on this path. Other messages carry no large
// vector and are verified as always.
func (s *Server) HandleMaskedInputFrom(sender int, m *MaskedInput) error {
	if m == nil {
		return errorf(ServerID, RoundMaskedInput, ErrMalformed, "nil message")
	}
	if sender < 0 || int64(m.Client) != int64(sender) {
		return errorf(int(m.Client), RoundMaskedInput, ErrAuth, "masked input of client %d on the channel of client %d", m.Client, sender)
	}
	return s.handleMaskedInput(m, false)
}

func (s *Server) handleMaskedInput(m *MaskedInput, verify bool) error {
	const r = RoundMaskedInput
	if m == nil {
		return errorf(ServerID, r, ErrMalformed, "nil message")
	}
	id := int(m.Client)
	admit := func() error {
		if _, err := s.check(r, m.Client, &m.Session, s.u2); err != nil {
			return err
		}
		if s.u3[id] {
			return errorf(id, r, ErrReplay, "second masked input of client %d", id)
		}
		return nil
	}
	if err := s.admit(admit); err != nil {
		return err
	}
	if uint(m.Bits) != s.p.bits || int(m.Length) != s.p.length {
		return errorf(id, r, ErrMalformed, "masked input of client %d has %d elements of %d bits, want %d of %d", id, m.Length, m.Bits, s.p.length, s.p.bits)
	}
	if verify || s.p.cfg.Threat != Malicious {
		if err := s.checkSignature(r, id, "masked input", func() ([]byte, error) { return m.sigInput(), nil }, m.Signature); err != nil {
			return err
		}
	}
	// The additions are serialised by the lock; each uses every core.
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := admit(); err != nil {
		return err
	}
	if err := s.acc.addPackedParallel(m.Packed, &s.scratch); err != nil {
		return errorf(id, r, ErrMalformed, "masked input of client %d: %v", id, err)
	}
	s.u3[id] = true
	return nil
}

// FinishMaskedInput closes the MaskedInputCollection round. It fails with
// [ErrTooFewClients] if fewer than t masked inputs arrived.
func (s *Server) FinishMaskedInput() error {
	const r = RoundMaskedInput
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != r {
		return errorf(ServerID, r, ErrRound, "server is in round %s", s.next)
	}
	if c := count(s.u3); c < s.p.t {
		return errorf(ServerID, r, ErrTooFewClients, "%d clients sent masked inputs, threshold is %d", c, s.p.t)
	}
	if err := s.checkMinInputs(r, s.u3, "sent masked inputs"); err != nil {
		return err
	}
	s.scratch.wipe()
	s.surv = s.survivors()
	if s.p.cfg.Threat == Malicious {
		s.next = RoundConsistency
		s.u4 = make([]bool, s.p.n)
		s.sigs = make([][]byte, s.p.n)
	} else {
		s.next = RoundUnmask
	}
	return nil
}

func (s *Server) survivors() []uint32 {
	var out []uint32
	for j, in := range s.u3 {
		if in {
			out = append(out, uint32(j))
		}
	}
	return out
}

// ConsistencyRequests returns, in the malicious model, the survivor set
// U3 addressed to each survivor.
func (s *Server) ConsistencyRequests() (map[int]*ConsistencyRequest, error) {
	const r = RoundConsistency
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != r {
		return nil, errorf(ServerID, r, ErrRound, "server is in round %s", s.next)
	}
	surv := s.survivors()
	out := make(map[int]*ConsistencyRequest, len(surv))
	for _, j := range surv {
		out[int(j)] = &ConsistencyRequest{Client: j, Session: s.session, Survivors: surv}
	}
	return out, nil
}

// HandleConsistency accepts a survivor's signature of U3.
func (s *Server) HandleConsistency(m *ConsistencyReply) error {
	const r = RoundConsistency
	if m == nil {
		return errorf(ServerID, r, ErrMalformed, "nil message")
	}
	id := int(m.Client)
	var session [32]byte
	var surv []uint32 // U3, never modified once set
	admit := func() error {
		if _, err := s.check(r, m.Client, &m.Session, s.u3); err != nil {
			return err
		}
		if s.u4[id] {
			return errorf(id, r, ErrReplay, "second consistency signature of client %d", id)
		}
		session, surv = s.session, s.surv
		return nil
	}
	if err := s.admit(admit); err != nil {
		return err
	}
	if len(m.Signature) != ed25519.SignatureSize || !ed25519.Verify(s.p.cfg.Identities[id], consistencySigInput(&session, surv), m.Signature) {
		return errorf(id, r, ErrAuth, "consistency signature of client %d does not verify", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := admit(); err != nil {
		return err
	}
	s.sigs[id] = slices.Clone(m.Signature)
	s.u4[id] = true
	return nil
}

// FinishConsistency closes the ConsistencyCheck round.
func (s *Server) FinishConsistency() error {
	const r = RoundConsistency
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != r {
		return errorf(ServerID, r, ErrRound, "server is in round %s", s.next)
	}
	if c := count(s.u4); c < s.p.t {
		return errorf(ServerID, r, ErrTooFewClients, "%d clients signed the survivor set, threshold is %d", c, s.p.t)
	}
	s.next = RoundUnmask
	return nil
}

// UnmaskRequests returns the Unmasking request for each client that can
// answer it (the survivors; in the malicious model, those that signed U3):
// its share-holding neighbours split into alive (sent a masked input) and
// dropped.
func (s *Server) UnmaskRequests() (map[int]*UnmaskRequest, error) {
	const r = RoundUnmask
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != r || s.asked != nil {
		return nil, errorf(ServerID, r, ErrRound, "server is in round %s", s.next)
	}
	ask := s.u3
	var surv []uint32
	if s.p.cfg.Threat == Malicious {
		ask = s.u4
		surv = s.survivors()
	}
	s.asked = slices.Clone(ask)
	s.answered = make([]bool, s.p.n)
	s.selfSh = make([][]shamir.Share, s.p.n)
	s.keySh = make([][]shamir.Share, s.p.n)
	s.selfFrom = make([][]int, s.p.n)
	s.keyFrom = make([][]int, s.p.n)
	out := make(map[int]*UnmaskRequest)
	for j, in := range ask {
		if !in {
			continue
		}
		q := &UnmaskRequest{Client: uint32(j), Session: s.session, Survivors: surv}
		s.forNeighbours(j, func(v int) {
			if !s.u2[v] {
				return
			}
			if s.u3[v] {
				q.Alive = append(q.Alive, uint32(v))
			} else {
				q.Dropped = append(q.Dropped, uint32(v))
			}
			if surv != nil && s.u4[v] {
				q.Signatures = append(q.Signatures, SignedSurvivors{Client: uint32(v), Signature: s.sigs[v]})
			}
		})
		out[j] = q
	}
	return out, nil
}

// forNeighbours calls f for each neighbour of j in increasing id order.
func (s *Server) forNeighbours(j int, f func(int)) {
	if s.p.complete() {
		for v := range s.p.n {
			if v != j {
				f(v)
			}
		}
		return
	}
	for _, v := range s.p.Neighbours(j) {
		f(v)
	}
}

// HandleUnmask accepts a client's revealed shares: exactly the self-mask
// shares of itself and its alive neighbours and the mask-key shares of
// its dropped ones, each at the client's evaluation point.
func (s *Server) HandleUnmask(m *UnmaskResponse) error {
	const r = RoundUnmask
	if m == nil {
		return errorf(ServerID, r, ErrMalformed, "nil message")
	}
	id := int(m.Client)
	admit := func() error {
		if s.asked == nil {
			return errorf(id, r, ErrRound, "unmask response before the requests were sent")
		}
		if s.done {
			return errorf(id, r, ErrRound, "unmask response after the round closed")
		}
		if _, err := s.check(r, m.Client, &m.Session, s.asked); err != nil {
			return err
		}
		if s.answered[id] {
			return errorf(id, r, ErrReplay, "second unmask response of client %d", id)
		}
		return nil
	}
	if err := s.admit(admit); err != nil {
		return err
	}
	if err := s.checkSignature(r, id, "unmask response", m.sigInput, m.Signature); err != nil {
		return err
	}
	// u1, rank, u2 and u3 are frozen since their rounds closed (see
	// frozen): the shares are checked without the lock.
	var wantSelf, wantKey []uint32
	s.forNeighbours(id, func(v int) {
		if !s.u2[v] {
			return
		}
		if s.u3[v] {
			wantSelf = append(wantSelf, uint32(v))
		} else {
			wantKey = append(wantKey, uint32(v))
		}
	})
	i, _ := slices.BinarySearch(wantSelf, uint32(id))
	wantSelf = slices.Insert(wantSelf, i, uint32(id))
	nChunks := shamir.NumChunks(secretLen)
	checkList := func(got []RevealedShare, want []uint32, what string) error {
		if len(got) != len(want) {
			return errorf(id, r, ErrProtocol, "client %d revealed %d %s shares, want %d", id, len(got), what, len(want))
		}
		for k, g := range got {
			if g.Owner != want[k] {
				return errorf(id, r, ErrProtocol, "client %d revealed a %s share of client %d, want client %d", id, what, g.Owner, want[k])
			}
			if g.Share.X != s.p.holderX(int(g.Owner), id, s.u1, s.rank) || len(g.Share.Y) != nChunks {
				return errorf(id, r, ErrProtocol, "client %d revealed a %s share of client %d at the wrong point or length", id, what, g.Owner)
			}
		}
		return nil
	}
	if err := checkList(m.SelfShares, wantSelf, "self-mask"); err != nil {
		return err
	}
	if err := checkList(m.KeyShares, wantKey, "mask-key"); err != nil {
		return err
	}
	self, key := make([]shamir.Share, len(m.SelfShares)), make([]shamir.Share, len(m.KeyShares))
	for i, g := range m.SelfShares {
		self[i] = cloneShare(g.Share)
	}
	for i, g := range m.KeyShares {
		key[i] = cloneShare(g.Share)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := admit(); err != nil {
		return err
	}
	for i, g := range m.SelfShares {
		s.selfSh[g.Owner] = append(s.selfSh[g.Owner], self[i])
		s.selfFrom[g.Owner] = append(s.selfFrom[g.Owner], id)
	}
	for i, g := range m.KeyShares {
		s.keySh[g.Owner] = append(s.keySh[g.Owner], key[i])
		s.keyFrom[g.Owner] = append(s.keyFrom[g.Owner], id)
	}
	s.answered[id] = true
	return nil
}

// Result is the outcome of a session.
type Result struct {
	// Sum is the centred sum of the survivors' inputs, Dim main
	// coordinates followed by SideDim side ones.
	Sum []int64
	// Survivors are the ids of the clients whose inputs are in Sum.
	Survivors []int
	// Inconsistent are the ids of the clients caught revealing a share
	// that does not lie on its owner's sharing polynomial (corrupted or
	// forged). Their shares were left out; Sum does not depend on them.
	// A corrupted share that was never needed goes unnoticed.
	Inconsistent []int
	dim          int
}

// Main returns the Dim main coordinates of the sum.
func (r *Result) Main() []int64 { return r.Sum[:r.dim] }

// Side returns the SideDim side coordinates of the sum.
func (r *Result) Side() []int64 { return r.Sum[r.dim:] }

// Finish closes the Unmasking round: it reconstructs the self-mask seed of
// every survivor and the mask key of every client that dropped after
// sharing its keys, removes their masks from the running sum and returns
// the centred sum. A holder that revealed a corrupted share is worked
// around (other sets of t shares are tried, see reconstruct) and, when it
// can be told apart, named in Result.Inconsistent. Finish fails with
// [ErrTooFewClients] when some secret has fewer than t shares, and with
// [ErrAuth] when no set of t shares tried reconstructs a secret that
// matches its commitment or public key: never with a wrong sum.
func (s *Server) Finish() (*Result, error) {
	const r = RoundUnmask
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != r || s.asked == nil || s.done {
		return nil, errorf(ServerID, r, ErrRound, "server is in round %s", s.next)
	}
	s.done = true
	s.suspect = make([]bool, s.p.n)
	secrets, err := s.reconstructAll()
	if err != nil {
		return nil, err
	}
	defer func() { // on every path out, a panic included
		for i := range secrets {
			clear(secrets[i].seed[:])
			secrets[i].key = nil
		}
	}()
	um := s.newUnmasker()
	for i := range secrets {
		sec := &secrets[i]
		if sec.self {
			um.self(&sec.seed)
			clear(sec.seed[:])
			continue
		}
		var peers []int
		s.forNeighbours(sec.owner, func(v int) {
			if s.u3[v] {
				peers = append(peers, v)
			}
		})
		err := um.pairwise(sec.key, sec.owner, peers)
		sec.key = nil
		if err != nil {
			return nil, err
		}
	}
	um.apply()
	res := &Result{Sum: make([]int64, s.p.length), dim: s.p.cfg.Dim}
	s.acc.centred(res.Sum)
	for u, in := range s.u3 {
		if in {
			res.Survivors = append(res.Survivors, u)
		}
	}
	res.Inconsistent = slices.Sorted(slices.Values(s.caught))
	s.acc.wipe()
	s.selfSh, s.keySh, s.selfFrom, s.keyFrom = nil, nil, nil, nil
	return res, nil
}

// secret is one secret Finish reconstructs: the self-mask seed of the
// survivor owner (self) or the mask private key of the client owner, which
// dropped after sharing its keys.
type secret struct {
	owner int
	self  bool
	seed  [32]byte
	key   *ecdh.PrivateKey
}

func (sec *secret) what() string {
	if sec.self {
		return "self-mask seed"
	}
	return "mask key"
}

// verifier returns the check of a candidate for sec against its owner's
// commitment (self-mask seed) or advertised public key (mask key); on
// success it keeps the secret in sec.
func (s *Server) verifier(sec *secret) func([]byte) bool {
	if sec.self {
		return func(seed []byte) bool {
			copy(sec.seed[:], seed)
			c := selfMaskCommitment(&s.session, sec.owner, &sec.seed)
			if subtle.ConstantTimeCompare(c[:], s.commit[sec.owner][:]) != 1 {
				clear(sec.seed[:])
				return false
			}
			return true
		}
	}
	return func(raw []byte) bool {
		k, err := ecdh.X25519().NewPrivateKey(raw)
		if err != nil || subtle.ConstantTimeCompare(k.PublicKey().Bytes(), s.adverts[sec.owner].MaskKey[:]) != 1 {
			return false
		}
		sec.key = k
		return true
	}
}

// reconstructAll reconstructs the self-mask seed of every survivor and the
// mask key of every client that dropped after sharing its keys, in that
// order of owners. Each secret is first tried from the first t of its
// shares (in the order the unmask responses arrived), all secrets in
// parallel: with no corrupted share, that is all the work. The secrets
// whose first try fails then go, in order, through reconstruct on one
// goroutine, which works around and names the holders of corrupted
// shares; it does not repeat a first try on the same shares. A corrupt
// holder among the first responders can so send every secret down that
// path, at the cost of one failed parallel try per secret beyond the
// sequential work. The outcome depends on the shares and their order of
// arrival, not on the number of workers. Which holders are named can
// differ from trying the secrets one by one with the caught holders'
// shares last: a secret whose first t shares are clean is rebuilt from
// them, and a corrupted share that is never needed goes unnoticed.
func (s *Server) reconstructAll() ([]secret, error) {
	var out []secret
	for u := range s.p.n {
		if s.u3[u] {
			out = append(out, secret{owner: u, self: true})
		}
	}
	for d := range s.p.n {
		if s.u2[d] && !s.u3[d] {
			out = append(out, secret{owner: d})
		}
	}
	cache := newLagrangeCache()
	// done: the first try verified; tried: it ran and failed verification.
	done, tried := make([]bool, len(out)), make([]bool, len(out))
	parallel(len(out), func(i int) {
		sec := &out[i]
		shares, from := s.sharesOf(sec)
		if len(shares) >= s.p.t {
			ok, err := s.firstTry(cache, shares, from, sec.owner, sec.what(), s.verifier(sec))
			done[i], tried[i] = ok, !ok && err == nil
		}
	})
	for i := range out {
		if done[i] {
			continue
		}
		sec := &out[i]
		shares, from := s.sharesOf(sec)
		if err := s.reconstruct(cache, shares, from, sec.owner, sec.what(), s.verifier(sec), tried[i]); err != nil {
			for j := range out {
				clear(out[j].seed[:])
				out[j].key = nil
			}
			return nil, err
		}
	}
	return out, nil
}

// sharesOf returns the revealed shares of sec and their holders.
func (s *Server) sharesOf(sec *secret) ([]shamir.Share, []int) {
	if sec.self {
		return s.selfSh[sec.owner], s.selfFrom[sec.owner]
	}
	return s.keySh[sec.owner], s.keyFrom[sec.owner]
}

// maxExtraTries bounds, for each secret, the reconstructions tried after
// the first t+1 (the first t shares, then each of them left out in turn):
// enough to get past a few corrupted shares without letting corrupt
// holders make the server's work grow with t^2.
const maxExtraTries = 64

// reconstruct rebuilds a secret of client u from t of its shares (from[i]
// is the holder of shares[i]) and hands it to verify, which checks it
// against the client's commitment or public key; verify is called until
// it succeeds, never after. If the first t shares fail (a holder revealed
// a corrupted share), it tries the t-subsets that leave out one of them,
// then two and more, at most t+1+maxExtraTries subsets in all, and fails
// with ErrAuth if none verifies. When a later subset verifies, blame finds
// the holders whose shares are off the sharing polynomial; their shares go
// last for the secrets reconstructed next, so one corrupt holder costs
// O(t) attempts once, not per secret (plus the first try of each secret it
// held, made in parallel by reconstructAll: triedPlain says it was made
// and failed, and it is not repeated on the same shares). The candidate
// secrets are wiped.
func (s *Server) reconstruct(cache *lagrangeCache, shares []shamir.Share, from []int, u int, what string, verify func([]byte) bool, triedPlain bool) error {
	const r = RoundUnmask
	t, m := s.p.t, len(shares)
	if m < t {
		return errorf(u, r, ErrTooFewClients, "only %d shares of the %s of client %d arrived, threshold is %d: too many clients dropped out", m, what, u, t)
	}
	// The first try takes the first t shares of holders not caught: the
	// same shares as the parallel pass's try (triedPlain) unless one of
	// their holders has been caught since, and then it is not repeated.
	if !triedPlain || slices.ContainsFunc(from[:t], func(h int) bool { return s.suspect[h] }) {
		if ok, err := s.firstTry(cache, shares, from, u, what, verify); ok || err != nil {
			return err
		}
	}
	if s.decodeAndVerify(cache, shares, from, verify) { // see decode.go
		return nil
	}
	// Shares of holders already caught go last.
	order := make([]int, 0, m)
	for _, caught := range []bool{false, true} {
		for i, h := range from {
			if s.suspect[h] == caught {
				order = append(order, i)
			}
		}
	}
	sub := make([]shamir.Share, t)
	combine := func(pick []int) ([]byte, error) {
		for k, i := range pick {
			sub[k] = shares[order[i]]
		}
		l, err := cache.get(sub)
		if err != nil {
			return nil, errorf(u, r, ErrProtocol, "shares of the %s of client %d: %v", what, u, err)
		}
		out, err := l.Combine(sub, secretLen)
		if err != nil {
			return nil, nil // not a secret: this subset fails
		}
		return out, nil
	}
	// Enumerate the t-subsets of order[:t+d] that contain its last
	// element (so that each subset comes once), for d = 0, 1, ...: the
	// left-out set skip is a d-combination of [0, t+d-1).
	pick := make([]int, t)
	tries, budget := 0, t+1+maxExtraTries
	for d := 0; d <= m-t && tries < budget; d++ {
		skip := make([]int, d)
		for k := range skip {
			skip[k] = k
		}
		for {
			pick = pick[:0]
			for i, k := 0, 0; i < t+d; i++ {
				if k < d && skip[k] == i {
					k++
					continue
				}
				pick = append(pick, i)
			}
			out, err := combine(pick)
			if err != nil {
				return err
			}
			tries++
			if out != nil && verify(out) {
				if tries > 1 {
					s.blame(combine, out, pick, order, from)
				}
				clear(out)
				return nil
			}
			clear(out)
			if tries >= budget || !nextCombination(skip, t+d-1) {
				break
			}
		}
	}
	return errorf(u, r, ErrAuth, "no %d of the %d shares of the %s of client %d reconstruct the committed value in %d attempts (share holders sent corrupted shares)", t, m, what, u, tries)
}

// blame runs when the first t shares of a secret failed and the subset
// pick (indices into order) has verified. Each share q outside pick is
// tested against the polynomial f_S through pick's shares: q is put in
// place of pick's last share, and the result equals the verified secret
// exactly when q lies on f_S (the t+1 points then lie on one polynomial of
// degree t-1; otherwise the two reconstructions differ, the product of the
// abscissae being nonzero). Colluding holders can make a subset with
// several corrupted shares reconstruct the right secret, with f_S wrong
// elsewhere; so shares off f_S are blamed only when f_S agrees with at
// least (m+t)/2 of the m shares, the unique-decoding bound: f_S is then
// the sharing polynomial unless more than (m-t)/2 of the holders collude,
// and no honest holder is blamed otherwise.
func (s *Server) blame(combine func([]int) ([]byte, error), secret []byte, pick, order, from []int) {
	m, t := len(order), len(pick)
	in := make([]bool, m)
	for _, i := range pick {
		in[i] = true
	}
	test := slices.Clone(pick)
	var off []int
	for i := range m {
		if in[i] {
			continue
		}
		test[t-1] = i
		out, err := combine(test)
		if err != nil {
			return
		}
		if out == nil || subtle.ConstantTimeCompare(out, secret) != 1 {
			off = append(off, from[order[i]])
		}
		clear(out)
	}
	if 2*(m-len(off)) < m+t {
		return
	}
	for _, h := range off {
		if !s.suspect[h] {
			s.suspect[h] = true
			s.caught = append(s.caught, h)
		}
	}
}

// nextCombination advances c, a strictly increasing sequence of values
// below n, to the next one in lexicographic order; it reports false after
// the last.
func nextCombination(c []int, n int) bool {
	k := len(c)
	for i := k - 1; i >= 0; i-- {
		if c[i] < n-k+i {
			c[i]++
			for j := i + 1; j < k; j++ {
				c[j] = c[j-1] + 1
			}
			return true
		}
	}
	return false
}

// lagrangeCache keeps the Lagrange coefficients of each distinct set of
// evaluation points: with the complete graph and few dropouts nearly every
// reconstruction uses the same points.
type lagrangeCache struct {
	seed maphash.Seed
	mu   sync.Mutex // Finish's workers share the cache
	m    map[uint64][]*shamir.Lagrange
}

func newLagrangeCache() *lagrangeCache {
	return &lagrangeCache{seed: maphash.MakeSeed(), m: make(map[uint64][]*shamir.Lagrange)}
}

func (c *lagrangeCache) get(shares []shamir.Share) (*shamir.Lagrange, error) {
	xs := make([]uint32, len(shares))
	var h maphash.Hash
	h.SetSeed(c.seed)
	var b [4]byte
	for i, sh := range shares {
		xs[i] = sh.X
		binary.LittleEndian.PutUint32(b[:], sh.X)
		h.Write(b[:])
	}
	key := h.Sum64()
	if l := c.lookup(key, xs); l != nil {
		return l, nil
	}
	l, err := shamir.NewLagrange(xs) // outside the lock: the costly part
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.m[key] { // another worker may have added it meanwhile
		if slices.Equal(o.X(), xs) {
			return o, nil
		}
	}
	c.m[key] = append(c.m[key], l)
	return l, nil
}

func (c *lagrangeCache) lookup(key uint64, xs []uint32) *shamir.Lagrange {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.m[key] {
		if slices.Equal(l.X(), xs) {
			return l
		}
	}
	return nil
}

// checkMinInputs aborts a round after which fewer than Config.MinInputs
// clients remain: the sum could only have fewer inputs than allowed.
func (s *Server) checkMinInputs(r Round, in []bool, what string) error {
	if c := count(in); c < s.p.cfg.MinInputs {
		return errorf(ServerID, r, ErrTooFewClients, "only %d clients %s, a result must sum at least MinInputs=%d inputs", c, what, s.p.cfg.MinInputs)
	}
	return nil
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}
