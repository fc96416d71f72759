package secagg

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"slices"

	"github.com/privml/privml/internal/shamir"
)

// secretLen is the length of the two shared secrets: an X25519 private key
// and a self-mask seed.
const secretLen = 32

// envelopePlainLen is the length of an envelope's plaintext: version,
// sender, recipient and two encoded shares.
var envelopePlainLen = 1 + 4 + 4 + 2*(6+8*shamir.NumChunks(secretLen))

// envelopeLen is the length of a sealed envelope.
var envelopeLen = envelopePlainLen + 16

// ClientOptions are the optional settings of a [Client].
type ClientOptions struct {
	// Identity is the client's long-term Ed25519 private key, whose public
	// half is Config.Identities[id]. Required with Malicious.
	Identity ed25519.PrivateKey
	// MinSequence is the smallest Config.Sequence the client accepts:
	// NewClient refuses an earlier session with [ErrReplay]. A client that
	// stores the Sequence of its last session and sets MinSequence to one
	// more cannot be made to take part twice in sessions with the same
	// configuration digest, whatever the server proposes. Sequences does
	// this bookkeeping.
	MinSequence uint64
	// Sequences records the Sequence of every session the client joins
	// and refuses, with [ErrReplay], one not above the last. Required in
	// the malicious model (use a [FileSequenceStore] that survives
	// restarts) unless InsecureAllowReplay is set.
	Sequences SequenceStore
	// InsecureAllowReplay lets a malicious-model client run without
	// Sequences: a server could then replay a finished session's
	// configuration to it. For tests and simulations only.
	InsecureAllowReplay bool
	// Policy is what the client requires of the session (see
	// [ClientPolicy]); NewClient refuses a violating Config with
	// [ErrPolicy].
	Policy ClientPolicy
	// InsecureTestRand replaces crypto/rand as the source of the client's
	// keys, seeds and Shamir coefficients. Only for reproducible tests: a
	// predictable source lets anyone unmask the client's input.
	InsecureTestRand io.Reader
}

type peerShares struct {
	key, self shamir.Share
}

// Client is one client's side of a session: a state machine with one
// method per round, each taking the server's previous message and
// returning the client's next one. It does no I/O.
//
// A Client runs one session only: its keys are fresh and never reused. Any
// error aborts it for good (later calls fail with [ErrRound]); it then
// reveals nothing more. A Client is not safe for concurrent use.
type Client struct {
	p        *Params
	id       int
	rand     io.Reader
	identity ed25519.PrivateKey

	next    Round // the round whose method runs next
	aborted bool

	cKey, sKey *ecdh.PrivateKey
	advert     KeyAdvert
	session    [32]byte
	u1         []bool             // adverts received, by id
	peers      map[int]*KeyAdvert // neighbours in U1
	own        peerShares         // the shares of our own secrets we hold
	received   map[int]*peerShares
	senders    []int // neighbours whose shares we hold (N(i) ∩ U2)
	survivors  []uint32
	selfSeed   [32]byte
	openKeys   map[int]*[32]byte // envelope keys from each neighbour to us
	pairSeeds  map[int]*[32]byte // pairwise mask seeds with each neighbour
}

