package shamir

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestLagrangeManySecrets reconstructs many secrets shared among the same
// parties with one Lagrange, as a secure-aggregation server does.
func TestLagrangeManySecrets(t *testing.T) {
	const tt, n, secrets = 4, 9, 50
	survivors := []int{8, 2, 5, 0} // share indices, any order
	xs := make([]uint32, len(survivors))
	for i, j := range survivors {
		xs[i] = uint32(j + 1)
	}
	l, err := NewLagrange(xs)
	if err != nil {
		t.Fatal(err)
	}
	if l.Threshold() != tt || fmt.Sprint(l.X()) != fmt.Sprint(xs) {
		t.Fatalf("Threshold %d, X %v", l.Threshold(), l.X())
	}
	rng := testRand(5)
	var wg sync.WaitGroup // a Lagrange is safe for concurrent use
	for k := range secrets {
		secret := bytes.Repeat([]byte{byte(k)}, 32)
		shares, err := Split(secret, tt, n, rng)
		if err != nil {
			t.Fatal(err)
		}
		pick := make([]Share, len(survivors))
		for i, j := range survivors {
			pick[i] = shares[j]
		}
		wg.Go(func() {
			got, err := l.Combine(pick, 32)
			if err != nil || !bytes.Equal(got, secret) {
				t.Errorf("secret %d: Combine = %x, %v", k, got, err)
			}
			ys := make([][]uint64, len(pick))
			for i, s := range pick {
				ys[i] = s.Y
			}
			dst := make([]uint64, NumChunks(32))
			if err := l.CombineY(dst, ys); err != nil {
				t.Errorf("secret %d: CombineY: %v", k, err)
			}
			for c := range dst {
				if dst[c] != chunkValue(secret, c) {
					t.Errorf("secret %d: CombineY chunk %d = %#x, want %#x", k, c, dst[c], chunkValue(secret, c))
				}
			}
		})
	}
	wg.Wait()
}

// TestLagrangeCoefficients checks the coefficients for points 1..t: the
// Lagrange basis at 0 sums to 1 (it interpolates the constant 1), and for
// points {1, 2} the coefficients are 2 and -1 (f(0) = 2f(1) - f(2) for a
// line).
func TestLagrangeCoefficients(t *testing.T) {
	l, err := NewLagrange([]uint32{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if l.coef[0] != 2 || l.coef[1] != P-1 {
		t.Errorf("coefficients for {1, 2} = %v, want [2 P-1]", l.coef)
	}
	for _, tt := range []int{2, 3, 10, 200} {
		xs := make([]uint32, tt)
		for i := range xs {
			xs[i] = uint32(3*i + 7)
		}
		l, err := NewLagrange(xs)
		if err != nil {
			t.Fatal(err)
		}
		var s uint64
		for _, c := range l.coef {
			s = add(s, c)
		}
		if s != 1 {
			t.Errorf("t=%d: coefficients sum to %d, want 1", tt, s)
		}
	}
}

func TestLagrangeErrors(t *testing.T) {
	for _, c := range []struct {
		xs   []uint32
		want error
	}{
		{nil, ErrThreshold},
		{[]uint32{1}, ErrThreshold},
		{make([]uint32, MaxParties+1), ErrThreshold},
		{[]uint32{1, 0, 2}, ErrInvalidShare},
		{[]uint32{4, 2, 4}, ErrInvalidShare},
	} {
		if _, err := NewLagrange(c.xs); !errors.Is(err, c.want) {
			t.Errorf("NewLagrange(%d points) error = %v, want %v", len(c.xs), err, c.want)
		}
	}
	l, _ := NewLagrange([]uint32{1, 2, 3})
	shares, _ := Split([]byte("abc"), 3, 3, testRand(1))
	if _, err := l.Combine(shares[:2], 3); !errors.Is(err, ErrTooFewShares) {
		t.Errorf("Combine with 2 of 3 shares: %v", err)
	}
	swapped := []Share{shares[1], shares[0], shares[2]}
	if _, err := l.Combine(swapped, 3); !errors.Is(err, ErrInvalidShare) {
		t.Errorf("Combine with shares out of order: %v", err)
	}
	if err := l.CombineY(make([]uint64, 1), [][]uint64{{1}, {2}}); !errors.Is(err, ErrTooFewShares) {
		t.Errorf("CombineY with 2 of 3 values: %v", err)
	}
	if err := l.CombineY(make([]uint64, 1), [][]uint64{{1}, {2}, {1, 2}}); !errors.Is(err, ErrInvalidShare) {
		t.Errorf("CombineY with a long value: %v", err)
	}
	if err := l.CombineY(make([]uint64, 1), [][]uint64{{1}, {P}, {1}}); !errors.Is(err, ErrInvalidShare) {
		t.Errorf("CombineY with an out-of-field value: %v", err)
	}
}

func TestLagrangeLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large threshold")
	}
	const tt = 1000
	secret := []byte("a 32-byte seed for a big cohort!")
	shares, err := Split(secret, tt, tt+10, testRand(9))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Combine(shares[10:], tt, len(secret))
	if err != nil || !bytes.Equal(got, secret) {
		t.Errorf("t=%d: Combine = %q, %v", tt, got, err)
	}
}
