package secagg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

type wire interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// transcript runs a small malicious-model session and returns one encoded
// message of each kind, to seed the fuzzers and the round-trip tests.
func transcript(t testing.TB) map[string][]byte {
	t.Helper()
	m, _ := transcriptHash(t)
	return m
}

// transcriptHash also returns the SHA-256 of every message of the session,
// in the order sent.
func transcriptHash(t testing.TB) (map[string][]byte, [32]byte) {
	t.Helper()
	h := sha256.New()
	const n = 5
	rnd := detRand("transcript")
	pub, priv := testIdentities(t, n)
	p, err := NewParams(Config{NumClients: n, Dim: 5, SideDim: 1, Bits: 13, MaxAbs: 10, MaxSideAbs: 3, Threat: Malicious, Identities: pub})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := NewServer(p)
	out := map[string][]byte{}
	enc := func(name string, m wire) {
		if _, ok := out[name]; ok {
			return
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	encAll := func(name string, m wire) {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
		enc(name, m)
	}
	cs := make([]*Client, n)
	for i := range cs {
		cs[i], err = NewClient(p, i, maliciousOpts(p, priv[i], rnd))
		if err != nil {
			t.Fatal(err)
		}
		a, err := cs[i].Advertise()
		if err != nil {
			t.Fatal(err)
		}
		encAll("KeyAdvert", a)
		must(t, srv.HandleAdvert(a))
	}
	lists, err := srv.FinishAdvertise()
	must(t, err)
	encAll("AdvertList", lists[0])
	for i, c := range cs {
		m, err := c.ShareKeys(lists[i])
		must(t, err)
		encAll("ShareKeys", m)
		must(t, srv.HandleShareKeys(m))
	}
	bundles, err := srv.FinishShareKeys()
	must(t, err)
	encAll("ShareBundle", bundles[0])
	for i, c := range cs {
		x := make([]int64, p.Length())
		x[0] = int64(i)
		m, err := c.MaskInput(bundles[i], x)
		must(t, err)
		encAll("MaskedInput", m)
		must(t, srv.HandleMaskedInput(m))
	}
	must(t, srv.FinishMaskedInput())
	creqs, err := srv.ConsistencyRequests()
	must(t, err)
	encAll("ConsistencyRequest", creqs[0])
	for i, c := range cs {
		m, err := c.Consistency(creqs[i])
		must(t, err)
		encAll("ConsistencyReply", m)
		must(t, srv.HandleConsistency(m))
	}
	must(t, srv.FinishConsistency())
	ureqs, err := srv.UnmaskRequests()
	must(t, err)
	encAll("UnmaskRequest", ureqs[0])
	for i, c := range cs {
		m, err := c.Unmask(ureqs[i])
		must(t, err)
		encAll("UnmaskResponse", m)
		must(t, srv.HandleUnmask(m))
	}
	res, err := srv.Finish()
	must(t, err)
	if res.Sum[0] != 0+1+2+3+4 {
		t.Fatalf("transcript sum = %d", res.Sum[0])
	}
	var d [32]byte
	h.Sum(d[:0])
	return out, d
}

// TestWireTranscriptKAT pins wire format v2 and every derivation behind it
// (key generation from the randomness source, HKDF labels, Shamir sharing,
// envelope sealing, AES-CTR masks, bit packing, signatures): a seeded
// malicious-model session must produce exactly the same bytes. Change the
// constant only together with WireVersion or a documented change of a
// derivation. (v2: message signatures, MinInputs in the configuration
// digest; then the masked input's signed digest became a two-level hash
// tree over 1 MiB pieces, hashed on every core.)
func TestWireTranscriptKAT(t *testing.T) {
	_, d := transcriptHash(t)
	const want = "9d4da3096f765e9bdec4ccd1b8468821ca44f50e6e1702fb4be1f1f5b27a5d02"
	if got := hex.EncodeToString(d[:]); got != want {
		t.Fatalf("transcript hash = %s, want %s", got, want)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newByName(name string) wire {
	switch name {
	case "KeyAdvert":
		return new(KeyAdvert)
	case "AdvertList":
		return new(AdvertList)
	case "ShareKeys":
		return new(ShareKeys)
	case "ShareBundle":
		return new(ShareBundle)
	case "MaskedInput":
		return new(MaskedInput)
	case "ConsistencyRequest":
		return new(ConsistencyRequest)
	case "ConsistencyReply":
		return new(ConsistencyReply)
	case "UnmaskRequest":
		return new(UnmaskRequest)
	case "UnmaskResponse":
		return new(UnmaskResponse)
	}
	panic(name)
}

var messageNames = []string{"KeyAdvert", "AdvertList", "ShareKeys", "ShareBundle", "MaskedInput",
	"ConsistencyRequest", "ConsistencyReply", "UnmaskRequest", "UnmaskResponse"}

func TestMessagesRoundTripAndRejectCorruption(t *testing.T) {
	tr := transcript(t)
	for _, name := range messageNames {
		t.Run(name, func(t *testing.T) {
			b := tr[name]
			m := newByName(name)
			must(t, m.UnmarshalBinary(b))
			b2, err := m.MarshalBinary()
			must(t, err)
			if !bytes.Equal(b, b2) {
				t.Fatal("decode then encode changed the bytes")
			}
			// Every truncation is rejected with ErrMalformed.
			for cut := range len(b) {
				err := newByName(name).UnmarshalBinary(b[:cut])
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("truncated to %d of %d bytes: err = %v", cut, len(b), err)
				}
			}
			// Trailing bytes, a wrong version and a wrong type are rejected.
			// Version 1 (before the message signatures) is refused too.
			for _, bad := range [][]byte{append(bytes.Clone(b), 0), append([]byte{WireVersion + 1}, b[1:]...),
				append([]byte{WireVersion - 1}, b[1:]...), append([]byte{WireVersion, b[1] ^ 0x0f}, b[2:]...)} {
				if err := newByName(name).UnmarshalBinary(bad); !errors.Is(err, ErrMalformed) {
					t.Fatalf("corrupted message accepted: err = %v", err)
				}
			}
		})
	}
}

// fuzzDecoder checks that a decoder never panics and that whatever it
// accepts re-encodes to the same bytes (one encoding per message).
func fuzzDecoder(f *testing.F, name string) {
	f.Add(transcript(f)[name])
	f.Add([]byte{})
	f.Add([]byte{WireVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := newByName(name)
		if err := m.UnmarshalBinary(b); err != nil {
			var e *Error
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &e) || e.Round == 0 {
				t.Fatalf("error %v does not wrap ErrMalformed with a round", err)
			}
			return
		}
		b2, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("non-canonical encoding accepted")
		}
	})
}

func FuzzKeyAdvert(f *testing.F)          { fuzzDecoder(f, "KeyAdvert") }
func FuzzAdvertList(f *testing.F)         { fuzzDecoder(f, "AdvertList") }
func FuzzShareKeys(f *testing.F)          { fuzzDecoder(f, "ShareKeys") }
func FuzzShareBundle(f *testing.F)        { fuzzDecoder(f, "ShareBundle") }
func FuzzMaskedInput(f *testing.F)        { fuzzDecoder(f, "MaskedInput") }
func FuzzConsistencyRequest(f *testing.F) { fuzzDecoder(f, "ConsistencyRequest") }
func FuzzConsistencyReply(f *testing.F)   { fuzzDecoder(f, "ConsistencyReply") }
func FuzzUnmaskRequest(f *testing.F)      { fuzzDecoder(f, "UnmaskRequest") }
func FuzzUnmaskResponse(f *testing.F)     { fuzzDecoder(f, "UnmaskResponse") }