// NewClient returns the client with the given id for the session p.
func NewClient(p *Params, id int, opts *ClientOptions) (*Client, error) {
	if p == nil {
		return nil, errorf(id, RoundAdvertise, ErrConfig, "nil Params")
	}
	if id < 0 || id >= p.n {
		return nil, errorf(id, RoundAdvertise, ErrConfig, "client id %d out of range [0, %d)", id, p.n)
	}
	c := &Client{p: p, id: id, rand: rand.Reader, next: RoundAdvertise}
	if opts != nil {
		if opts.InsecureTestRand != nil {
			c.rand = opts.InsecureTestRand
		}
		c.identity = opts.Identity
		if p.cfg.Sequence < opts.MinSequence {
			return nil, errorf(ServerID, RoundAdvertise, ErrReplay, "session sequence %d for client %d is below its minimum %d: replayed or stale session", p.cfg.Sequence, id, opts.MinSequence)
		}
	} else {
		opts = &ClientOptions{}
	}
	if err := opts.Policy.check(p, id); err != nil {
		return nil, err
	}
	if p.cfg.Threat == Malicious {
		if len(c.identity) != ed25519.PrivateKeySize {
			return nil, errorf(id, RoundAdvertise, ErrConfig, "malicious threat model needs the client's Ed25519 identity key")
		}
		pub := c.identity.Public().(ed25519.PublicKey)
		if subtle.ConstantTimeCompare(pub, p.cfg.Identities[id]) != 1 {
			return nil, errorf(id, RoundAdvertise, ErrConfig, "identity key does not match Config.Identities[%d]", id)
		}
		if opts.Sequences == nil && !opts.InsecureAllowReplay {
			return nil, errorf(id, RoundAdvertise, ErrConfig, "malicious threat model needs ClientOptions.Sequences to refuse replayed sessions")
		}
	}
	// Recorded last, once nothing else refuses the session: the client
	// then takes part in it and in no other with this Sequence.
	if opts.Sequences != nil {
		if err := opts.Sequences.Advance(p.cfg.Sequence); err != nil {
			if errors.Is(err, ErrReplay) {
				return nil, errorf(ServerID, RoundAdvertise, ErrReplay, "client %d: %v", id, err)
			}
			return nil, errorf(id, RoundAdvertise, ErrConfig, "client %d: %v", id, err)
		}
	}
	return c, nil
}

// ID returns the client's id.
func (c *Client) ID() int { return c.id }

// enter checks that round r is the next one and marks the client aborted
// if the round then fails.
func (c *Client) enter(r Round) error {
	if c.aborted {
		return errorf(c.id, r, ErrRound, "client has aborted")
	}
	if c.next != r {
		c.aborted = true
		c.wipe()
		return errorf(c.id, r, ErrRound, "called in round %s, expected %s (replayed or out-of-order message)", r, c.next)
	}
	return nil
}

// fail aborts the client and wipes its secrets.
func (c *Client) fail(err error) error {
	c.aborted = true
	c.wipe()
	return err
}

// wipe drops every secret the client holds. Go gives no guarantee that
// copies made by the runtime are erased.
func (c *Client) wipe() {
	c.cKey, c.sKey = nil, nil
	clear(c.selfSeed[:])
	clear(c.own.key.Y)
	clear(c.own.self.Y)
	for _, s := range c.received {
		clear(s.key.Y)
		clear(s.self.Y)
	}
	c.received = nil
	c.clearAgreedKeys()
}

// clearAgreedKeys drops the envelope keys and pairwise mask seeds agreed
// with the neighbours.
func (c *Client) clearAgreedKeys() {
	for _, k := range c.openKeys {
		clear(k[:])
	}
	c.openKeys = nil
	for _, k := range c.pairSeeds {
		clear(k[:])
	}
	c.pairSeeds = nil
}

// Advertise runs the AdvertiseKeys round: it draws two fresh X25519 key
// pairs and returns their public keys, signed in the malicious model.
func (c *Client) Advertise() (*KeyAdvert, error) {
	const r = RoundAdvertise
	if err := c.enter(r); err != nil {
		return nil, err
	}
	var err error
	if c.cKey, err = newX25519(c.rand); err != nil {
		return nil, c.fail(errorf(c.id, r, ErrRandom, "cannot draw keys: %v", err))
	}
	if c.sKey, err = newX25519(c.rand); err != nil {
		return nil, c.fail(errorf(c.id, r, ErrRandom, "cannot draw keys: %v", err))
	}
	a := KeyAdvert{Client: uint32(c.id), Config: c.p.digest}
	copy(a.CipherKey[:], c.cKey.PublicKey().Bytes())
	copy(a.MaskKey[:], c.sKey.PublicKey().Bytes())
	if c.p.cfg.Threat == Malicious {
		a.Signature = ed25519.Sign(c.identity, advertSigInput(&a))
	}
	c.advert = a
	c.next = RoundShareKeys
	out := a
	out.Signature = slices.Clone(a.Signature)
	return &out, nil
}

