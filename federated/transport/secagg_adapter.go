package transport

// This file is the only one that calls package secagg's state machines:
// it converts between the wire schema and secagg's types, checks that each
// message speaks for the client whose certificate carried it, and maps a
// protocol stage to the state machine's call. The rest of the transport
// moves opaque payloads.

import (
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math"

	pb "github.com/privml/privml/federated/transport/transportpb"

	"github.com/privml/privml/federated/secagg"
)

// maskedInputSize is the length of the encoding of a secagg MaskedInput
// (wire version 2: 38-byte header, bits, length, signature length, an
// Ed25519 signature in the malicious model, packed vector).
func maskedInputSize(p *secagg.Params) uint64 {
	n := 38 + 1 + 4 + 2 + (uint64(p.Length())*uint64(p.Bits())+7)/8
	if p.Config().Threat == secagg.Malicious {
		n += ed25519.SignatureSize
	}
	return n
}

// configToPB converts a resolved secagg configuration for the wire.
func configToPB(c secagg.Config) *pb.SessionConfig {
	out := &pb.SessionConfig{
		NumClients: uint32(c.NumClients), Dim: uint32(c.Dim), SideDim: uint32(c.SideDim),
		Bits: uint32(c.Bits), MaxAbs: c.MaxAbs, MaxSideAbs: c.MaxSideAbs,
		Threat: uint32(c.Threat), DropoutRate: c.DropoutRate, CorruptRate: c.CorruptRate,
		Degree: uint32(c.Degree), Threshold: uint32(c.Threshold),
		SessionSeed: c.SessionSeed[:], Sequence: c.Sequence, MinInputs: uint32(c.MinInputs),
	}
	for _, id := range c.Identities {
		out.Identities = append(out.Identities, id)
	}
	return out
}

// configFromPB converts and checks a configuration received from the
// server. Every field is range-checked here, before secagg.NewParams sees
// it, so that no value from the wire overflows an int.
func configFromPB(m *pb.SessionConfig) (secagg.Config, error) {
	var c secagg.Config
	if m == nil {
		return c, errorf(secagg.ErrMalformed, "no session configuration")
	}
	if m.NumClients > secagg.MaxClients || m.Dim > secagg.MaxLength || m.SideDim > secagg.MaxLength ||
		m.Degree > secagg.MaxClients || m.Threshold > secagg.MaxClients || m.MinInputs > secagg.MaxClients ||
		m.Bits > 64 || m.Threat > math.MaxUint8 {
		return c, errorf(secagg.ErrMalformed, "session configuration out of range (clients %d, dim %d+%d, bits %d, degree %d, threshold %d, min inputs %d, threat %d)",
			m.NumClients, m.Dim, m.SideDim, m.Bits, m.Degree, m.Threshold, m.MinInputs, m.Threat)
	}
	if len(m.SessionSeed) != 32 {
		return c, errorf(secagg.ErrMalformed, "session seed of %d bytes, want 32", len(m.SessionSeed))
	}
	if len(m.Identities) > secagg.MaxClients {
		return c, errorf(secagg.ErrMalformed, "%d identities", len(m.Identities))
	}
	c = secagg.Config{
		NumClients: int(m.NumClients), Dim: int(m.Dim), SideDim: int(m.SideDim), Bits: uint(m.Bits),
		MaxAbs: m.MaxAbs, MaxSideAbs: m.MaxSideAbs, Threat: secagg.Threat(m.Threat),
		DropoutRate: m.DropoutRate, CorruptRate: m.CorruptRate,
		Degree: int(m.Degree), Threshold: int(m.Threshold), MinInputs: int(m.MinInputs), Sequence: m.Sequence,
	}
	copy(c.SessionSeed[:], m.SessionSeed)
	for i, id := range m.Identities {
		if len(id) != ed25519.PublicKeySize {
			return secagg.Config{}, errorf(secagg.ErrMalformed, "identity %d has %d bytes", i, len(id))
		}
		c.Identities = append(c.Identities, ed25519.PublicKey(id))
	}
	return c, nil
}

