package secagg

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// Domain-separation labels. Every key derived in a session is
// HKDF-SHA256(secret, salt = session id, info = label || ids), so keys of
// different purposes, sessions or client pairs are independent.
const (
	labelMask     = "privml/secagg/v1/pairwise-mask"
	labelEnvelope = "privml/secagg/v1/share-envelope"
	labelCommit   = "privml/secagg/v1/self-mask-commitment"
	labelSession  = "privml/secagg/v1/session"
	labelAdvert   = "privml/secagg/v1/advert-signature"
	labelConsist  = "privml/secagg/v1/consistency-signature"
)

// newX25519 draws a fresh X25519 private key from rand. The key is derived
// from 32 bytes read from rand (which is how an injected test source makes
// runs reproducible); the buffer is wiped.
func newX25519(rand io.Reader) (*ecdh.PrivateKey, error) {
	var b [32]byte
	defer clear(b[:])
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRandom, err)
	}
	return ecdh.X25519().NewPrivateKey(b[:])
}

// Why an advertised X25519 key is refused. X25519 (RFC 7748) ignores bit
// 255 of a public key and reduces it modulo p = 2^255-19, so every key has
// several encodings; and a point of small order (dividing 8) makes every
// agreement with it all-zero, which crypto/ecdh refuses. A peer advertising
// either would defeat the byte-wise check that keys are fresh, or make
// every honest neighbour's agreement fail and abort the round.
var (
	errKeyNotCanonical = errors.New("X25519 public key is not canonical (bit 255 set or value >= 2^255-19)")
	errKeyLowOrder     = errors.New("X25519 public key is a point of small order")
)

