package vec

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

var (
	bits32 = []uint{1, 2, 7, 8, 16, 31, 32}
	bits64 = []uint{1, 8, 31, 32, 33, 53, 62, 63, 64}
	// Lengths around the 16-element (64-byte) blocks of the fast paths.
	modLens = []int{0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 4099}
)

// Reference arithmetic, written independently of the kernels: reduce the
// exact sum (in a wider type where there is one) modulo 2^bits.
func refAdd32(a, b uint32, bits uint) uint32 {
	return uint32((uint64(a) + uint64(b)) % (1 << bits))
}

func refSub32(a, b uint32, bits uint) uint32 {
	// a - b + 2^32 is non-negative and congruent to a - b mod 2^bits.
	return uint32((uint64(a) + (1 << 32) - uint64(b)) % (1 << bits))
}

func refMod64(v uint64, bits uint) uint64 {
	if bits == 64 {
		return v
	}
	return v % (1 << bits)
}

// edge32 mixes values at the ends of the ranges with random ones.
func fill32(r *rand.Rand, x []uint32) {
	edges := []uint32{0, 1, 2, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1<<32 - 2, 0xff, 0x100}
	for i := range x {
		if r.IntN(4) == 0 {
			x[i] = edges[r.IntN(len(edges))]
		} else {
			x[i] = r.Uint32()
		}
	}
}

func fill64(r *rand.Rand, x []uint64) {
	edges := []uint64{0, 1, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, 1<<64 - 1, 1<<33 - 1, 1<<62 - 1}
	for i := range x {
		if r.IntN(4) == 0 {
			x[i] = edges[r.IntN(len(edges))]
		} else {
			x[i] = r.Uint64()
		}
	}
}

func TestMod32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, bits := range bits32 {
		for _, n := range modLens {
			t.Run(fmt.Sprintf("bits=%d/n=%d", bits, n), func(t *testing.T) {
				a, b := make([]uint32, n), make([]uint32, n)
				fill32(r, a)
				fill32(r, b)
				m := uint32(1<<bits - 1)
				add, sub := append([]uint32(nil), a...), append([]uint32(nil), a...)
				AddMod32(add, b, bits)
				SubMod32(sub, b, bits)
				gadd, gsub := append([]uint32(nil), a...), append([]uint32(nil), a...)
				addMod32Generic(gadd, b, m)
				subMod32Generic(gsub, b, m)
				for i := range a {
					if want := refAdd32(a[i], b[i], bits); add[i] != want || gadd[i] != want {
						t.Fatalf("add[%d] (%#x + %#x): fast %#x, generic %#x, want %#x", i, a[i], b[i], add[i], gadd[i], want)
					}
					if want := refSub32(a[i], b[i], bits); sub[i] != want || gsub[i] != want {
						t.Fatalf("sub[%d] (%#x - %#x): fast %#x, generic %#x, want %#x", i, a[i], b[i], sub[i], gsub[i], want)
					}
				}
				// Subtracting undoes adding, for reduced inputs.
				SubMod32(add, b, bits)
				for i := range a {
					if add[i] != a[i]&m {
						t.Fatalf("(a+b)-b [%d] = %#x, want %#x", i, add[i], a[i]&m)
					}
				}
			})
		}
	}
}

func TestMod64(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, bits := range bits64 {
		for _, n := range modLens {
			t.Run(fmt.Sprintf("bits=%d/n=%d", bits, n), func(t *testing.T) {
				a, b := make([]uint64, n), make([]uint64, n)
				fill64(r, a)
				fill64(r, b)
				m := mask64(bits)
				add, sub := append([]uint64(nil), a...), append([]uint64(nil), a...)
				AddMod64(add, b, bits)
				SubMod64(sub, b, bits)
				gadd, gsub := append([]uint64(nil), a...), append([]uint64(nil), a...)
				addMod64Generic(gadd, b, m)
				subMod64Generic(gsub, b, m)
				for i := range a {
					// uint64 arithmetic is exact modulo 2^64, and 2^bits
					// divides 2^64.
					if want := refMod64(a[i]+b[i], bits); add[i] != want || gadd[i] != want {
						t.Fatalf("add[%d] (%#x + %#x): fast %#x, generic %#x, want %#x", i, a[i], b[i], add[i], gadd[i], want)
					}
					if want := refMod64(a[i]-b[i], bits); sub[i] != want || gsub[i] != want {
						t.Fatalf("sub[%d] (%#x - %#x): fast %#x, generic %#x, want %#x", i, a[i], b[i], sub[i], gsub[i], want)
					}
				}
				SubMod64(add, b, bits)
				for i := range a {
					if add[i] != a[i]&m {
						t.Fatalf("(a+b)-b [%d] = %#x, want %#x", i, add[i], a[i]&m)
					}
				}
			})
		}
	}
}

