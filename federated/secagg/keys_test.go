package secagg

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func key32(t testing.TB, h string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad test key %q", h)
	}
	return [32]byte(b)
}

// lowOrderKeys are the canonical encodings of the X25519 points of order
// dividing 8 (on the curve or its twist): 0, 1, the two u-coordinates of
// the order-8 points and p-1.
func lowOrderKeys(t testing.TB) map[string][32]byte {
	return map[string][32]byte{
		"zero":    {},
		"one":     {1},
		"order8":  key32(t, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
		"order8b": key32(t, "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
		"p-1":     key32(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
	}
}

func TestCheckPublicKey(t *testing.T) {
	for name, k := range lowOrderKeys(t) {
		if err := checkPublicKey(&k); !errors.Is(err, errKeyLowOrder) {
			t.Errorf("%s: err = %v, want low order", name, err)
		}
		// Each really makes an agreement fail: the failure the check
		// moves from every honest neighbour to the server.
		if _, err := sharedSecret(probeKey, k[:]); err == nil {
			t.Errorf("%s: X25519 with it succeeds", name)
		}
	}
	base := [32]byte{9}
	priv, err := newX25519(detRand("keys"))
	must(t, err)
	valid := [32]byte(priv.PublicKey().Bytes())
	flipped := valid
	flipped[31] ^= 0x80
	for name, k := range map[string][32]byte{
		"p":          key32(t, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
		"p+1":        key32(t, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
		"9+p":        key32(t, "f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
		"2^255-1":    key32(t, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
		"2^256-1":    key32(t, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
		"bit255":     flipped,
		"zero+2^255": {31: 0x80},
	} {
		if err := checkPublicKey(&k); !errors.Is(err, errKeyNotCanonical) {
			t.Errorf("%s: err = %v, want not canonical", name, err)
		}
	}
	for name, k := range map[string][32]byte{"base point": base, "fresh key": valid} {
		if err := checkPublicKey(&k); err != nil {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// The non-canonical encodings are the same key to X25519, and
	// canonicalX25519 maps them to the canonical one.
	other, err := newX25519(detRand("keys/other"))
	must(t, err)
	for _, pair := range [][2][32]byte{
		{valid, flipped},
		{base, key32(t, "f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")},
		{base, key32(t, "f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")},
	} {
		s1, err1 := sharedSecret(other, pair[0][:])
		s2, err2 := sharedSecret(other, pair[1][:])
		if err1 != nil || err2 != nil || !slices.Equal(s1, s2) {
			t.Fatalf("encodings %x and %x are not the same X25519 key (%v, %v)", pair[0], pair[1], err1, err2)
		}
		if c := canonicalX25519(pair[1]); c != pair[0] {
			t.Fatalf("canonical form of %x = %x, want %x", pair[1], c, pair[0])
		}
		if c := canonicalX25519(pair[0]); c != pair[0] {
			t.Fatalf("canonical form of canonical %x changed", pair[0])
		}
	}
}

// runWithBadAdvert runs a whole session in which client bad advertises
// keys tampered by tamper (re-signed with its identity in the malicious
// model: the client itself is corrupt, not the network). It returns the
// server's error for that advert and the result of the session run by the
// others.
func runWithBadAdvert(t *testing.T, threat Threat, bad int, tamper func(a *KeyAdvert, adverts []*KeyAdvert)) (*Result, [][]int64, error) {
	t.Helper()
	cfg := Config{NumClients: 7, Dim: 9, SideDim: 1, Bits: 20, MaxAbs: 100, MaxSideAbs: 100, DropoutRate: 0.2, CorruptRate: 0.1, Threat: threat}
	var priv []ed25519.PrivateKey
	if threat == Malicious {
		cfg.Identities, priv = testIdentities(t, cfg.NumClients)
	}
	p, err := NewParams(cfg)
	must(t, err)
	srv, err := NewServer(p)
	must(t, err)
	rnd := detRand("bad-advert")
	n := p.NumClients()
	clients := make([]*Client, n)
	adverts := make([]*KeyAdvert, n)
	for i := range n {
		opts := &ClientOptions{InsecureTestRand: rnd}
		if priv != nil {
			opts = maliciousOpts(p, priv[i], rnd)
		}
		clients[i], err = NewClient(p, i, opts)
		must(t, err)
		adverts[i], err = clients[i].Advertise()
		must(t, err)
	}
	tamper(adverts[bad], adverts)
	if priv != nil {
		adverts[bad].Signature = ed25519.Sign(priv[bad], advertSigInput(adverts[bad]))
	}
	var badErr error
	for i, a := range adverts {
		// Through the wire encoding, as a transport would deliver it.
		raw, err := a.MarshalBinary()
		must(t, err)
		var got KeyAdvert
		must(t, got.UnmarshalBinary(raw))
		err = srv.HandleAdvert(&got)
		if i == bad {
			badErr = err
		} else {
			must(t, err)
		}
	}
	lists, err := srv.FinishAdvertise()
	must(t, err)
	live := func(yield func(int, *Client) bool) {
		for i, c := range clients {
			if _, ok := lists[i]; ok && !yield(i, c) {
				return
			}
		}
	}
	for i, c := range live {
		m, err := c.ShareKeys(lists[i])
		must(t, err)
		must(t, srv.HandleShareKeys(m))
	}
	bundles, err := srv.FinishShareKeys()
	must(t, err)
	inputs := make([][]int64, n)
	for i, c := range live {
		inputs[i] = make([]int64, p.Length())
		for j := range inputs[i] {
			inputs[i][j] = int64((i+2)*(j+5)%181) - 90
		}
		m, err := c.MaskInput(bundles[i], inputs[i])
		must(t, err)
		must(t, srv.HandleMaskedInput(m))
	}
	must(t, srv.FinishMaskedInput())
	if threat == Malicious {
		creqs, err := srv.ConsistencyRequests()
		must(t, err)
		for i, c := range live {
			m, err := c.Consistency(creqs[i])
			must(t, err)
			must(t, srv.HandleConsistency(m))
		}
		must(t, srv.FinishConsistency())
	}
	reqs, err := srv.UnmaskRequests()
	must(t, err)
	for i, c := range live {
		m, err := c.Unmask(reqs[i])
		must(t, err)
		must(t, srv.HandleUnmask(m))
	}
	res, err := srv.Finish()
	must(t, err)
	return res, inputs, badErr
}

// TestServerRefusesInvalidAdvertKeys: a corrupt client advertising a
// small-order or non-canonical key is refused at the advert, naming it,
// and the round completes for the others with the right sum. Without the
// check, a small-order key makes every honest neighbour's agreement fail.
func TestServerRefusesInvalidAdvertKeys(t *testing.T) {
	const bad = 2
	type tamper func(a *KeyAdvert, all []*KeyAdvert)
	cases := map[string]tamper{}
	for name, k := range lowOrderKeys(t) {
		cases["cipher="+name] = func(a *KeyAdvert, _ []*KeyAdvert) { a.CipherKey = k }
		cases["mask="+name] = func(a *KeyAdvert, _ []*KeyAdvert) { a.MaskKey = k }
	}
	// A second encoding of another client's key (or of its own other
	// key) must not pass the byte-wise freshness check.
	cases["mask=client-5-mask-key-bit255"] = func(a *KeyAdvert, all []*KeyAdvert) {
		a.MaskKey = all[5].MaskKey
		a.MaskKey[31] ^= 0x80
	}
	cases["cipher=own-mask-key-bit255"] = func(a *KeyAdvert, _ []*KeyAdvert) {
		a.CipherKey = a.MaskKey
		a.CipherKey[31] ^= 0x80
	}
	cases["cipher=p"] = func(a *KeyAdvert, _ []*KeyAdvert) {
		a.CipherKey = key32(t, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	}
	for _, threat := range []Threat{SemiHonest, Malicious} {
		for name, tc := range cases {
			t.Run(fmt.Sprintf("%v/%s", threat, name), func(t *testing.T) {
				res, inputs, badErr := runWithBadAdvert(t, threat, bad, tc)
				var e *Error
				if !errors.Is(badErr, ErrMalformed) || !errors.As(badErr, &e) || e.Client != bad || e.Round != RoundAdvertise {
					t.Fatalf("bad advert: err = %v, want ErrMalformed naming client %d in round AdvertiseKeys", badErr, bad)
				}
				if slices.Contains(res.Survivors, bad) || len(res.Survivors) != len(inputs)-1 {
					t.Fatalf("survivors = %v, want every client but %d", res.Survivors, bad)
				}
				want := make([]int64, len(res.Sum))
				for _, u := range res.Survivors {
					for j, v := range inputs[u] {
						want[j] += v
					}
				}
				if !slices.Equal(res.Sum, want) {
					t.Fatalf("sum = %v, want %v", res.Sum, want)
				}
			})
		}
	}
}

// TestServerRefusesReencodedKey: the second encoding of another client's
// key is caught whichever advert arrives first.
func TestServerRefusesReencodedKey(t *testing.T) {
	p, err := NewParams(checkCfg)
	must(t, err)
	srv, err := NewServer(p)
	must(t, err)
	rnd := detRand("reencoded")
	var ads []*KeyAdvert
	for i := range 2 {
		c, err := NewClient(p, i, &ClientOptions{InsecureTestRand: rnd})
		must(t, err)
		a, err := c.Advertise()
		must(t, err)
		ads = append(ads, a)
	}
	must(t, srv.HandleAdvert(ads[0]))
	reencoded := ads[0].CipherKey
	reencoded[31] ^= 0x80
	for _, field := range []string{"cipher", "mask"} {
		a := *ads[1]
		if field == "cipher" {
			a.CipherKey = reencoded
		} else {
			a.MaskKey = reencoded
		}
		err := srv.HandleAdvert(&a)
		var e *Error
		if !errors.Is(err, ErrMalformed) || !errors.As(err, &e) || e.Client != 1 || e.Round != RoundAdvertise {
			t.Fatalf("%s key of client 1 re-encodes a key of client 0: err = %v", field, err)
		}
	}
	must(t, srv.HandleAdvert(ads[1])) // the honest advert still goes through
}

// TestClientChecksAdvertKeys: a server that forwards an invalid key (it
// should have refused the advert) is caught by the client, which names the
// peer; invalid keys of non-neighbours, which it never uses, are ignored,
// but a second encoding of a key is a repeat wherever it appears.
func TestClientChecksAdvertKeys(t *testing.T) {
	low := lowOrderKeys(t)
	for _, tc := range []struct {
		name     string
		tamper   func(l *AdvertList)
		sentinel error
		client   int
	}{
		{"neighbour-mask-zero", func(l *AdvertList) { l.Adverts[2].MaskKey = low["zero"] }, ErrMalformed, 2},
		{"neighbour-cipher-order8", func(l *AdvertList) { l.Adverts[3].CipherKey = low["order8"] }, ErrMalformed, 3},
		{"neighbour-mask-order8b", func(l *AdvertList) { l.Adverts[1].MaskKey = low["order8b"] }, ErrMalformed, 1},
		{"neighbour-cipher-bit255", func(l *AdvertList) { l.Adverts[4].CipherKey[31] ^= 0x80 }, ErrMalformed, 4},
		{"reused-key-bit255", func(l *AdvertList) {
			l.Adverts[3].CipherKey = l.Adverts[2].MaskKey
			l.Adverts[3].CipherKey[31] ^= 0x80
		}, ErrReplay, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStage(t, checkCfg, RoundShareKeys)
			l := *st.lists[0]
			l.Adverts = slices.Clone(l.Adverts)
			tc.tamper(&l)
			_, err := st.clients[0].ShareKeys(&l)
			wantErr(t, err, tc.sentinel, RoundShareKeys)
			var e *Error
			if errors.As(err, &e); e.Client != tc.client {
				t.Fatalf("error names client %d, want %d: %v", e.Client, tc.client, err)
			}
		})
	}

	t.Run("non-neighbour-ignored", func(t *testing.T) {
		cfg := Config{NumClients: 9, Dim: 3, Bits: 16, MaxAbs: 100, MaxSideAbs: 1, DropoutRate: 0.1, Degree: 2, Threshold: 2, InsecureAllowLowThreshold: true}
		st := newStage(t, cfg, RoundShareKeys)
		far := -1
		for j := 1; j < cfg.NumClients; j++ {
			if !st.p.IsNeighbour(0, j) {
				far = j
				break
			}
		}
		l := *st.lists[0]
		l.Adverts = slices.Clone(l.Adverts)
		l.Adverts[far].MaskKey = low["order8"]
		if _, err := st.clients[0].ShareKeys(&l); err != nil {
			t.Fatalf("client 0 aborted over the key of non-neighbour %d: %v", far, err)
		}
	})
}
