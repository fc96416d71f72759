package anonymize

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/privml/privml/anonymize/ff1"
)

func TestPseudonymizer(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	p, err := NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Pseudonym("email", "alice@example.org")
	if a != p.Pseudonym("email", "alice@example.org") {
		t.Fatal("not deterministic")
	}
	if a == p.Pseudonym("patient_id", "alice@example.org") {
		t.Fatal("same pseudonym in two columns: no domain separation")
	}
	if a == p.Pseudonym("email", "bob@example.org") {
		t.Fatal("two values, one pseudonym")
	}
	key2 := bytes.Clone(key)
	key2[0] ^= 1
	p2, _ := NewPseudonymizer(key2)
	if a == p2.Pseudonym("email", "alice@example.org") {
		t.Fatal("pseudonym does not depend on the key")
	}
	if len(a) != 32 || strings.Contains(a, "alice") {
		t.Fatalf("pseudonym %q", a)
	}
	// The caller's key buffer may be wiped without affecting p.
	clear(key)
	if p.Pseudonym("email", "alice@example.org") != a {
		t.Fatal("pseudonymizer shares the caller's key buffer")
	}
	if _, err := NewPseudonymizer(make([]byte, 15)); !errors.Is(err, ErrKey) {
		t.Fatalf("short key: %v", err)
	}
}

func TestPseudonymizeAndEncryptColumns(t *testing.T) {
	tb, _ := ReadCSV(strings.NewReader("id,card\nalice,4111111111111111\nbob,5500000000000004\nalice,4111111111111111\n"), CSVOptions{})
	key := make([]byte, 32)
	rand.Read(key)
	p, _ := NewPseudonymizer(key)
	out, err := p.PseudonymizeColumn(tb, "id")
	if err != nil {
		t.Fatal(err)
	}
	if cell(out, 0, 0) != cell(out, 2, 0) || cell(out, 0, 0) == cell(out, 1, 0) || cell(out, 0, 0) != p.Pseudonym("id", "alice") {
		t.Fatal("column pseudonyms inconsistent")
	}
	if cell(tb, 0, 0) != "alice" {
		t.Fatal("input table modified")
	}
	c, _ := ff1.New(key[:16], ff1.Digits)
	enc, err := EncryptColumn(tb, "card", c, []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	ct := cell(enc, 0, 1)
	if len(ct) != 16 || ct == cell(tb, 0, 1) {
		t.Fatalf("ciphertext %q", ct)
	}
	pt, err := c.Decrypt(ct, append([]byte("v1\x00"), "card"...))
	if err != nil || pt != cell(tb, 0, 1) {
		t.Fatalf("decrypt: %q %v", pt, err)
	}
	if _, err := EncryptColumn(tb, "id", c, nil); !errors.Is(err, ErrInput) {
		t.Fatalf("letters under a digit cipher: %v", err)
	}
	if _, err := p.PseudonymizeColumn(tb, "nope"); !errors.Is(err, ErrColumn) {
		t.Fatalf("unknown column: %v", err)
	}
}

func TestMaskAndRedact(t *testing.T) {
	for _, c := range []struct {
		s        string
		pre, suf int
		want     string
	}{
		{"4111111111111111", 0, 4, "************1111"},
		{"81667", 4, 0, "8166*"},
		{"ab", 3, 3, "ab"},
		{"héllo", 1, 1, "h***o"},
	} {
		if got := Mask(c.s, c.pre, c.suf, 0); got != c.want {
			t.Errorf("Mask(%q, %d, %d) = %q, want %q", c.s, c.pre, c.suf, got, c.want)
		}
	}
	tb, _ := ReadCSV(strings.NewReader("name,x\nalice,1\nbob,2\n"), CSVOptions{})
	r, err := tb.Redact("name")
	if err != nil || cell(r, 0, 0) != Redacted || cell(r, 1, 0) != Redacted || cell(r, 1, 1) != "2" {
		t.Fatalf("redact: %v", err)
	}
}
