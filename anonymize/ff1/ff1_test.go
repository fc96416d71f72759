package ff1

import (
	"encoding/hex"
	"errors"
	"testing"
	"unicode/utf8"
)

// The nine FF1 samples of NIST's "FF1 samples" document
// (csrc.nist.gov, Examples with Intermediate Values, FF1samples.pdf).
var nistSamples = []struct {
	key, tweak, alphabet, pt, ct string
}{
	{"2B7E151628AED2A6ABF7158809CF4F3C", "", Digits, "0123456789", "2433477484"},
	{"2B7E151628AED2A6ABF7158809CF4F3C", "39383736353433323130", Digits, "0123456789", "6124200773"},
	{"2B7E151628AED2A6ABF7158809CF4F3C", "3737373770717273373737", Alphanumeric, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
	{"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "", Digits, "0123456789", "2830668132"},
	{"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "39383736353433323130", Digits, "0123456789", "2496655549"},
	{"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", "3737373770717273373737", Alphanumeric, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
	{"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", "", Digits, "0123456789", "6657667009"},
	{"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", "39383736353433323130", Digits, "0123456789", "1001623463"},
	{"2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", "3737373770717273373737", Alphanumeric, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
}

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNISTSamples(t *testing.T) {
	for i, s := range nistSamples {
		c, err := New(mustHex(t, s.key), s.alphabet)
		if err != nil {
			t.Fatal(err)
		}
		tw := mustHex(t, s.tweak)
		ct, err := c.Encrypt(s.pt, tw)
		if err != nil {
			t.Fatalf("sample %d: %v", i+1, err)
		}
		if ct != s.ct {
			t.Errorf("sample %d: Encrypt = %s, want %s", i+1, ct, s.ct)
		}
		pt, err := c.Decrypt(s.ct, tw)
		if err != nil || pt != s.pt {
			t.Errorf("sample %d: Decrypt = %s, %v, want %s", i+1, pt, err, s.pt)
		}
	}
}

func TestRefusesSmallDomain(t *testing.T) {
	c, err := New(make([]byte, 16), Digits)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt("12345", nil); !errors.Is(err, ErrDomain) {
		t.Fatalf("5 digits: err = %v, want ErrDomain", err)
	}
	if _, err := c.Encrypt("123456", nil); err != nil {
		t.Fatalf("6 digits: %v", err)
	}
	a, _ := New(make([]byte, 16), Alphanumeric)
	if a.MinLen() != 4 {
		t.Fatalf("radix 36 MinLen = %d, want 4", a.MinLen())
	}
	if _, err := c.Encrypt("12a456", nil); !errors.Is(err, ErrAlphabet) {
		t.Fatalf("bad symbol: err = %v", err)
	}
	if _, err := New(make([]byte, 15), Digits); !errors.Is(err, ErrKeySize) {
		t.Fatalf("15-byte key: err = %v", err)
	}
}

func TestTweakChangesCiphertext(t *testing.T) {
	c, _ := New(mustHex(t, nistSamples[0].key), Digits)
	a, _ := c.Encrypt("000000000000", []byte("column-a"))
	b, _ := c.Encrypt("000000000000", []byte("column-b"))
	if a == b {
		t.Fatal("different tweaks gave the same ciphertext")
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range nistSamples {
		f.Add(s.pt, []byte(s.tweak), s.alphabet == Digits)
	}
	c10, _ := New(mustHex(f, nistSamples[0].key), Digits)
	c36, _ := New(mustHex(f, nistSamples[0].key), Alphanumeric)
	f.Fuzz(func(t *testing.T, s string, tweak []byte, digits bool) {
		c := c36
		if digits {
			c = c10
		}
		ct, err := c.Encrypt(s, tweak)
		if err != nil {
			return
		}
		if utf8.RuneCountInString(ct) != utf8.RuneCountInString(s) {
			t.Fatalf("length changed: %d → %d", len(s), len(ct))
		}
		pt, err := c.Decrypt(ct, tweak)
		if err != nil || pt != s {
			t.Fatalf("round trip: %q → %q → %q (%v)", s, ct, pt, err)
		}
	})
}

func BenchmarkEncrypt16Digits(b *testing.B) {
	c, _ := New(make([]byte, 32), Digits)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encrypt("4111111111111111", []byte("card")); err != nil {
			b.Fatal(err)
		}
	}
}
