package secagg

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/privml/privml/internal/shamir"
)

// Wire format, version 2. Every message starts with a 38-byte header
//
//	offset 0   version, 1 byte (WireVersion)
//	offset 1   message type, 1 byte (one per message kind below)
//	offset 2   client id, uint32: the sender of a client message, the
//	           recipient of a server message
//	offset 6   binding, 32 bytes: the configuration digest in the
//	           AdvertiseKeys round, the session id afterwards
//
// followed by a body specific to the type. Integers are big-endian; lists
// are a uint32 count followed by their entries; masked vectors are
// bit-packed little-endian, B bits per element; signatures are a uint16
// length (0, or 64 for Ed25519) followed by their bytes. A decoder accepts
// exactly one encoding of each message (re-encoding a decoded message
// gives back the same bytes) and rejects trailing bytes.
//
// Version 2 added the Ed25519 signatures of ShareKeys (after the
// envelopes), MaskedInput (after the length, before the packed vector)
// and UnmaskResponse (after the key shares); version 1 messages are
// refused.

// WireVersion is the version byte of every message.
const WireVersion = 2

const headerLen = 38

// Message types.
const (
	typeKeyAdvert          = 1
	typeAdvertList         = 2
	typeShareKeys          = 3
	typeShareBundle        = 4
	typeMaskedInput        = 5
	typeConsistencyRequest = 6
	typeConsistencyReply   = 7
	typeUnmaskRequest      = 8
	typeUnmaskResponse     = 9
)

// Size limits enforced by the decoders, so that a hostile length field
// cannot make them allocate much.
const (
	maxCiphertext = 1024
	maxShareLen   = 6 + 8*shamir.MaxChunks
)

// KeyAdvert is a client's message in the AdvertiseKeys round: two fresh
// X25519 public keys and, in the malicious model, their Ed25519 signature
// under the client's long-term identity.
type KeyAdvert struct {
	Client    uint32
	Config    [32]byte // configuration digest
	CipherKey [32]byte // X25519 key for the share envelopes
	MaskKey   [32]byte // X25519 key for the pairwise masks
	Signature []byte   // empty, or ed25519.SignatureSize bytes
}

// AdvertList is the server's message to every client after AdvertiseKeys:
// the adverts of all clients it heard from, in increasing id order.
type AdvertList struct {
	Client  uint32 // recipient
	Config  [32]byte
	Adverts []KeyAdvert
}

// Envelope carries one client's two Shamir shares (of its mask key and of
// its self-mask seed) to one neighbour, sealed with ChaCha20-Poly1305 under
// a key agreed between them; the server only routes it.
type Envelope struct {
	From, To   uint32
	Ciphertext []byte
}

// ShareKeys is a client's message in the ShareKeys round: one envelope per
// neighbour, and a commitment to its self-mask seed. In the malicious
// model it is signed with the client's identity key.
type ShareKeys struct {
	Client     uint32
	Session    [32]byte
	Commitment [32]byte
	Envelopes  []Envelope // increasing To
	Signature  []byte     // empty, or ed25519.SignatureSize bytes
}

// ShareBundle is the server's message to one client after ShareKeys: the
// envelopes addressed to it, in increasing From order.
type ShareBundle struct {
	Client    uint32 // recipient
	Session   [32]byte
	Envelopes []Envelope
}

// MaskedInput is a client's masked input vector, bit-packed. In the
// malicious model it is signed with the client's identity key.
type MaskedInput struct {
	Client    uint32
	Session   [32]byte
	Bits      uint8
	Length    uint32
	Signature []byte // empty, or ed25519.SignatureSize bytes
	Packed    []byte // packedLen(Bits, Length) bytes
}

// ConsistencyRequest is the server's message to every survivor in the
// malicious model: the set U3 of clients whose masked input it received.
type ConsistencyRequest struct {
	Client    uint32 // recipient
	Session   [32]byte
	Survivors []uint32 // increasing
}

// ConsistencyReply is a client's Ed25519 signature of (session, U3).
type ConsistencyReply struct {
	Client    uint32
	Session   [32]byte
	Signature []byte
}