// TestModWrap checks hand-computed wrap-around cases.
func TestModWrap(t *testing.T) {
	a32 := []uint32{200, 0, 1<<32 - 1, 5, 1<<31 + 7}
	AddMod32(a32, []uint32{100, 0, 1, 1<<32 - 1, 1 << 31}, 8)
	if want := []uint32{44, 0, 0, 4, 7}; fmt.Sprint(a32) != fmt.Sprint(want) {
		t.Errorf("AddMod32 bits=8: %v, want %v", a32, want)
	}
	s32 := []uint32{0, 3, 1 << 31}
	SubMod32(s32, []uint32{1, 5, 1<<31 + 1}, 32)
	if want := []uint32{1<<32 - 1, 1<<32 - 2, 1<<32 - 1}; fmt.Sprint(s32) != fmt.Sprint(want) {
		t.Errorf("SubMod32 bits=32: %v, want %v", s32, want)
	}
	a64 := []uint64{1<<64 - 1, 1<<33 - 1, 1 << 63}
	AddMod64(a64, []uint64{2, 1, 1 << 63}, 64)
	if want := []uint64{1, 1 << 33, 0}; fmt.Sprint(a64) != fmt.Sprint(want) {
		t.Errorf("AddMod64 bits=64: %v, want %v", a64, want)
	}
	b64 := []uint64{1<<33 - 1, 0}
	AddMod64(b64, []uint64{1, 1}, 33)
	SubMod64(b64[1:], []uint64{2}, 33)
	if want := []uint64{0, 1<<33 - 1}; fmt.Sprint(b64) != fmt.Sprint(want) {
		t.Errorf("bits=33: %v, want %v", b64, want)
	}
	// dst and src the same slice: doubling.
	d := []uint32{1<<31 + 3, 7}
	AddMod32(d, d, 32)
	if d[0] != 6 || d[1] != 14 {
		t.Errorf("AddMod32(d, d) = %v, want [6 14]", d)
	}
}

func mustPanic(t *testing.T, name, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", name)
		} else if r != want {
			t.Errorf("%s: panic %q, want %q", name, r, want)
		}
	}()
	f()
}

func TestModMisuse(t *testing.T) {
	x32, x64 := make([]uint32, 3), make([]uint64, 3)
	mustPanic(t, "AddMod32 bits=0", "vec: bits out of range [1,32]", func() { AddMod32(x32, x32, 0) })
	mustPanic(t, "SubMod32 bits=33", "vec: bits out of range [1,32]", func() { SubMod32(x32, x32, 33) })
	mustPanic(t, "AddMod64 bits=65", "vec: bits out of range [1,64]", func() { AddMod64(x64, x64, 65) })
	mustPanic(t, "SubMod64 bits=0", "vec: bits out of range [1,64]", func() { SubMod64(x64, x64, 0) })
	mustPanic(t, "AddMod32 length", badLength, func() { AddMod32(x32, x32[:2], 32) })
	mustPanic(t, "SubMod32 length", badLength, func() { SubMod32(x32[:1], x32, 32) })
	mustPanic(t, "AddMod64 length", badLength, func() { AddMod64(x64, x64[:2], 64) })
	mustPanic(t, "SubMod64 length", badLength, func() { SubMod64(x64[:1], x64, 64) })
}

// FuzzAddMod32 compares the fast path with the portable loop on arbitrary
// data, lengths and widths.
func FuzzAddMod32(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123"), uint8(32))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0}, uint8(8))
	f.Fuzz(func(t *testing.T, data []byte, b uint8) {
		bits := uint(b%32) + 1
		n := len(data) / 8
		a, c := make([]uint32, n), make([]uint32, n)
		for i := range n {
			a[i] = uint32(data[8*i]) | uint32(data[8*i+1])<<8 | uint32(data[8*i+2])<<16 | uint32(data[8*i+3])<<24
			c[i] = uint32(data[8*i+4]) | uint32(data[8*i+5])<<8 | uint32(data[8*i+6])<<16 | uint32(data[8*i+7])<<24
		}
		m := uint32(1<<bits - 1)
		for _, op := range []struct {
			fast, generic func(dst, src []uint32, m uint32)
		}{{addMod32, addMod32Generic}, {subMod32, subMod32Generic}} {
			x, y := append([]uint32(nil), a...), append([]uint32(nil), a...)
			op.fast(x, c, m)
			op.generic(y, c, m)
			for i := range x {
				if x[i] != y[i] {
					t.Fatalf("bits=%d element %d: fast %#x, generic %#x", bits, i, x[i], y[i])
				}
			}
		}
	})
}

func TestZeroAllocs(t *testing.T) {
	a32, b32 := make([]uint32, 100), make([]uint32, 100)
	a64, b64 := make([]uint64, 100), make([]uint64, 100)
	x, y := make([]float64, 100), make([]float64, 100)
	for i := range x {
		x[i], y[i] = float64(i), float64(100-i)
	}
	src := rand.NewPCG(1, 2)
	for name, f := range map[string]func(){
		"AddMod32":    func() { AddMod32(a32, b32, 32) },
		"SubMod32":    func() { SubMod32(a32, b32, 17) },
		"AddMod64":    func() { AddMod64(a64, b64, 64) },
		"SubMod64":    func() { SubMod64(a64, b64, 40) },
		"Dot":         func() { _ = Dot(x, y) },
		"Axpy":        func() { Axpy(x, 0, y) },
		"Scale":       func() { Scale(x, 1) },
		"Norm2":       func() { _ = Norm2(x) },
		"ClipL2":      func() { ClipL2(y, 1e9) },
		"ClipL2Into":  func() { ClipL2Into(y, x, 1) },
		"EncodeFixed": func() { EncodeFixed(a64, x, 16, 32, src) },
		"EncodeNil":   func() { EncodeFixed(a64, x, 16, 32, nil) },
		"DecodeFixed": func() { DecodeFixed(y, a64, 16, 32) },
	} {
		if n := testing.AllocsPerRun(10, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}