// ShareKeys runs the ShareKeys round. It checks the server's advert list
// (our own advert unchanged, ids increasing and valid, no key repeated in
// any encoding, neighbours' keys canonical and not of small order,
// neighbours' signatures in the malicious model, enough neighbours for
// the threshold), derives the session id, draws the self-mask seed and
// Shamir-shares it and the mask key among the neighbours and itself,
// sealing each neighbour's shares in an AEAD envelope.
func (c *Client) ShareKeys(list *AdvertList) (*ShareKeys, error) {
	const r = RoundShareKeys
	if err := c.enter(r); err != nil {
		return nil, err
	}
	if list == nil {
		return nil, c.fail(errorf(ServerID, r, ErrMalformed, "nil advert list for client %d", c.id))
	}
	if subtle.ConstantTimeCompare(list.Config[:], c.p.digest[:]) != 1 {
		return nil, c.fail(errorf(ServerID, r, ErrSession, "advert list for client %d is bound to another configuration", c.id))
	}
	if list.Client != uint32(c.id) {
		return nil, c.fail(errorf(ServerID, r, ErrProtocol, "advert list addressed to client %d delivered to client %d", list.Client, c.id))
	}
	c.u1 = make([]bool, c.p.n)
	c.peers = make(map[int]*KeyAdvert)
	keys := make(map[[32]byte]int, 2*len(list.Adverts))
	sawSelf := false
	for i := range list.Adverts {
		a := &list.Adverts[i]
		id := int(a.Client)
		if id >= c.p.n {
			return nil, c.fail(errorf(ServerID, r, ErrProtocol, "advert of unknown client %d", id))
		}
		if c.u1[id] {
			return nil, c.fail(errorf(id, r, ErrReplay, "advert of client %d listed twice", id))
		}
		if i > 0 && a.Client < list.Adverts[i-1].Client {
			return nil, c.fail(errorf(ServerID, r, ErrMalformed, "adverts not in increasing id order at client %d", id))
		}
		if a.Config != c.p.digest {
			return nil, c.fail(errorf(id, r, ErrSession, "advert of client %d is bound to another configuration", id))
		}
		c.u1[id] = true
		for _, k := range [][32]byte{a.CipherKey, a.MaskKey} {
			// X25519 reads a key modulo 2^255-19 and ignores bit 255:
			// compare the values, not the encodings.
			k = canonicalX25519(k)
			if prev, dup := keys[k]; dup {
				return nil, c.fail(errorf(id, r, ErrReplay, "public key of client %d repeats one of client %d: keys must be fresh", id, prev))
			}
			keys[k] = id
		}
		if id == c.id {
			sawSelf = true
			if a.CipherKey != c.advert.CipherKey || a.MaskKey != c.advert.MaskKey || subtle.ConstantTimeCompare(a.Signature, c.advert.Signature) != 1 {
				return nil, c.fail(errorf(ServerID, r, ErrProtocol, "the advert of client %d was altered", id))
			}
			continue
		}
		if !c.p.IsNeighbour(c.id, id) {
			continue
		}
		if c.p.cfg.Threat == Malicious {
			if len(a.Signature) != ed25519.SignatureSize || !ed25519.Verify(c.p.cfg.Identities[id], advertSigInput(a), a.Signature) {
				return nil, c.fail(errorf(id, r, ErrAuth, "advert of client %d is not signed by its identity key", id))
			}
		}
		// The server refuses non-canonical and small-order keys; a list
		// that carries one comes from a faulty or lying server. Leaving
		// the peer out on our own would not help: the holder set, the
		// share points and the envelopes the server expects are computed
		// from the same list by every party, so the honest way out is to
		// abort: we have revealed nothing yet and simply count as
		// dropped, which keeps the sum of the clients that go on correct.
		// Small order is caught below by the two agreements with each
		// neighbour, done in this round; non-neighbours' keys are never
		// used and not checked.
		if !isCanonicalX25519(&a.CipherKey) || !isCanonicalX25519(&a.MaskKey) {
			return nil, c.fail(errorf(id, r, ErrMalformed, "key of neighbour %d of client %d refused (an honest server refuses it): %v", id, c.id, errKeyNotCanonical))
		}
		cp := *a // keep only the neighbours' adverts, not the whole list
		cp.Signature = nil
		c.peers[id] = &cp
	}
	if !sawSelf {
		return nil, c.fail(errorf(ServerID, r, ErrProtocol, "the advert of client %d is missing from its list", c.id))
	}
	holders := c.p.holders(c.id, func(j int) bool { return c.u1[j] })
	if len(holders) < c.p.t {
		return nil, c.fail(errorf(c.id, r, ErrTooFewClients, "client %d has %d share holders (itself included), threshold is %d", c.id, len(holders), c.p.t))
	}
	c.session = sessionID(&c.p.digest, list.Adverts)

	var seed [32]byte
	defer clear(seed[:])
	if _, err := io.ReadFull(c.rand, seed[:]); err != nil {
		return nil, c.fail(errorf(c.id, r, ErrRandom, "cannot draw the self-mask seed: %v", err))
	}
	keyShares, err := shamir.Split(c.sKey.Bytes(), c.p.t, len(holders), c.rand)
	if err != nil {
		return nil, c.fail(errorf(c.id, r, ErrRandom, "cannot share the mask key: %v", err))
	}
	selfShares, err := shamir.Split(seed[:], c.p.t, len(holders), c.rand)
	if err != nil {
		return nil, c.fail(errorf(c.id, r, ErrRandom, "cannot share the self-mask seed: %v", err))
	}
	defer func() {
		for m := range keyShares {
			if holders[m] != c.id {
				clear(keyShares[m].Y)
				clear(selfShares[m].Y)
			}
		}
	}()
	out := &ShareKeys{Client: uint32(c.id), Session: c.session, Commitment: selfMaskCommitment(&c.session, c.id, &seed)}
	out.Envelopes = make([]Envelope, 0, len(holders)-1)
	plain := make([]byte, 0, envelopePlainLen)
	defer clear(plain[:cap(plain)])
	c.openKeys = make(map[int]*[32]byte, len(holders)-1)
	c.pairSeeds = make(map[int]*[32]byte, len(holders)-1)
	for m, h := range holders {
		if h == c.id {
			c.own = peerShares{key: keyShares[m], self: selfShares[m]}
			continue
		}
		plain = plain[:0]
		plain = append(plain, WireVersion)
		plain = binary.BigEndian.AppendUint32(plain, uint32(c.id))
		plain = binary.BigEndian.AppendUint32(plain, uint32(h))
		plain, _ = keyShares[m].AppendBinary(plain) // shares from Split are valid
		plain, _ = selfShares[m].AppendBinary(plain)
		seal, open, err := envelopeKeys(c.cKey, c.peers[h].CipherKey[:], &c.session, c.id, h)
		if err != nil {
			return nil, c.fail(errorf(h, r, ErrMalformed, "cipher key of neighbour %d of client %d refused (an honest server refuses it): %v: %v", h, c.id, errKeyLowOrder, err))
		}
		c.openKeys[h] = &open
		// The pairwise mask seed is agreed now, not at masking, so that a
		// small-order mask key aborts us before we send any share.
		pair, err := maskSeed(c.sKey, c.peers[h].MaskKey[:], &c.session, c.id, h)
		if err != nil {
			clear(seal[:])
			return nil, c.fail(errorf(h, r, ErrMalformed, "mask key of neighbour %d of client %d refused (an honest server refuses it): %v: %v", h, c.id, errKeyLowOrder, err))
		}
		c.pairSeeds[h] = &pair
		aead, err := envelopeAEAD(&seal)
		clear(seal[:])
		if err != nil {
			return nil, c.fail(errorf(h, r, ErrProtocol, "envelope key for client %d: %v", h, err))
		}
		ct := aead.Seal(nil, zeroNonce[:], plain, envelopeAD(&c.session, c.id, h))
		out.Envelopes = append(out.Envelopes, Envelope{From: uint32(c.id), To: uint32(h), Ciphertext: ct})
	}
	if c.p.cfg.Threat == Malicious {
		out.Signature = ed25519.Sign(c.identity, out.sigInput())
	}
	c.next = RoundMaskedInput
	c.selfSeed = seed // needed once more, to mask the input
	return out, nil
}