// SignedSurvivors is one client's consistency signature, forwarded by the
// server.
type SignedSurvivors struct {
	Client    uint32
	Signature []byte
}

// UnmaskRequest is the server's message to one client in the Unmasking
// round: which of its neighbours are alive (it must reveal their
// self-mask shares) and which dropped after sharing their keys (it must
// reveal their mask-key shares). In the malicious model it also carries U3
// and the neighbours' signatures of it.
type UnmaskRequest struct {
	Client     uint32 // recipient
	Session    [32]byte
	Alive      []uint32
	Dropped    []uint32
	Survivors  []uint32
	Signatures []SignedSurvivors
}

// RevealedShare is one share revealed at unmasking.
type RevealedShare struct {
	Owner uint32
	Share shamir.Share
}

// UnmaskResponse is a client's answer: self-mask shares of the alive
// neighbours (and its own) and mask-key shares of the dropped ones. In the
// malicious model it is signed with the client's identity key.
type UnmaskResponse struct {
	Client     uint32
	Session    [32]byte
	SelfShares []RevealedShare
	KeyShares  []RevealedShare
	Signature  []byte // empty, or ed25519.SignatureSize bytes
}

// ---- encoding helpers ----

func header(b []byte, typ byte, client uint32, bind *[32]byte) []byte {
	b = append(b, WireVersion, typ)
	b = binary.BigEndian.AppendUint32(b, client)
	return append(b, bind[:]...)
}

func appendIDs(b []byte, ids []uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	return b
}