// ---- server side ----

// serverRound drives one secagg.Server through the stages of a round.
type serverRound struct {
	p *secagg.Params
	s *secagg.Server
}

func newServerRound(cfg secagg.Config) (*serverRound, error) {
	p, err := secagg.NewParams(cfg)
	if err != nil {
		return nil, err
	}
	s, err := secagg.NewServer(p)
	if err != nil {
		return nil, err
	}
	return &serverRound{p: p, s: s}, nil
}

func (r *serverRound) config() secagg.Config { return r.p.Config() }

// uploadBounds are the smallest and largest sizes of a masked-input
// upload: equal, the exact size of the round's encoding, since secagg's
// wire version 2 (whose decoder checks the layout again).
func (r *serverRound) uploadBounds() (uint64, uint64) {
	n := maskedInputSize(r.p)
	return n, n
}

// peekClient returns the client id in the header of a secagg encoding
// (offset 2, big-endian uint32), so that a message can be refused for the
// wrong identity before it is buffered or decoded.
func peekClient(payload []byte) (int, bool) {
	if len(payload) < 6 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(payload[2:6])), true
}

type wireMessage interface {
	UnmarshalBinary([]byte) error
}

// decodeFrom decodes payload into m and checks that it speaks for peer.
func decodeFrom(m wireMessage, client func() uint32, payload []byte, peer int) error {
	if id, ok := peekClient(payload); ok && id != peer {
		return errorf(ErrIdentity, "message for client %d on the channel of client %d", id, peer)
	}
	if err := m.UnmarshalBinary(payload); err != nil {
		return err
	}
	if int(client()) != peer {
		return errorf(ErrIdentity, "message for client %d on the channel of client %d", client(), peer)
	}
	return nil
}

// handle validates a client message of stage and hands it to the state
// machine. bound reports that the channel's certificate carries the
// peer's roster identity: the masked input is then handed over with the
// channel's identity, which skips verifying its signature (a SHA-256 pass
// over the vector); otherwise the signature is verified.
func (r *serverRound) handle(stage pb.Stage, peer int, bound bool, payload []byte) error {
	switch stage {
	case pb.Stage_STAGE_ADVERTISE:
		var m secagg.KeyAdvert
		if err := decodeFrom(&m, func() uint32 { return m.Client }, payload, peer); err != nil {
			return err
		}
		return r.s.HandleAdvert(&m)
	case pb.Stage_STAGE_SHARE_KEYS:
		var m secagg.ShareKeys
		if err := decodeFrom(&m, func() uint32 { return m.Client }, payload, peer); err != nil {
			return err
		}
		return r.s.HandleShareKeys(&m)
	case pb.Stage_STAGE_MASKED_INPUT:
		var m secagg.MaskedInput
		if err := decodeFrom(&m, func() uint32 { return m.Client }, payload, peer); err != nil {
			return err
		}
		if bound {
			return r.s.HandleMaskedInputFrom(peer, &m)
		}
		return r.s.HandleMaskedInput(&m)
	case pb.Stage_STAGE_CONSISTENCY:
		var m secagg.ConsistencyReply
		if err := decodeFrom(&m, func() uint32 { return m.Client }, payload, peer); err != nil {
			return err
		}
		return r.s.HandleConsistency(&m)
	case pb.Stage_STAGE_UNMASK:
		var m secagg.UnmaskResponse
		if err := decodeFrom(&m, func() uint32 { return m.Client }, payload, peer); err != nil {
			return err
		}
		return r.s.HandleUnmask(&m)
	}
	return errorf(ErrFrame, "no client message in stage %v", stage)
}

