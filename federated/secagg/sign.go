package secagg

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
)

// Labels of the signatures added in wire version 2: in the malicious
// model every client message is signed with the client's long-term
// Ed25519 identity, so that no one (another client, a network attacker,
// or a server replaying into its own state) can relabel, alter or forge
// it. Each signature covers the SHA-256 of the message's encoding up to
// the signature field, which includes the version, type, sender id and
// session id of the header.
const (
	labelShareKeysSig = "privml/secagg/v2/share-keys-signature"
	labelMaskedSig    = "privml/secagg/v2/masked-input-signature"
	labelUnmaskSig    = "privml/secagg/v2/unmask-response-signature"
)

func sigInput(label string, digest *[32]byte) []byte {
	m := make([]byte, 0, len(label)+1+32)
	m = append(m, label...)
	m = append(m, 0)
	return append(m, digest[:]...)
}

func (m *ShareKeys) sigInput() []byte {
	d := sha256.Sum256(m.appendUnsigned(nil))
	return sigInput(labelShareKeysSig, &d)
}

// maskedLeafBytes is the size of the pieces of a packed vector that
// [MaskedInput.sigInput] hashes separately, on every core.
const maskedLeafBytes = 1 << 20

// sigInput hashes the packed vector in place as a two-level hash tree:
// each piece of maskedLeafBytes is hashed, labelled with its index, on
// every core (workers), and the signed digest is the SHA-256 of the
// message's prefix, the vector's length and the pieces' hashes in order.
// With fixed-size pieces, their count and the length bound into the root,
// a collision of the tree is a collision of SHA-256. For a vector of a
// million 32-bit elements this is one parallel pass of SHA-256 over 4 MB,
// the price of authenticating it.
func (m *MaskedInput) sigInput() []byte {
	n := (len(m.Packed) + maskedLeafBytes - 1) / maskedLeafBytes
	leaves := make([][32]byte, n)
	parallel(n, func(i int) {
		h := sha256.New()
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		h.Write([]byte("privml/secagg/v2/masked-input-piece\x00"))
		h.Write(b[:])
		h.Write(m.Packed[i*maskedLeafBytes : min(len(m.Packed), (i+1)*maskedLeafBytes)])
		h.Sum(leaves[i][:0])
	})
	h := sha256.New()
	h.Write(m.appendPrefix(make([]byte, 0, headerLen+5)))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(m.Packed)))
	h.Write(b[:])
	for i := range leaves {
		h.Write(leaves[i][:])
	}
	var d [32]byte
	h.Sum(d[:0])
	return sigInput(labelMaskedSig, &d)
}

func (m *UnmaskResponse) sigInput() ([]byte, error) {
	b, err := m.appendUnsigned(nil)
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(b)
	return sigInput(labelUnmaskSig, &d), nil
}

// verifySig checks sig under pub; an empty or wrongly sized signature
// fails.
func verifySig(pub ed25519.PublicKey, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
}

// checkSignature verifies, in the malicious model, the signature of a
// client message against the sender's identity, and in the semi-honest
// model that there is none.
func (s *Server) checkSignature(r Round, id int, what string, msg func() ([]byte, error), sig []byte) error {
	if s.p.cfg.Threat != Malicious {
		if len(sig) != 0 {
			return errorf(id, r, ErrProtocol, "signed %s of client %d in the semi-honest model", what, id)
		}
		return nil
	}
	in, err := msg()
	if err != nil {
		return errorf(id, r, ErrMalformed, "%s of client %d: %v", what, id, err)
	}
	if !verifySig(s.p.cfg.Identities[id], in, sig) {
		return errorf(id, r, ErrAuth, "%s of client %d is not signed by its identity key", what, id)
	}
	return nil
}