// lowOrder holds the canonical encodings of the u-coordinates of the
// points of order dividing 8, on the curve or its twist, whose torsion
// subgroups are Z/8 and Z/4 (RFC 7748; the list libsodium's
// has_small_order checks): 0 (the point of order 2), 1 and p-1 (order 4,
// one on the curve and one on the twist), and the two u-coordinates of the
// four points of order 8. An agreement with any of them is all-zero, and
// with any other canonical key it is not; comparing with this list costs
// nothing next to the X25519 scalar multiplication that would show it.
var lowOrder = [5][32]byte{
	{},
	{1},
	{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
		0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
	{0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
		0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}

// isCanonicalX25519 reports whether pub is the unique encoding of its
// u-coordinate: bit 255 clear and value below p = 2^255-19 (little endian).
func isCanonicalX25519(pub *[32]byte) bool {
	if pub[31]&0x80 != 0 {
		return false
	}
	if pub[31] != 0x7f || pub[0] < 0xed {
		return true
	}
	for _, b := range pub[1:31] {
		if b != 0xff {
			return true
		}
	}
	return false // p <= value < 2^255
}

// checkPublicKey reports why an advertised X25519 public key must be
// refused, or nil: it must be canonical (so that comparing bytes compares
// keys) and not of small order (so that agreements with it succeed).
func checkPublicKey(pub *[32]byte) error {
	if !isCanonicalX25519(pub) {
		return errKeyNotCanonical
	}
	low := 0
	for i := range lowOrder {
		low |= subtle.ConstantTimeCompare(pub[:], lowOrder[i][:])
	}
	if low == 1 {
		return errKeyLowOrder
	}
	return nil
}

// canonicalX25519 returns the canonical encoding of the u-coordinate that
// X25519 reads from pub: bit 255 cleared and the value reduced modulo p.
func canonicalX25519(pub [32]byte) [32]byte {
	pub[31] &= 0x7f
	if isCanonicalX25519(&pub) {
		return pub
	}
	// p <= value < 2^255: subtract p, that is add 19 and clear bit 255
	// (the value is at most 2^255-1, so value-p is at most 18).
	v := uint(pub[0]) + 19
	pub[0] = byte(v)
	carry := v >> 8
	for i := 1; i < 32 && carry != 0; i++ {
		v = uint(pub[i]) + carry
		pub[i] = byte(v)
		carry = v >> 8
	}
	pub[31] &= 0x7f
	return pub
}

func idInfo(label string, a, b int) []byte {
	info := make([]byte, 0, len(label)+9)
	info = append(info, label...)
	info = append(info, 0)
	info = binary.BigEndian.AppendUint32(info, uint32(a))
	info = binary.BigEndian.AppendUint32(info, uint32(b))
	return info
}

// agree runs X25519 between priv and the peer key pub and derives a 32-byte
// key with HKDF-SHA256. The shared secret is wiped.
func agree(priv *ecdh.PrivateKey, pub []byte, session *[32]byte, info []byte) ([32]byte, error) {
	shared, err := sharedSecret(priv, pub)
	if err != nil {
		return [32]byte{}, err
	}
	defer clear(shared)
	return deriveKey(shared, session, info)
}

// sharedSecret runs X25519; it fails on low-order points (all-zero output).
func sharedSecret(priv *ecdh.PrivateKey, pub []byte) ([]byte, error) {
	pk, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return priv.ECDH(pk)
}

// deriveKey is HKDF-SHA256(shared, salt = session, info), 32 bytes.
func deriveKey(shared []byte, session *[32]byte, info []byte) ([32]byte, error) {
	var out [32]byte
	k, err := hkdf.Key(sha256.New, shared, session[:], string(info), 32)
	if err != nil {
		return out, err
	}
	copy(out[:], k)
	clear(k)
	return out, nil
}

// maskSeed derives the pairwise mask seed of clients i and j; it is the
// same from either side.
func maskSeed(priv *ecdh.PrivateKey, peerPub []byte, session *[32]byte, i, j int) ([32]byte, error) {
	return agree(priv, peerPub, session, idInfo(labelMask, min(i, j), max(i, j)))
}

// envelopeKeys derives, from one X25519 agreement between our cipher key
// and a peer's, the keys of the share envelopes in both directions: from
// self to peer (to seal) and from peer to self (to open). Each direction of
// each pair of a session has its own key and a key seals one message, so
// the all-zero nonce never repeats under a key.
func envelopeKeys(priv *ecdh.PrivateKey, peerPub []byte, session *[32]byte, self, peer int) (seal, open [32]byte, err error) {
	shared, err := sharedSecret(priv, peerPub)
	if err != nil {
		return seal, open, err
	}
	defer clear(shared)
	if seal, err = deriveKey(shared, session, idInfo(labelEnvelope, self, peer)); err != nil {
		return seal, open, err
	}
	open, err = deriveKey(shared, session, idInfo(labelEnvelope, peer, self))
	return seal, open, err
}

// envelopeAEAD returns the ChaCha20-Poly1305 instance keyed by key.
func envelopeAEAD(key *[32]byte) (aeadSealer, error) {
	return chacha20poly1305.New(key[:])
}

type aeadSealer interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

var zeroNonce [chacha20poly1305.NonceSize]byte

func envelopeAD(session *[32]byte, from, to int) []byte {
	ad := make([]byte, 0, 32+9)
	ad = append(ad, session[:]...)
	ad = append(ad, byte(RoundShareKeys))
	ad = binary.BigEndian.AppendUint32(ad, uint32(from))
	ad = binary.BigEndian.AppendUint32(ad, uint32(to))
	return ad
}

// selfMaskCommitment binds a client to its self-mask seed so that the
// server can tell a reconstruction from corrupted shares; the seed is 256
// uniformly random bits, so the hash reveals nothing about it.
func selfMaskCommitment(session *[32]byte, id int, seed *[32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelCommit))
	h.Write([]byte{0})
	h.Write(session[:])
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(id))
	h.Write(b[:])
	h.Write(seed[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// sessionID is the hash of the configuration digest and of every advert
// the server forwarded, in order. Two clients shown different advert lists
// get different session ids, and every later message and envelope is bound
// to it.
func sessionID(digest *[32]byte, adverts []KeyAdvert) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelSession))
	h.Write([]byte{0})
	h.Write(digest[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(adverts)))
	h.Write(b[:])
	for i := range adverts {
		h.Write(adverts[i].appendBody(nil))
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// advertSigInput is what a client signs with its long-term identity key in
// the malicious model: the configuration digest, its id and both public
// keys.
func advertSigInput(a *KeyAdvert) []byte {
	m := make([]byte, 0, len(labelAdvert)+1+32+4+64)
	m = append(m, labelAdvert...)
	m = append(m, 0)
	m = append(m, a.Config[:]...)
	m = binary.BigEndian.AppendUint32(m, a.Client)
	m = append(m, a.CipherKey[:]...)
	m = append(m, a.MaskKey[:]...)
	return m
}

// consistencySigInput is what a client signs in the consistency check: the
// session id and the survivor set U3.
func consistencySigInput(session *[32]byte, survivors []uint32) []byte {
	m := make([]byte, 0, len(labelConsist)+1+32+4+4*len(survivors))
	m = append(m, labelConsist...)
	m = append(m, 0)
	m = append(m, session[:]...)
	m = binary.BigEndian.AppendUint32(m, uint32(len(survivors)))
	for _, id := range survivors {
		m = binary.BigEndian.AppendUint32(m, id)
	}
	return m
}
