package shamir

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

var bigP = new(big.Int).SetUint64(P)

// fieldSamples returns edge values and random canonical field elements.
func fieldSamples(r *rand.Rand, n int) []uint64 {
	s := []uint64{0, 1, 2, 3, P - 1, P - 2, P >> 1, P>>1 + 1, 1 << 60, 1<<60 - 1, 1 << 32, 1<<32 - 1, 1 << 56}
	for range n {
		s = append(s, r.Uint64N(P))
	}
	return s
}

func TestFieldAgainstBig(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	xs := fieldSamples(r, 300)
	ba, bb, want := new(big.Int), new(big.Int), new(big.Int)
	for _, a := range xs {
		ba.SetUint64(a)
		for _, b := range xs {
			bb.SetUint64(b)
			if got := add(a, b); got != want.Mod(want.Add(ba, bb), bigP).Uint64() {
				t.Fatalf("add(%d, %d) = %d, want %d", a, b, got, want)
			}
			if got := sub(a, b); got != want.Mod(want.Sub(ba, bb), bigP).Uint64() {
				t.Fatalf("sub(%d, %d) = %d, want %d", a, b, got, want)
			}
			if got := mul(a, b); got != want.Mod(want.Mul(ba, bb), bigP).Uint64() {
				t.Fatalf("mul(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestInverse checks Fermat inversion against the extended Euclidean
// algorithm of math/big, and a·a^-1 = 1.
func TestInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	b, want := new(big.Int), new(big.Int)
	for _, a := range fieldSamples(r, 2000) {
		if a == 0 {
			if inv(0) != 0 {
				t.Errorf("inv(0) = %d, want 0", inv(0))
			}
			continue
		}
		got := inv(a)
		want.ModInverse(b.SetUint64(a), bigP)
		if got != want.Uint64() || mul(a, got) != 1 {
			t.Fatalf("inv(%d) = %d, want %d (a·inv = %d)", a, got, want, mul(a, got))
		}
	}
	// Known values: 2^-1 = (P+1)/2 = 2^60; (P-1)^-1 = P-1 since (-1)^2 = 1.
	if inv(2) != 1<<60 || inv(P-1) != P-1 {
		t.Errorf("inv(2) = %d, inv(P-1) = %d", inv(2), inv(P-1))
	}
}

func TestBatchInvert(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 2, 3, 10, 257} {
		a := make([]uint64, n)
		for i := range a {
			a[i] = 1 + r.Uint64N(P-1)
		}
		orig := append([]uint64(nil), a...)
		got := make([]uint64, n)
		batchInvert(got, a)
		for i := range got {
			if got[i] != inv(orig[i]) {
				t.Fatalf("n=%d: batchInvert[%d] = %d, want %d", n, i, got[i], inv(orig[i]))
			}
		}
	}
}

// TestEvalAll checks the interleaved lazy Horner evaluation of Split
// against the plain one, at the ends of the range of x.
func TestEvalAll(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, k := range []int{1, 2, 5, MaxChunks} {
		for _, deg := range []int{1, 2, 3, 10, 50} {
			tt := deg + 1
			coef := make([]uint64, tt*k)
			for i := range coef {
				coef[i] = r.Uint64N(P)
				if r.IntN(4) == 0 {
					coef[i] = P - 1
				}
			}
			for _, x := range []uint64{1, 2, 3, 1000, MaxParties - 1, MaxParties, 1<<32 - 1} {
				y := make([]uint64, k)
				evalAll(y, coef, x)
				for c := range k {
					a := make([]uint64, tt)
					for j := range a {
						a[j] = coef[j*k+c]
					}
					if want := horner(a, x); y[c] != want {
						t.Fatalf("k=%d t=%d x=%d chunk %d: evalAll %d, horner %d", k, tt, x, c, y[c], want)
					}
				}
			}
		}
	}
}