func appendBytes16(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// decoder reads a message body; the first error sticks.
type decoder struct {
	b      []byte
	err    string
	round  Round
	client int
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == "" {
		d.err = fmt.Sprintf(format, args...)
	}
	d.b = nil
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != "" {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail("truncated %s: need %d bytes, have %d", what, n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(what string) uint8 {
	v := d.take(1, what)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) u16(what string) uint16 {
	v := d.take(2, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (d *decoder) u32(what string) uint32 {
	v := d.take(4, what)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (d *decoder) arr32(dst *[32]byte, what string) {
	if v := d.take(32, what); v != nil {
		copy(dst[:], v)
	}
}

// count reads a list length and checks that at least min bytes per entry
// remain.
func (d *decoder) count(what string, minEntry int) int {
	n := d.u32(what + " count")
	if d.err != "" {
		return 0
	}
	if n > MaxClients || int(n)*minEntry > len(d.b) {
		d.fail("%s count %d exceeds the message", what, n)
		return 0
	}
	return int(n)
}

func (d *decoder) ids(what string) []uint32 {
	n := d.count(what, 4)
	if n == 0 {
		return nil
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = d.u32(what)
	}
	return out
}

func (d *decoder) bytes16(what string, maxLen int) []byte {
	n := int(d.u16(what + " length"))
	if d.err == "" && n > maxLen {
		d.fail("%s of %d bytes exceeds %d", what, n, maxLen)
		return nil
	}
	v := d.take(n, what)
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) signature(what string) []byte {
	v := d.bytes16(what, ed25519.SignatureSize)
	if d.err == "" && len(v) != 0 && len(v) != ed25519.SignatureSize {
		d.fail("%s has %d bytes, want 0 or %d", what, len(v), ed25519.SignatureSize)
	}
	if len(v) == 0 {
		return nil
	}
	return v
}

// open checks the header of data and returns a decoder for the body.
func open(data []byte, typ byte, r Round, fromServer bool, client *uint32, bind *[32]byte) *decoder {
	d := &decoder{b: data, round: r, client: ServerID}
	if len(data) < headerLen {
		d.fail("message of %d bytes is shorter than the %d-byte header", len(data), headerLen)
		return d
	}
	*client = binary.BigEndian.Uint32(data[2:6])
	if !fromServer {
		d.client = int(*client)
		if *client >= MaxClients {
			d.client = ServerID
			d.fail("client id %d out of range", *client)
			return d
		}
	}
	if data[0] != WireVersion {
		d.fail("wire version %d, want %d", data[0], WireVersion)
		return d
	}
	if data[1] != typ {
		d.fail("message type %d, want %d", data[1], typ)
		return d
	}
	copy(bind[:], data[6:headerLen])
	d.b = data[headerLen:]
	return d
}

func (d *decoder) close() error {
	if d.err == "" && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != "" {
		return errorf(d.client, d.round, ErrMalformed, "%s", d.err)
	}
	return nil
}

// ---- KeyAdvert ----

func (a *KeyAdvert) appendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, a.Client)
	b = append(b, a.CipherKey[:]...)
	b = append(b, a.MaskKey[:]...)
	return appendBytes16(b, a.Signature)
}

func (d *decoder) advertBody(a *KeyAdvert) {
	a.Client = d.u32("advert client")
	d.arr32(&a.CipherKey, "cipher key")
	d.arr32(&a.MaskKey, "mask key")
	a.Signature = d.signature("advert signature")
	if d.err == "" && a.Client >= MaxClients {
		d.fail("advert client id %d out of range", a.Client)
	}
}

// Round returns RoundAdvertise.
func (a *KeyAdvert) Round() Round { return RoundAdvertise }

// MarshalBinary encodes a.
func (a *KeyAdvert) MarshalBinary() ([]byte, error) {
	b := header(nil, typeKeyAdvert, a.Client, &a.Config)
	b = append(b, a.CipherKey[:]...)
	b = append(b, a.MaskKey[:]...)
	return appendBytes16(b, a.Signature), nil
}

// UnmarshalBinary decodes a KeyAdvert, checking its structure.
func (a *KeyAdvert) UnmarshalBinary(data []byte) error {
	var m KeyAdvert
	d := open(data, typeKeyAdvert, RoundAdvertise, false, &m.Client, &m.Config)
	d.arr32(&m.CipherKey, "cipher key")
	d.arr32(&m.MaskKey, "mask key")
	m.Signature = d.signature("advert signature")
	if err := d.close(); err != nil {
		return err
	}
	*a = m
	return nil
}

// ---- AdvertList ----

// Round returns RoundAdvertise.
func (l *AdvertList) Round() Round { return RoundAdvertise }

// MarshalBinary encodes l.
func (l *AdvertList) MarshalBinary() ([]byte, error) {
	b := header(nil, typeAdvertList, l.Client, &l.Config)
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Adverts)))
	for i := range l.Adverts {
		b = l.Adverts[i].appendBody(b)
	}
	return b, nil
}

// UnmarshalBinary decodes an AdvertList. The Config of each advert is set
// to the list's.
func (l *AdvertList) UnmarshalBinary(data []byte) error {
	var m AdvertList
	d := open(data, typeAdvertList, RoundAdvertise, true, &m.Client, &m.Config)
	n := d.count("adverts", 4+64+2)
	if n > 0 {
		m.Adverts = make([]KeyAdvert, n)
		for i := range m.Adverts {
			d.advertBody(&m.Adverts[i])
			m.Adverts[i].Config = m.Config
		}
	}
	if err := d.close(); err != nil {
		return err
	}
	*l = m
	return nil
}

// ---- envelopes ----

func appendEnvelopes(b []byte, es []Envelope) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(es)))
	for _, e := range es {
		b = binary.BigEndian.AppendUint32(b, e.From)
		b = binary.BigEndian.AppendUint32(b, e.To)
		b = appendBytes16(b, e.Ciphertext)
	}
	return b
}

func (d *decoder) envelopes() []Envelope {
	n := d.count("envelopes", 10)
	if n == 0 {
		return nil
	}
	out := make([]Envelope, n)
	for i := range out {
		out[i].From = d.u32("envelope sender")
		out[i].To = d.u32("envelope recipient")
		out[i].Ciphertext = d.bytes16("envelope", maxCiphertext)
	}
	return out
}

// Round returns RoundShareKeys.
func (m *ShareKeys) Round() Round { return RoundShareKeys }

// MarshalBinary encodes m.
func (m *ShareKeys) MarshalBinary() ([]byte, error) {
	return appendBytes16(m.appendUnsigned(nil), m.Signature), nil
}

// appendUnsigned appends the encoding of m up to its signature.
func (m *ShareKeys) appendUnsigned(b []byte) []byte {
	b = header(b, typeShareKeys, m.Client, &m.Session)
	b = append(b, m.Commitment[:]...)
	return appendEnvelopes(b, m.Envelopes)
}