// MaskInput runs the MaskedInputCollection round. It opens the envelopes
// of the server's bundle (each must come from a distinct neighbour that
// advertised, authenticate under the session, and carry shares at our
// evaluation point), checks that enough neighbours remain, and returns
// input masked with the self mask and one pairwise mask per neighbour that
// shared its keys. input has Dim+SideDim coordinates within the bounds of
// the configuration. The mask key and the self-mask seed are wiped.
func (c *Client) MaskInput(bundle *ShareBundle, input []int64) (*MaskedInput, error) {
	const r = RoundMaskedInput
	if c.aborted || c.next != r {
		return nil, c.enter(r)
	}
	if err := c.checkInput(input); err != nil {
		return nil, err // the caller's mistake: the client stays usable
	}
	if bundle == nil {
		return nil, c.fail(errorf(ServerID, r, ErrMalformed, "nil share bundle for client %d", c.id))
	}
	if subtle.ConstantTimeCompare(bundle.Session[:], c.session[:]) != 1 {
		return nil, c.fail(errorf(ServerID, r, ErrSession, "share bundle for client %d is bound to another session", c.id))
	}
	if bundle.Client != uint32(c.id) {
		return nil, c.fail(errorf(ServerID, r, ErrProtocol, "share bundle addressed to client %d delivered to client %d", bundle.Client, c.id))
	}
	c.received = make(map[int]*peerShares, len(bundle.Envelopes))
	c.senders = c.senders[:0]
	nChunks := shamir.NumChunks(secretLen)
	rank := rankOf(c.u1)
	plain := make([]byte, 0, envelopePlainLen)
	defer clear(plain[:cap(plain)])
	for _, e := range bundle.Envelopes {
		from := int(e.From)
		if e.To != uint32(c.id) {
			return nil, c.fail(errorf(from, r, ErrProtocol, "envelope from client %d is addressed to client %d, delivered to client %d", from, e.To, c.id))
		}
		if from >= c.p.n || c.peers[from] == nil {
			return nil, c.fail(errorf(from, r, ErrProtocol, "envelope from client %d, which is not an advertised neighbour of client %d", from, c.id))
		}
		if _, dup := c.received[from]; dup {
			return nil, c.fail(errorf(from, r, ErrReplay, "two envelopes from client %d", from))
		}
		key := c.openKeys[from]
		if key == nil {
			return nil, c.fail(errorf(from, r, ErrProtocol, "envelope from client %d, which is not a share holder of client %d", from, c.id))
		}
		aead, err := envelopeAEAD(key)
		if err != nil {
			return nil, c.fail(errorf(from, r, ErrAuth, "envelope from client %d: %v", from, err))
		}
		plain, err = aead.Open(plain[:0], zeroNonce[:], e.Ciphertext, envelopeAD(&c.session, from, c.id))
		if err != nil {
			return nil, c.fail(errorf(from, r, ErrAuth, "envelope from client %d to client %d does not authenticate", from, c.id))
		}
		ps, err := parseEnvelope(plain, from, c.id, nChunks)
		if err != nil {
			return nil, c.fail(errorf(from, r, ErrProtocol, "envelope from client %d: %v", from, err))
		}
		want := c.p.holderX(from, c.id, c.u1, rank)
		if ps.key.X != want || ps.self.X != want {
			return nil, c.fail(errorf(from, r, ErrProtocol, "envelope from client %d carries shares at the wrong point", from))
		}
		c.received[from] = ps
		c.senders = append(c.senders, from)
	}
	slices.Sort(c.senders)
	if len(c.senders)+1 < c.p.t {
		return nil, c.fail(errorf(c.id, r, ErrTooFewClients, "client %d holds shares of %d neighbours (itself included), threshold is %d", c.id, len(c.senders)+1, c.p.t))
	}

	v := newVector(c.p.bits, c.p.length)
	v.setSigned(input)
	v.addMask(&c.selfSeed)
	clear(c.selfSeed[:])
	for _, j := range c.senders {
		seed := c.pairSeeds[j] // senders are share holders
		if c.id < j {
			v.addMask(seed)
		} else {
			v.subMask(seed)
		}
	}
	c.sKey, c.cKey = nil, nil // never needed again; the server reconstructs sKey if we drop
	c.clearAgreedKeys()
	out := &MaskedInput{Client: uint32(c.id), Session: c.session, Bits: uint8(c.p.bits), Length: uint32(c.p.length)}
	out.Packed = v.appendPacked(make([]byte, 0, packedLen(c.p.bits, c.p.length)))
	if c.p.cfg.Threat == Malicious {
		out.Signature = ed25519.Sign(c.identity, out.sigInput())
		c.next = RoundConsistency
	} else {
		c.next = RoundUnmask
	}
	return out, nil
}

