package shamir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// testRand returns a deterministic randomness source for tests: a ChaCha8
// stream with a fixed seed.
func testRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// wordsReader yields the given 64-bit words little-endian, as Split reads
// its coefficients.
func wordsReader(w ...uint64) io.Reader {
	var b []byte
	for _, v := range w {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return bytes.NewReader(b)
}

// TestWorkedExample follows the worked example of the Wikipedia article
// "Shamir's secret sharing" (section "Example"): secret S = 1234, t = 3,
// n = 6, random coefficients a1 = 166, a2 = 94, so f(x) = 1234 + 166x +
// 94x^2 and the shares are (1, 1494), (2, 1942), (3, 2578), (4, 3402),
// (5, 4414), (6, 5614). The values are far below p, so the arithmetic is
// the same in GF(2^61 - 1).
func TestWorkedExample(t *testing.T) {
	secret := []byte{0x04, 0xd2} // 1234, big-endian
	shares, err := Split(secret, 3, 6, wordsReader(166, 94))
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{1494, 1942, 2578, 3402, 4414, 5614}
	for i, s := range shares {
		if s.X != uint32(i+1) || len(s.Y) != 1 || s.Y[0] != want[i] {
			t.Errorf("share %d = %+v, want {X:%d Y:[%d]}", i, s, i+1, want[i])
		}
	}
	// The article reconstructs from shares 2, 4 and 5.
	got, err := Combine([]Share{shares[1], shares[3], shares[4]}, 3, 2)
	if err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Combine(shares 2, 4, 5) = %x, %v; want %x", got, err, secret)
	}
}

// TestRejectionSampling checks that the word P (from all-ones input) is
// rejected and the next word used.
func TestRejectionSampling(t *testing.T) {
	dst := make([]uint64, 2)
	if err := randomElements(dst, wordsReader(^uint64(0), 5, P, 1<<63|7)); err != nil {
		t.Fatal(err)
	}
	// ^0 & P = P: rejected; 5 kept; P rejected; (2^63 | 7) & P = 7 kept.
	if dst[0] != 5 || dst[1] != 7 {
		t.Errorf("randomElements = %v, want [5 7]", dst)
	}
}

// subsets calls f with every k-subset of 0..n-1 (in increasing order).
func subsets(n, k int, f func([]int)) {
	idx := make([]int, k)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if depth == k {
			f(idx)
			return
		}
		for i := start; i <= n-(k-depth); i++ {
			idx[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
}

func TestAnyTReconstruct(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, tn := range [][2]int{{2, 2}, {2, 3}, {3, 5}, {5, 5}, {4, 7}, {6, 9}} {
		tt, n := tn[0], tn[1]
		for _, size := range []int{1, 6, 7, 8, 13, 14, 15, 32, 63, 64} {
			t.Run(fmt.Sprintf("t=%d/n=%d/len=%d", tt, n, size), func(t *testing.T) {
				secret := make([]byte, size)
				for i := range secret {
					secret[i] = byte(r.Uint32())
				}
				secret[0] = 0xff // the largest chunk values
				shares, err := Split(secret, tt, n, testRand(byte(size)))
				if err != nil {
					t.Fatal(err)
				}
				if len(shares) != n {
					t.Fatalf("%d shares, want %d", len(shares), n)
				}
				subsets(n, tt, func(idx []int) {
					pick := make([]Share, tt)
					for i, j := range idx {
						pick[i] = shares[j]
					}
					// Reverse the order too: order must not matter.
					r.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })
					got, err := Combine(pick, tt, size)
					if err != nil || !bytes.Equal(got, secret) {
						t.Fatalf("Combine(%v) = %x, %v; want %x", idx, got, err, secret)
					}
				})
				// More than t shares: the first t are used.
				got, err := Combine(shares, tt, size)
				if err != nil || !bytes.Equal(got, secret) {
					t.Fatalf("Combine(all %d) = %x, %v", n, got, err)
				}
			})
		}
	}
	// Large n, crypto/rand.
	secret := bytes.Repeat([]byte{0xa5}, 32)
	shares, err := Split(secret, 100, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Shuffle(len(shares), func(i, j int) { shares[i], shares[j] = shares[j], shares[i] })
	got, err := Combine(shares, 100, 32)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("t=100 n=300: Combine = %x, %v", got, err)
	}
}