// closeStage ends stage and returns the server's message to each client
// that goes on, encoded, and the next stage. After STAGE_UNMASK it
// returns the result and no messages.
func (r *serverRound) closeStage(stage pb.Stage) (map[int][]byte, pb.Stage, *secagg.Result, error) {
	switch stage {
	case pb.Stage_STAGE_ADVERTISE:
		out, err := r.s.FinishAdvertise()
		enc, eerr := encodeAll(out, err)
		return enc, pb.Stage_STAGE_SHARE_KEYS, nil, eerr
	case pb.Stage_STAGE_SHARE_KEYS:
		out, err := r.s.FinishShareKeys()
		enc, eerr := encodeAll(out, err)
		return enc, pb.Stage_STAGE_MASKED_INPUT, nil, eerr
	case pb.Stage_STAGE_MASKED_INPUT:
		if err := r.s.FinishMaskedInput(); err != nil {
			return nil, 0, nil, err
		}
		if r.p.Config().Threat == secagg.Malicious {
			out, err := r.s.ConsistencyRequests()
			enc, eerr := encodeAll(out, err)
			return enc, pb.Stage_STAGE_CONSISTENCY, nil, eerr
		}
		out, err := r.s.UnmaskRequests()
		enc, eerr := encodeAll(out, err)
		return enc, pb.Stage_STAGE_UNMASK, nil, eerr
	case pb.Stage_STAGE_CONSISTENCY:
		if err := r.s.FinishConsistency(); err != nil {
			return nil, 0, nil, err
		}
		out, err := r.s.UnmaskRequests()
		enc, eerr := encodeAll(out, err)
		return enc, pb.Stage_STAGE_UNMASK, nil, eerr
	case pb.Stage_STAGE_UNMASK:
		res, err := r.s.Finish()
		return nil, pb.Stage_STAGE_UNSPECIFIED, res, err
	}
	return nil, 0, nil, errorf(ErrFrame, "stage %v cannot be closed", stage)
}

type binaryMarshaler interface{ MarshalBinary() ([]byte, error) }

func encodeAll[M binaryMarshaler](in map[int]M, err error) (map[int][]byte, error) {
	if err != nil {
		return nil, err
	}
	out := make(map[int][]byte, len(in))
	for id, m := range in {
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out[id] = b
	}
	return out, nil
}

// ---- client side ----

// clientRound drives one secagg.Client through a round.
type clientRound struct {
	p      *secagg.Params
	c      *secagg.Client
	threat secagg.Threat
}

// clientPolicy is what a client requires of a round, known outside the
// server: secagg checks the configuration against it (secagg.ClientPolicy)
// and records the round's Sequence in its store before the client sends
// anything.
type clientPolicy struct {
	roster      []ed25519.PublicKey
	identity    ed25519.PrivateKey
	sessionSeed func(round uint64) ([32]byte, error)
	sequences   secagg.SequenceStore
	threat      secagg.Threat // the weakest threat model accepted
	minInputs   int
	minThresh   int
}

// newClientRound checks cfg, the configuration the server proposes for
// round, against the client's policy and returns the state machine. A
// policy the client cannot build (no roster, seed source or identity for
// the malicious model) is an ErrConfig error; a session that violates the
// policy is secagg's ErrPolicy (or ErrReplay for a Sequence already used).
func newClientRound(cfg secagg.Config, id int, round uint64, pol *clientPolicy) (*clientRound, error) {
	sp := secagg.ClientPolicy{Threat: pol.threat, MinInputs: pol.minInputs, MinThreshold: pol.minThresh}
	if cfg.Threat == secagg.Malicious || pol.threat == secagg.Malicious {
		switch {
		case len(pol.roster) == 0:
			return nil, errorf(ErrConfig, "the malicious threat model needs ClientConfig.Roster, the identities known to the client from outside the server")
		case pol.sessionSeed == nil:
			return nil, errorf(ErrConfig, "the malicious threat model needs ClientConfig.SessionSeed, a seed source outside the server")
		case len(pol.identity) != ed25519.PrivateKeySize:
			return nil, errorf(ErrConfig, "the malicious threat model needs ClientConfig.Identity")
		}
	}
	// The semi-honest model trusts the server to follow the protocol: its
	// roster and seed are then taken as given (a client that requires the
	// malicious model refuses such a session through sp.Threat).
	if cfg.Threat == secagg.Malicious {
		if err := checkRoster(cfg.Identities, pol.roster); err != nil {
			return nil, err
		}
		sp.Roster = secagg.RosterDigest(pol.roster)
		seed, err := pol.sessionSeed(round)
		if err != nil {
			return nil, errorf(ErrConfig, "session seed of round %d: %v", round, err)
		}
		sp.SessionSeed = &seed
	}
	p, err := secagg.NewParams(cfg)
	if err != nil {
		return nil, err
	}
	c, err := secagg.NewClient(p, id, &secagg.ClientOptions{Identity: pol.identity, Sequences: pol.sequences, Policy: sp})
	if err != nil {
		return nil, err
	}
	return &clientRound{p: p, c: c, threat: cfg.Threat}, nil
}