func (c *Client) checkInput(x []int64) error {
	const r = RoundMaskedInput
	if len(x) != c.p.length {
		return errorf(c.id, r, ErrInput, "input has %d coordinates, want Dim+SideDim = %d", len(x), c.p.length)
	}
	lim := int64(c.p.cfg.MaxAbs)
	for i, e := range x[:c.p.cfg.Dim] {
		if e > lim || e < -lim {
			return errorf(c.id, r, ErrInput, "coordinate %d is outside [-MaxAbs, MaxAbs] = [-%d, %d]", i, lim, lim)
		}
	}
	lim = int64(c.p.cfg.MaxSideAbs)
	for i, e := range x[c.p.cfg.Dim:] {
		if e > lim || e < -lim {
			return errorf(c.id, r, ErrInput, "side coordinate %d is outside [-MaxSideAbs, MaxSideAbs] = [-%d, %d]", i, lim, lim)
		}
	}
	return nil
}

var errEnvelopeIDs = errors.New("sender or recipient inside the envelope does not match")

func parseEnvelope(p []byte, from, to, nChunks int) (*peerShares, error) {
	if len(p) != envelopePlainLen || p[0] != WireVersion {
		return nil, errPacking
	}
	if binary.BigEndian.Uint32(p[1:]) != uint32(from) || binary.BigEndian.Uint32(p[5:]) != uint32(to) {
		return nil, errEnvelopeIDs
	}
	sl := 6 + 8*nChunks
	ps := &peerShares{}
	if err := ps.key.UnmarshalBinary(p[9 : 9+sl]); err != nil {
		return nil, err
	}
	if err := ps.self.UnmarshalBinary(p[9+sl:]); err != nil {
		return nil, err
	}
	if len(ps.key.Y) != nChunks || len(ps.self.Y) != nChunks {
		return nil, errPacking
	}
	return ps, nil
}