// interpolateAt evaluates at z the polynomial of degree len(xs)-1 through
// the points (xs[i], ys[i]), by the Lagrange formula.
func interpolateAt(xs, ys []uint64, z uint64) uint64 {
	var s uint64
	for j := range xs {
		num, den := uint64(1), uint64(1)
		for m := range xs {
			if m != j {
				num = mul(num, sub(z, xs[m]))
				den = mul(den, sub(xs[j], xs[m]))
			}
		}
		s = add(s, mul(ys[j], mul(num, inv(den))))
	}
	return s
}

// TestTMinusOneRevealNothing is a constructive proof on examples of
// perfect secrecy: for t-1 real shares and any candidate secret s', the
// unique polynomial of degree t-1 through (0, s') and the t-1 shares gives
// a t-th share with which Combine returns s'. Every secret is thus
// consistent with the t-1 shares, each through exactly one polynomial,
// and since the polynomials are uniform, every secret is equally likely
// given the t-1 shares.
func TestTMinusOneRevealNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, tn := range [][2]int{{2, 3}, {3, 5}, {5, 8}} {
		tt, n := tn[0], tn[1]
		const size = 16
		secret := make([]byte, size)
		for i := range secret {
			secret[i] = byte(r.Uint32())
		}
		shares, err := Split(secret, tt, n, testRand(7))
		if err != nil {
			t.Fatal(err)
		}
		known := shares[:tt-1] // what a coalition of t-1 parties holds
		last := shares[n-1].X  // a party outside the coalition
		for trial := range 20 {
			candidate := make([]byte, size)
			for i := range candidate {
				candidate[i] = byte(r.Uint32())
			}
			if trial == 0 {
				candidate = make([]byte, size) // all zeros
			}
			forged := Share{X: last, Y: make([]uint64, NumChunks(size))}
			for c := range forged.Y {
				xs := []uint64{0}
				ys := []uint64{chunkValue(candidate, c)}
				for _, s := range known {
					xs = append(xs, uint64(s.X))
					ys = append(ys, s.Y[c])
				}
				forged.Y[c] = interpolateAt(xs, ys, uint64(last))
			}
			got, err := Combine(append(append([]Share(nil), known...), forged), tt, size)
			if err != nil || !bytes.Equal(got, candidate) {
				t.Fatalf("t=%d: t-1 shares plus a share through candidate %x reconstruct %x, %v", tt, candidate, got, err)
			}
		}
	}
}