// UnmarshalBinary decodes a ShareKeys message.
func (m *ShareKeys) UnmarshalBinary(data []byte) error {
	var v ShareKeys
	d := open(data, typeShareKeys, RoundShareKeys, false, &v.Client, &v.Session)
	d.arr32(&v.Commitment, "commitment")
	v.Envelopes = d.envelopes()
	v.Signature = d.signature("share-keys signature")
	if err := d.close(); err != nil {
		return err
	}
	*m = v
	return nil
}

// Round returns RoundShareKeys.
func (m *ShareBundle) Round() Round { return RoundShareKeys }

// MarshalBinary encodes m.
func (m *ShareBundle) MarshalBinary() ([]byte, error) {
	b := header(nil, typeShareBundle, m.Client, &m.Session)
	return appendEnvelopes(b, m.Envelopes), nil
}

// UnmarshalBinary decodes a ShareBundle.
func (m *ShareBundle) UnmarshalBinary(data []byte) error {
	var v ShareBundle
	d := open(data, typeShareBundle, RoundShareKeys, true, &v.Client, &v.Session)
	v.Envelopes = d.envelopes()
	if err := d.close(); err != nil {
		return err
	}
	*m = v
	return nil
}

// ---- MaskedInput ----

// Round returns RoundMaskedInput.
func (m *MaskedInput) Round() Round { return RoundMaskedInput }

// MarshalBinary encodes m.
func (m *MaskedInput) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, headerLen+7+len(m.Signature)+len(m.Packed))
	b = m.appendPrefix(b)
	b = appendBytes16(b, m.Signature)
	return append(b, m.Packed...), nil
}

// appendPrefix appends the header, bits and length of m.
func (m *MaskedInput) appendPrefix(b []byte) []byte {
	b = header(b, typeMaskedInput, m.Client, &m.Session)
	b = append(b, m.Bits)
	return binary.BigEndian.AppendUint32(b, m.Length)
}

// UnmarshalBinary decodes a MaskedInput, checking that the packed vector
// has exactly the length its header announces. Packed aliases data.
func (m *MaskedInput) UnmarshalBinary(data []byte) error {
	var v MaskedInput
	d := open(data, typeMaskedInput, RoundMaskedInput, false, &v.Client, &v.Session)
	v.Bits = d.u8("bits")
	v.Length = d.u32("length")
	if d.err == "" && (v.Bits < MinBits || v.Bits > MaxBits) {
		d.fail("bits %d out of range", v.Bits)
	}
	if d.err == "" && (v.Length < 1 || v.Length > MaxLength) {
		d.fail("length %d out of range", v.Length)
	}
	v.Signature = d.signature("masked-input signature")
	if d.err == "" {
		v.Packed = d.take(packedLen(uint(v.Bits), int(v.Length)), "packed vector")
	}
	if d.err == "" {
		// Padding bits of the last byte must be zero (canonical encoding).
		if r := (int(v.Length) * int(v.Bits)) % 8; r != 0 && v.Packed[len(v.Packed)-1]>>r != 0 {
			d.fail("non-zero padding bits")
		}
	}
	if err := d.close(); err != nil {
		return err
	}
	*m = v
	return nil
}

// ---- consistency ----

// Round returns RoundConsistency.
func (m *ConsistencyRequest) Round() Round { return RoundConsistency }

// MarshalBinary encodes m.
func (m *ConsistencyRequest) MarshalBinary() ([]byte, error) {
	b := header(nil, typeConsistencyRequest, m.Client, &m.Session)
	return appendIDs(b, m.Survivors), nil
}

// UnmarshalBinary decodes a ConsistencyRequest.
func (m *ConsistencyRequest) UnmarshalBinary(data []byte) error {
	var v ConsistencyRequest
	d := open(data, typeConsistencyRequest, RoundConsistency, true, &v.Client, &v.Session)
	v.Survivors = d.ids("survivors")
	if err := d.close(); err != nil {
		return err
	}
	*m = v
	return nil
}

// Round returns RoundConsistency.
func (m *ConsistencyReply) Round() Round { return RoundConsistency }