// Consistency runs the ConsistencyCheck round of the malicious model: it
// checks the survivor set U3 (valid, increasing, containing us and at
// least t-1 of the neighbours we hold shares of) and signs it with the
// identity key.
func (c *Client) Consistency(req *ConsistencyRequest) (*ConsistencyReply, error) {
	const r = RoundConsistency
	if err := c.enter(r); err != nil {
		return nil, err
	}
	if req == nil {
		return nil, c.fail(errorf(ServerID, r, ErrMalformed, "nil consistency request for client %d", c.id))
	}
	if subtle.ConstantTimeCompare(req.Session[:], c.session[:]) != 1 {
		return nil, c.fail(errorf(ServerID, r, ErrSession, "consistency request for client %d is bound to another session", c.id))
	}
	if req.Client != uint32(c.id) {
		return nil, c.fail(errorf(ServerID, r, ErrProtocol, "consistency request addressed to client %d delivered to client %d", req.Client, c.id))
	}
	if err := c.checkIDList(r, req.Survivors, "survivor"); err != nil {
		return nil, c.fail(err)
	}
	if _, ok := slices.BinarySearch(req.Survivors, uint32(c.id)); !ok {
		return nil, c.fail(errorf(ServerID, r, ErrProtocol, "client %d sent its masked input but is not among the survivors", c.id))
	}
	if len(req.Survivors) < c.p.cfg.MinInputs {
		return nil, c.fail(errorf(ServerID, r, ErrTooFewClients, "survivor set for client %d has %d clients, a sum must have at least MinInputs=%d", c.id, len(req.Survivors), c.p.cfg.MinInputs))
	}
	// A survivor must have shared its keys: an honest server's survivors
	// all sent a masked input, after sharing with every advertised
	// neighbour. Padding the set with clients that shared nothing passes
	// the MinInputs count without changing what we reveal (we hold no
	// shares of them), so the sum would be smaller than the set.
	for _, j := range req.Survivors {
		if int(j) != c.id && c.p.IsNeighbour(c.id, int(j)) && c.received[int(j)] == nil {
			return nil, c.fail(errorf(ServerID, r, ErrProtocol, "survivor set for client %d lists neighbour %d, which shared no keys with it (its shares never arrived)", c.id, j))
		}
	}
	alive := 0
	for _, j := range c.senders {
		if _, ok := slices.BinarySearch(req.Survivors, uint32(j)); ok {
			alive++
		}
	}
	// On a sparse graph, t alive neighbours, not counting ourselves (the
	// finder's 2^-20 failure bound already asks that much of random
	// dropouts). A server that disconnects the public ring by dropping
	// k/2 consecutive clients leaves a client next to the gap k/2 alive
	// neighbours and the corrupt ones in the gap, while t > (k+1+cMax)/2:
	// the client refuses, and without its own share its self mask cannot
	// be rebuilt, so the component it borders cannot be summed apart.
	if need := c.p.t - 1; c.p.k < c.p.n-1 {
		need = c.p.t
		if alive < need {
			return nil, c.fail(errorf(c.id, r, ErrTooFewClients, "client %d has %d surviving share-holding neighbours, needs %d (threshold %d)", c.id, alive, need, c.p.t))
		}
	} else if alive < need {
		return nil, c.fail(errorf(c.id, r, ErrTooFewClients, "client %d has %d surviving share holders (itself included), threshold is %d", c.id, alive+1, c.p.t))
	}
	c.survivors = slices.Clone(req.Survivors)
	sig := ed25519.Sign(c.identity, consistencySigInput(&c.session, c.survivors))
	c.next = RoundUnmask
	return &ConsistencyReply{Client: uint32(c.id), Session: c.session, Signature: sig}, nil
}