// checkRoster names the first identity of the server's list that differs
// from the client's roster (compared in constant time). secagg checks the
// roster's digest again; this gives the clearer error.
func checkRoster(got, want []ed25519.PublicKey) error {
	if len(got) != len(want) {
		return errorf(secagg.ErrPolicy, "the server lists %d identities, the client's roster has %d", len(got), len(want))
	}
	for i := range want {
		if subtle.ConstantTimeCompare(got[i], want[i]) != 1 {
			return errorf(secagg.ErrPolicy, "the server's identity of client %d differs from the client's roster", i)
		}
	}
	return nil
}

func (r *clientRound) length() int { return r.p.Length() }

func (r *clientRound) advertise() ([]byte, error) {
	m, err := r.c.Advertise()
	if err != nil {
		return nil, err
	}
	return m.MarshalBinary()
}

// step takes the server's message that closed stage and returns the
// client's message for the next stage (which it returns too). input is
// called only when the masked input is due.
func (r *clientRound) step(stage pb.Stage, payload []byte, input func() ([]int64, error)) ([]byte, pb.Stage, error) {
	switch stage {
	case pb.Stage_STAGE_ADVERTISE:
		var m secagg.AdvertList
		if err := m.UnmarshalBinary(payload); err != nil {
			return nil, 0, err
		}
		out, err := r.c.ShareKeys(&m)
		return marshal(out, err, pb.Stage_STAGE_SHARE_KEYS)
	case pb.Stage_STAGE_SHARE_KEYS:
		var m secagg.ShareBundle
		if err := m.UnmarshalBinary(payload); err != nil {
			return nil, 0, err
		}
		x, err := input()
		if err != nil {
			return nil, 0, err
		}
		out, err := r.c.MaskInput(&m, x)
		return marshal(out, err, pb.Stage_STAGE_MASKED_INPUT)
	case pb.Stage_STAGE_MASKED_INPUT:
		if r.threat == secagg.Malicious {
			var m secagg.ConsistencyRequest
			if err := m.UnmarshalBinary(payload); err != nil {
				return nil, 0, err
			}
			out, err := r.c.Consistency(&m)
			return marshal(out, err, pb.Stage_STAGE_CONSISTENCY)
		}
		return r.unmask(payload)
	case pb.Stage_STAGE_CONSISTENCY:
		return r.unmask(payload)
	}
	return nil, 0, errorf(ErrFrame, "no client step after stage %v", stage)
}

func (r *clientRound) unmask(payload []byte) ([]byte, pb.Stage, error) {
	var m secagg.UnmaskRequest
	if err := m.UnmarshalBinary(payload); err != nil {
		return nil, 0, err
	}
	out, err := r.c.Unmask(&m)
	return marshal(out, err, pb.Stage_STAGE_UNMASK)
}

func marshal[M binaryMarshaler](m M, err error, next pb.Stage) ([]byte, pb.Stage, error) {
	if err != nil {
		return nil, 0, err
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, 0, fmt.Errorf("transport: cannot encode the %v message: %w", next, err)
	}
	return b, next, nil
}