// MarshalBinary encodes m.
func (m *ConsistencyReply) MarshalBinary() ([]byte, error) {
	b := header(nil, typeConsistencyReply, m.Client, &m.Session)
	return appendBytes16(b, m.Signature), nil
}

// UnmarshalBinary decodes a ConsistencyReply.
func (m *ConsistencyReply) UnmarshalBinary(data []byte) error {
	var v ConsistencyReply
	d := open(data, typeConsistencyReply, RoundConsistency, false, &v.Client, &v.Session)
	v.Signature = d.signature("consistency signature")
	if err := d.close(); err != nil {
		return err
	}
	*m = v
	return nil
}

// ---- unmasking ----

// Round returns RoundUnmask.
func (m *UnmaskRequest) Round() Round { return RoundUnmask }

// MarshalBinary encodes m.
func (m *UnmaskRequest) MarshalBinary() ([]byte, error) {
	b := header(nil, typeUnmaskRequest, m.Client, &m.Session)
	b = appendIDs(b, m.Alive)
	b = appendIDs(b, m.Dropped)
	b = appendIDs(b, m.Survivors)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Signatures)))
	for _, s := range m.Signatures {
		b = binary.BigEndian.AppendUint32(b, s.Client)
		b = appendBytes16(b, s.Signature)
	}
	return b, nil
}

// UnmarshalBinary decodes an UnmaskRequest.
func (m *UnmaskRequest) UnmarshalBinary(data []byte) error {
	var v UnmaskRequest
	d := open(data, typeUnmaskRequest, RoundUnmask, true, &v.Client, &v.Session)
	v.Alive = d.ids("alive")
	v.Dropped = d.ids("dropped")
	v.Survivors = d.ids("survivors")
	if n := d.count("signatures", 6); n > 0 {
		v.Signatures = make([]SignedSurvivors, n)
		for i := range v.Signatures {
			v.Signatures[i].Client = d.u32("signer")
			v.Signatures[i].Signature = d.signature("consistency signature")
		}
	}
	if err := d.close(); err != nil {
		return err
	}
	*m = v
	return nil
}

func appendShares(b []byte, rs []RevealedShare) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, uint32(len(rs)))
	for _, r := range rs {
		b = binary.BigEndian.AppendUint32(b, r.Owner)
		n := r.Share.BinarySize()
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		var err error
		if b, err = r.Share.AppendBinary(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (d *decoder) shares(what string) []RevealedShare {
	n := d.count(what, 6)
	if n == 0 {
		return nil
	}
	out := make([]RevealedShare, n)
	for i := range out {
		out[i].Owner = d.u32(what + " owner")
		raw := d.bytes16(what, maxShareLen)
		if d.err != "" {
			return nil
		}
		if err := out[i].Share.UnmarshalBinary(raw); err != nil {
			d.fail("%s of client %d: %v", what, out[i].Owner, err)
			return nil
		}
	}
	return out
}

// Round returns RoundUnmask.
func (m *UnmaskResponse) Round() Round { return RoundUnmask }

// MarshalBinary encodes m. It fails only if a share is invalid.
func (m *UnmaskResponse) MarshalBinary() ([]byte, error) {
	b, err := m.appendUnsigned(nil)
	if err != nil {
		return nil, err
	}
	return appendBytes16(b, m.Signature), nil
}

// appendUnsigned appends the encoding of m up to its signature.
func (m *UnmaskResponse) appendUnsigned(b []byte) ([]byte, error) {
	b = header(b, typeUnmaskResponse, m.Client, &m.Session)
	b, err := appendShares(b, m.SelfShares)
	if err != nil {
		return nil, err
	}
	return appendShares(b, m.KeyShares)
}

// UnmarshalBinary decodes an UnmaskResponse.
func (m *UnmaskResponse) UnmarshalBinary(data []byte) error {
	var v UnmaskResponse
	d := open(data, typeUnmaskResponse, RoundUnmask, false, &v.Client, &v.Session)
	v.SelfShares = d.shares("self-mask share")
	v.KeyShares = d.shares("mask-key share")
	v.Signature = d.signature("unmask-response signature")
	if err := d.close(); err != nil {
		return err
	}
	*m = v
	return nil
}