// checkIDList checks that ids is strictly increasing (a repeat is a
// replay) and within range.
func (c *Client) checkIDList(r Round, ids []uint32, what string) error {
	for i, id := range ids {
		if id >= uint32(c.p.n) {
			return errorf(ServerID, r, ErrProtocol, "%s list for client %d names unknown client %d", what, c.id, id)
		}
		if i > 0 && id == ids[i-1] {
			return errorf(ServerID, r, ErrReplay, "%s list for client %d repeats client %d", what, c.id, id)
		}
		if i > 0 && id < ids[i-1] {
			return errorf(ServerID, r, ErrMalformed, "%s list for client %d is not in increasing order", what, c.id)
		}
	}
	return nil
}

// Unmask runs the Unmasking round. The server names, among the neighbours
// whose shares we hold, those alive (we reveal their self-mask shares) and
// those dropped (we reveal their mask-key shares). The client refuses,
// revealing nothing, unless the two lists are disjoint, exactly cover
// those neighbours, leave at least t alive holders, and (malicious model)
// agree with the survivor set that at least t-1 neighbours signed. Never
// revealing both shares of a peer is what keeps a lying server from
// unmasking an individual input.
func (c *Client) Unmask(req *UnmaskRequest) (*UnmaskResponse, error) {
	const r = RoundUnmask
	if err := c.enter(r); err != nil {
		return nil, err
	}
	if req == nil {
		return nil, c.fail(errorf(ServerID, r, ErrMalformed, "nil unmask request for client %d", c.id))
	}
	if subtle.ConstantTimeCompare(req.Session[:], c.session[:]) != 1 {
		return nil, c.fail(errorf(ServerID, r, ErrSession, "unmask request for client %d is bound to another session", c.id))
	}
	if req.Client != uint32(c.id) {
		return nil, c.fail(errorf(ServerID, r, ErrProtocol, "unmask request addressed to client %d delivered to client %d", req.Client, c.id))
	}
	if err := c.checkIDList(r, req.Alive, "alive"); err != nil {
		return nil, c.fail(err)
	}
	if err := c.checkIDList(r, req.Dropped, "dropped"); err != nil {
		return nil, c.fail(err)
	}
	// Disjointness first: a client in both lists is the attack.
	for _, id := range req.Alive {
		if _, both := slices.BinarySearch(req.Dropped, id); both {
			return nil, c.fail(errorf(ServerID, r, ErrProtocol, "client %d is listed both alive and dropped to client %d: revealing both its shares would unmask its input", id, c.id))
		}
	}
	for _, list := range [][]uint32{req.Alive, req.Dropped} {
		for _, id := range list {
			if int(id) == c.id {
				return nil, c.fail(errorf(ServerID, r, ErrProtocol, "client %d is listed among its own neighbours", c.id))
			}
			if _, ok := c.received[int(id)]; !ok {
				return nil, c.fail(errorf(ServerID, r, ErrProtocol, "client %d is not a neighbour whose shares client %d holds", id, c.id))
			}
		}
	}
	if len(req.Alive)+len(req.Dropped) != len(c.senders) {
		return nil, c.fail(errorf(ServerID, r, ErrProtocol, "alive and dropped lists for client %d cover %d of its %d share-holding neighbours", c.id, len(req.Alive)+len(req.Dropped), len(c.senders)))
	}
	if len(req.Alive)+1 < c.p.t {
		return nil, c.fail(errorf(c.id, r, ErrTooFewClients, "client %d has %d alive share holders (itself included), threshold is %d", c.id, len(req.Alive)+1, c.p.t))
	}
	if c.p.cfg.Threat == Malicious {
		if err := c.checkSurvivors(req); err != nil {
			return nil, c.fail(err)
		}
	}
	out := &UnmaskResponse{Client: uint32(c.id), Session: c.session}
	out.SelfShares = make([]RevealedShare, 0, len(req.Alive)+1)
	self := false
	for _, id := range req.Alive {
		if !self && int(id) > c.id {
			out.SelfShares = append(out.SelfShares, RevealedShare{Owner: uint32(c.id), Share: cloneShare(c.own.self)})
			self = true
		}
		out.SelfShares = append(out.SelfShares, RevealedShare{Owner: id, Share: cloneShare(c.received[int(id)].self)})
	}
	if !self {
		out.SelfShares = append(out.SelfShares, RevealedShare{Owner: uint32(c.id), Share: cloneShare(c.own.self)})
	}
	for _, id := range req.Dropped {
		out.KeyShares = append(out.KeyShares, RevealedShare{Owner: id, Share: cloneShare(c.received[int(id)].key)})
	}
	if c.p.cfg.Threat == Malicious {
		in, err := out.sigInput()
		if err != nil {
			return nil, c.fail(errorf(c.id, r, ErrProtocol, "cannot encode the unmask response: %v", err))
		}
		out.Signature = ed25519.Sign(c.identity, in)
	}
	c.next = 0 // done: any further call is a replay
	c.wipe()
	return out, nil
}