// TestSingleShareUniform is a statistical check of secrecy for t = 2: the
// top 8 bits of share 1 are uniform whatever the secret. For two secrets,
// 2^15 splits each, a chi-squared test over 256 cells (255 degrees of
// freedom) with critical value 340.0 (upper tail about 2.6e-4 per test, so
// a false-failure rate of about 5e-4 over random seeds; the seeds here are
// fixed).
func TestSingleShareUniform(t *testing.T) {
	const n = 1 << 15
	rng := testRand(99)
	for _, secret := range [][]byte{{0}, {0xff}} {
		counts := make([]int, 256)
		for range n {
			sh, err := Split(secret, 2, 2, rng)
			if err != nil {
				t.Fatal(err)
			}
			counts[sh[0].Y[0]>>53]++
		}
		exp := float64(n) / 256
		var chi2 float64
		for _, c := range counts {
			d := float64(c) - exp
			chi2 += d * d / exp
		}
		if chi2 > 340.0 {
			t.Errorf("secret %x: chi-squared %.1f > 340.0", secret, chi2)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy source down") }

func TestSplitErrors(t *testing.T) {
	secret := []byte("seed")
	for _, c := range []struct {
		secret []byte
		t, n   int
		rand   io.Reader
		want   error
	}{
		{secret, 1, 3, nil, ErrThreshold},
		{secret, 0, 3, nil, ErrThreshold},
		{secret, 4, 3, nil, ErrThreshold},
		{secret, 2, MaxParties + 1, nil, ErrThreshold},
		{secret, -1, -1, nil, ErrThreshold},
		{nil, 2, 3, nil, ErrSecretLength},
		{make([]byte, MaxSecretLen+1), 2, 3, nil, ErrSecretLength},
		{secret, 2, 3, failingReader{}, ErrRandom},
		{secret, 3, 3, wordsReader(1), ErrRandom}, // short
	} {
		if _, err := Split(c.secret, c.t, c.n, c.rand); !errors.Is(err, c.want) {
			t.Errorf("Split(len %d, t=%d, n=%d) error = %v, want %v", len(c.secret), c.t, c.n, err, c.want)
		}
	}
	if _, err := Split(make([]byte, MaxSecretLen), 2, MaxParties, testRand(1)); err != nil {
		t.Errorf("Split at the limits: %v", err)
	}
}

func TestCombineErrors(t *testing.T) {
	secret := []byte("0123456789abcdef") // 3 chunks
	shares, err := Split(secret, 3, 5, testRand(3))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(s []Share)) []Share {
		c := make([]Share, len(shares))
		for i, s := range shares {
			c[i] = Share{X: s.X, Y: append([]uint64(nil), s.Y...)}
		}
		f(c)
		return c
	}
	for _, c := range []struct {
		name   string
		shares []Share
		t, len int
		want   error
	}{
		{"too few", shares[:2], 3, 16, ErrTooFewShares},
		{"none", nil, 3, 16, ErrTooFewShares},
		{"t=1", shares, 1, 16, ErrThreshold},
		{"duplicate X", mod(func(s []Share) { s[2].X = s[0].X }), 3, 16, ErrInvalidShare},
		{"zero X", mod(func(s []Share) { s[1].X = 0 }), 3, 16, ErrInvalidShare},
		{"Y out of field", mod(func(s []Share) { s[0].Y[1] = P }), 3, 16, ErrInvalidShare},
		{"Y too short", mod(func(s []Share) { s[2].Y = s[2].Y[:2] }), 3, 16, ErrInvalidShare},
		{"wrong secret length", shares, 3, 21 + 1, ErrInvalidShare},
		{"zero secret length", shares, 3, 0, ErrSecretLength},
		{"secret too long", shares, 3, MaxSecretLen + 1, ErrSecretLength},
	} {
		got, err := Combine(c.shares, c.t, c.len)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: Combine = %x, %v; want error %v", c.name, got, err, c.want)
		}
	}
	// Shares beyond the first t are not examined.
	if got, err := Combine(mod(func(s []Share) { s[4].X = 0 }), 3, 16); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("bad share after the first t: %x, %v", got, err)
	}
	// A corrupted share gives a wrong secret or, when a chunk no longer
	// fits its bytes, ErrInconsistent; never the right secret.
	for i := range 20 {
		bad := mod(func(s []Share) { s[1].Y[i%3] = (s[1].Y[i%3] + uint64(i) + 1) % P })
		got, err := Combine(bad, 3, 16)
		if err == nil && bytes.Equal(got, secret) {
			t.Fatalf("corruption %d: reconstructed the original secret", i)
		}
		if err != nil && !errors.Is(err, ErrInconsistent) {
			t.Fatalf("corruption %d: error %v, want ErrInconsistent", i, err)
		}
	}
	// Reconstructing a 7-byte-chunk secret with a shorter stated length
	// (same number of chunks) is detected as inconsistent here, since the
	// last chunk of this secret has 2 bytes and would have to fit in 1.
	if _, err := Combine(shares, 3, 15); !errors.Is(err, ErrInconsistent) {
		t.Errorf("shorter secret length: error %v, want ErrInconsistent", err)
	}
}

func TestErrorsHideSecrets(t *testing.T) {
	secret := []byte("TOPSECRETSEEDVALUE")
	shares, _ := Split(secret, 2, 3, testRand(4))
	shares[1].Y[0] = P + 5
	_, err := Combine(shares, 2, len(secret))
	if err == nil {
		t.Fatal("no error")
	}
	for _, v := range shares[0].Y {
		if bytes.Contains([]byte(err.Error()), fmt.Append(nil, v)) {
			t.Errorf("error %q contains a share value", err)
		}
	}
}
