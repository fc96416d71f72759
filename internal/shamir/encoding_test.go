package shamir

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
)

// TestShareEncodingVector pins the version-1 layout.
func TestShareEncodingVector(t *testing.T) {
	s := Share{X: 0x01020304, Y: []uint64{5, P - 1}}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := "01" + "01020304" + "02" + "0000000000000005" + "1ffffffffffffffe"
	if hex.EncodeToString(b) != want {
		t.Errorf("MarshalBinary = %x, want %s", b, want)
	}
	if len(b) != s.BinarySize() {
		t.Errorf("BinarySize = %d, encoding has %d bytes", s.BinarySize(), len(b))
	}
	var d Share
	if err := d.UnmarshalBinary(b); err != nil || d.X != s.X || !slices.Equal(d.Y, s.Y) {
		t.Errorf("UnmarshalBinary = %+v, %v", d, err)
	}
	pre := []byte("prefix")
	a, err := s.AppendBinary(pre)
	if err != nil || !bytes.Equal(a[:6], []byte("prefix")) || !bytes.Equal(a[6:], b) {
		t.Errorf("AppendBinary = %x, %v", a, err)
	}
}

func TestShareRoundTrip(t *testing.T) {
	shares, err := Split(make([]byte, MaxSecretLen), 2, 300, testRand(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shares {
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var d Share
		if err := d.UnmarshalBinary(b); err != nil || d.X != s.X || !slices.Equal(d.Y, s.Y) {
			t.Fatalf("round trip of X=%d: %+v, %v", s.X, d, err)
		}
	}
}

func TestShareEncodingErrors(t *testing.T) {
	for _, s := range []Share{
		{X: 0, Y: []uint64{1}},
		{X: 1, Y: nil},
		{X: 1, Y: make([]uint64, MaxChunks+1)},
		{X: 1, Y: []uint64{P}},
	} {
		if _, err := s.MarshalBinary(); !errors.Is(err, ErrInvalidShare) {
			t.Errorf("MarshalBinary(%+v) error = %v, want ErrInvalidShare", s, err)
		}
	}
	good, _ := Share{X: 7, Y: []uint64{1, 2}}.MarshalBinary()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"empty":         nil,
		"header only":   good[:5],
		"version 0":     mut(func(b []byte) []byte { b[0] = 0; return b }),
		"version 2":     mut(func(b []byte) []byte { b[0] = 2; return b }),
		"X zero":        mut(func(b []byte) []byte { copy(b[1:5], []byte{0, 0, 0, 0}); return b }),
		"zero elements": mut(func(b []byte) []byte { b[5] = 0; return b[:6] }),
		"too many":      mut(func(b []byte) []byte { b[5] = MaxChunks + 1; return b }),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte(nil), good...), 0),
		"count short":   mut(func(b []byte) []byte { b[5] = 1; return b }),
		"out of field":  mut(func(b []byte) []byte { copy(b[6:14], []byte{0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); return b }),
		"top bits":      mut(func(b []byte) []byte { b[14] = 0x80; return b }),
	} {
		s := Share{X: 99, Y: []uint64{42}}
		if err := s.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: UnmarshalBinary error = %v, want ErrMalformed", name, err)
		}
		if s.X != 99 || !slices.Equal(s.Y, []uint64{42}) {
			t.Errorf("%s: share changed on error: %+v", name, s)
		}
	}
}

// FuzzShareUnmarshal checks that decoding never panics and that whatever
// decodes re-encodes to exactly the same bytes (the encoding is
// canonical), hence unmarshal(marshal(s)) == s.
func FuzzShareUnmarshal(f *testing.F) {
	shares, _ := Split([]byte("fuzz seed corpus: a 32-byte key!"), 2, 3, testRand(1))
	for _, s := range shares {
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	one, _ := Share{X: 1, Y: []uint64{P - 1}}.MarshalBinary()
	f.Add(one)
	f.Add([]byte{1, 0, 0, 0, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Share
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded share does not re-encode: %v", err)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", data, b)
		}
		var d Share
		if err := d.UnmarshalBinary(b); err != nil || d.X != s.X || !slices.Equal(d.Y, s.Y) {
			t.Fatalf("second round trip: %+v, %v", d, err)
		}
	})
}