func (c *Client) checkSurvivors(req *UnmaskRequest) error {
	const r = RoundUnmask
	if !slices.Equal(req.Survivors, c.survivors) {
		return errorf(ServerID, r, ErrProtocol, "survivor set sent to client %d at unmasking differs from the one it signed", c.id)
	}
	for _, j := range c.senders {
		_, surv := slices.BinarySearch(c.survivors, uint32(j))
		_, alive := slices.BinarySearch(req.Alive, uint32(j))
		if surv != alive {
			return errorf(ServerID, r, ErrProtocol, "client %d is listed %s to client %d, contradicting the signed survivor set", j, map[bool]string{true: "alive", false: "dropped"}[alive], c.id)
		}
	}
	msg := consistencySigInput(&c.session, c.survivors)
	seen := make(map[uint32]bool, len(req.Signatures))
	valid := 1 // our own
	for _, s := range req.Signatures {
		if seen[s.Client] {
			return errorf(int(s.Client), r, ErrReplay, "consistency signature of client %d forwarded twice", s.Client)
		}
		seen[s.Client] = true
		if int(s.Client) == c.id || !c.p.IsNeighbour(c.id, int(s.Client)) {
			continue
		}
		if _, ok := slices.BinarySearch(c.survivors, s.Client); !ok {
			continue
		}
		if len(s.Signature) != ed25519.SignatureSize || !ed25519.Verify(c.p.cfg.Identities[s.Client], msg, s.Signature) {
			return errorf(int(s.Client), r, ErrAuth, "consistency signature of client %d does not verify", s.Client)
		}
		valid++
	}
	if valid < c.p.t {
		return errorf(c.id, r, ErrTooFewClients, "client %d has %d valid consistency signatures (its own included), threshold is %d", c.id, valid, c.p.t)
	}
	return nil
}

func cloneShare(s shamir.Share) shamir.Share {
	return shamir.Share{X: s.X, Y: slices.Clone(s.Y)}
}
